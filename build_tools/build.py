"""``make build`` and ``make validate``: demisto-sdk's own prepare-content and validate on the content layout."""
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import yaml

from build_tools import BUILD_STAMP, DIST_DIR, INTEGRATION, PACK_ZIP, PROJECT_ROOT, UNIFIED_YML
from build_tools.layout import Layout, build_layout, inputs_fingerprint, pack_version
from build_tools.sdk import VALIDATION_CONFIG, SdkError, SdkRun, echo, run_sdk

LAYOUT_ROOT = PROJECT_ROOT / 'build' / 'content'
ZIPPED_INTEGRATION = f'Integrations/integration-{INTEGRATION}.yml'
REQUIRED_IN_ZIP = ('pack_metadata.json', 'metadata.json', 'README.md', ZIPPED_INTEGRATION)


def _require_success(run: SdkRun, what: str) -> None:
    if run.returncode != 0:
        raise SdkError(f'{what} failed (demisto-sdk exit code {run.returncode}):\n{run.output}')


def unified_problems(unified: dict, version: str) -> list[str]:
    """What is wrong with a unified integration yml (empty when it is what the server needs)."""
    script = str((unified.get('script') or {}).get('script') or '')
    checks = {
        'script.script is empty': bool(script.strip()),
        'the ApiModule was not inlined': "register_module_line('MicrosoftApiModule', 'start'" in script,
        'an ApiModule import is left in the script': not re.search(r'^\s*from \w+ApiModule import', script, re.M),
        f'the pack version {version} is not in the script': f"CONSTANT_PACK_VERSION = '{version}'" in script,
        'image is not an embedded PNG': str(unified.get('image') or '').startswith('data:image/png;base64,'),
        'detaileddescription is empty': bool(str(unified.get('detaileddescription') or '').strip()),
    }
    return [problem for problem, ok in checks.items() if not ok]


def build_dist(layout_root: Path = LAYOUT_ROOT, dist: Path = DIST_DIR) -> list[SdkRun]:
    """Writes ``dist/integration-<Name>.yml`` and ``dist/<Name>.zip`` with demisto-sdk prepare-content.

    Raises SdkError when the SDK fails or its output is not a complete unified integration / pack.
    """
    fingerprint = inputs_fingerprint()
    version = pack_version()
    layout = build_layout(layout_root)
    with tempfile.TemporaryDirectory(prefix='sdk-build-') as scratch:
        unified_path = Path(scratch) / UNIFIED_YML.name
        pack_out = Path(scratch) / 'pack'
        pack_out.mkdir()
        unify = run_sdk(layout.root, ['prepare-content', '-i', layout.relative(layout.integration),
                                      '-o', str(unified_path)])
        echo(unify)
        _require_success(unify, 'prepare-content of the integration')
        pack = run_sdk(layout.root, ['prepare-content', '-i', layout.relative(layout.pack), '-o', str(pack_out)])
        echo(pack)
        _require_success(pack, 'prepare-content of the pack')
        zipped = pack_out / PACK_ZIP.name
        if not unified_path.is_file() or not zipped.is_file():
            raise SdkError(f'prepare-content wrote no {unified_path.name} / {zipped.name}')
        problems = unified_problems(yaml.safe_load(unified_path.read_text(encoding='utf-8')), version)
        problems += zip_problems(zipped, unified_path.read_bytes(), version)
        if problems:
            raise SdkError('the build output is incomplete: ' + '; '.join(problems))
        dist.mkdir(exist_ok=True)
        shutil.copyfile(unified_path, dist / UNIFIED_YML.name)
        shutil.copyfile(zipped, dist / PACK_ZIP.name)
    if inputs_fingerprint() != fingerprint:
        raise SdkError('the project files changed during the build; run it again')
    (dist / BUILD_STAMP.name).write_text(fingerprint + '\n')
    written = ' and '.join(str((dist / path.name).relative_to(PROJECT_ROOT)) for path in (UNIFIED_YML, PACK_ZIP))
    print(f'wrote {written} (unify {unify.seconds:.1f} s, pack {pack.seconds:.1f} s)')
    return [unify, pack]


def zip_problems(zipped: Path, unified: bytes, version: str) -> list[str]:
    """What is missing from the pack zip: its metadata, release notes and the same unified integration."""
    with zipfile.ZipFile(zipped) as archive:
        names = set(archive.namelist())
        problems = [f'{name} is missing from the pack zip' for name in REQUIRED_IN_ZIP if name not in names]
        note = f'ReleaseNotes/{version.replace(".", "_")}.md'
        if note not in names:
            problems.append(f'{note} is missing from the pack zip')
        if ZIPPED_INTEGRATION in names and archive.read(ZIPPED_INTEGRATION) != unified:
            problems.append('the zipped integration differs from the unified yml')
    return problems


def validate_layout(layout_root: Path = LAYOUT_ROOT) -> SdkRun:
    """demisto-sdk validate on the pack with this project's offline selection of checks; SdkError on any error."""
    layout: Layout = build_layout(layout_root)
    run = run_sdk(layout.root, ['validate', '-i', layout.relative(layout.pack), '--config-path', str(VALIDATION_CONFIG),
                                '--no-multiprocessing'], offline_flag=False)
    echo(run)
    _require_success(run, 'demisto-sdk validate')
    print(f'demisto-sdk validate passed ({run.seconds:.1f} s)')
    return run
