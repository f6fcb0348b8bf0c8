"""The content-repository layout demisto-sdk expects, built from this project's flat layout.

demisto-sdk only unifies and validates a package that sits in ``<root>/Packs/<Pack>/Integrations/<Name>/`` inside a
git repository, with the ApiModule it inlines at ``<root>/Packs/ApiModules/Scripts/<Module>/`` and, for the
validator, the approved-lists under ``<root>/Config/`` (docs: xsoar-runtime.md §5 and §6). This project keeps the
files flat at its root, so every build copies them into a throwaway repository of that shape.

Which project file lands where is listed once, in :func:`layout_files`; the build fingerprint
(:func:`inputs_fingerprint`) hashes exactly those files, so a build output can tell whether it is stale.
"""
import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from build_tools import API_MODULE, INTEGRATION, PACK_DIR, PROJECT_ROOT

CONTENT_CONFIG_DIR = Path(__file__).resolve().parent / 'content_config'
API_MODULES_PACK = 'ApiModules'


@dataclass(frozen=True)
class Layout:
    """Paths inside one built content repository."""
    root: Path

    @property
    def pack(self) -> Path:
        return self.root / 'Packs' / INTEGRATION

    @property
    def integration(self) -> Path:
        return self.pack / 'Integrations' / INTEGRATION

    def relative(self, path: Path) -> str:
        """``path`` relative to the repository root, as demisto-sdk wants its ``-i`` argument."""
        return path.relative_to(self.root).as_posix()


def layout_files(project_root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """Destination (relative to the content root) -> project file, for every file copied into the layout.

    Raises FileNotFoundError naming every missing source, so a build never ships a package with a hole in it.
    """
    integration = f'Packs/{INTEGRATION}/Integrations/{INTEGRATION}'
    pack_dir = project_root / PACK_DIR.relative_to(PROJECT_ROOT)
    files = {
        f'{integration}/{INTEGRATION}.py': project_root / f'{INTEGRATION}.py',
        f'{integration}/{INTEGRATION}.yml': project_root / f'{INTEGRATION}.yml',
        f'{integration}/{INTEGRATION}_description.md': project_root / f'{INTEGRATION}_description.md',
        f'{integration}/{INTEGRATION}_image.png': project_root / f'{INTEGRATION}_image.png',
        f'{integration}/README.md': project_root / 'README.md',
        f'Packs/{API_MODULES_PACK}/Scripts/{API_MODULE}/{API_MODULE}.py':
            project_root / API_MODULE / f'{API_MODULE}.py',
    }
    unit_tests = project_root / f'{INTEGRATION}_test.py'
    if unit_tests.is_file():  # content packages carry their unit tests (validate BA124); prepare-content skips them
        files[f'{integration}/{INTEGRATION}_test.py'] = unit_tests
    for name in ('pack_metadata.json', 'README.md', '.pack-ignore', '.secrets-ignore'):
        files[f'Packs/{INTEGRATION}/{name}'] = pack_dir / name
    for note in sorted((pack_dir / 'ReleaseNotes').glob('*')):
        files[f'Packs/{INTEGRATION}/ReleaseNotes/{note.name}'] = note
    for config in sorted(CONTENT_CONFIG_DIR.glob('*.json')):
        files[f'Config/{config.name}'] = config
    missing = sorted(str(source.relative_to(project_root)) for source in files.values() if not source.is_file())
    if missing:
        raise FileNotFoundError(f'cannot build the content layout, missing: {", ".join(missing)}')
    return files


def inputs_fingerprint(project_root: Path = PROJECT_ROOT) -> str:
    """sha256 over the name and bytes of every layout input: equal fingerprints mean an identical build input."""
    digest = hashlib.sha256()
    for destination, source in sorted(layout_files(project_root).items()):
        digest.update(destination.encode() + b'\0' + source.read_bytes() + b'\0')
    return digest.hexdigest()


def pack_version(project_root: Path = PROJECT_ROOT) -> str:
    """``currentVersion`` of the pack metadata (the version the SDK writes into the unified script)."""
    metadata = json.loads((project_root / PACK_DIR.relative_to(PROJECT_ROOT) / 'pack_metadata.json').read_text())
    return str(metadata['currentVersion'])


def api_module_files(docker_image: str) -> dict[str, str]:
    """The ApiModules pack around the module source: its metadata and the module's script yml.

    Only build scaffolding (the module ships inlined in the integration), so it is generated, not kept in the project;
    the docker image follows the integration's so both describe one runtime.
    """
    metadata = {
        'name': API_MODULES_PACK, 'description': 'API Modules', 'support': 'xsoar', 'currentVersion': '1.0.0',
        'author': 'Cortex XSOAR', 'url': 'https://www.paloaltonetworks.com/cortex', 'email': '',
        'created': '2020-01-08T13:16:53Z', 'categories': [], 'tags': [], 'useCases': [], 'keywords': [],
    }
    script = {
        'commonfields': {'id': API_MODULE, 'version': -1}, 'name': API_MODULE, 'script': '', 'type': 'python',
        'subtype': 'python3', 'tags': ['infra', 'server'],
        'comment': 'Common Microsoft code that is inlined into each Microsoft integration when it is deployed.',
        'system': True, 'scripttarget': 0, 'dockerimage': docker_image, 'fromversion': '5.0.0',
        'tests': ['No test'],
    }
    return {
        f'Packs/{API_MODULES_PACK}/pack_metadata.json': json.dumps(metadata, indent=4) + '\n',
        f'Packs/{API_MODULES_PACK}/Scripts/{API_MODULE}/{API_MODULE}.yml': yaml.safe_dump(script, sort_keys=False),
    }


def _git(root: Path, *args: str) -> None:
    # A private identity and no hooks or signing: the layout repository must commit on any machine, CI included.
    subprocess.run(['git', '-c', 'user.name=build_tools', '-c', 'user.email=build_tools@localhost',
                    '-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', '-c', 'init.defaultBranch=master',
                    *args], cwd=root, check=True, capture_output=True, text=True)


def build_layout(root: Path, project_root: Path = PROJECT_ROOT) -> Layout:
    """(Re)creates the content repository at ``root`` from the project and commits it; returns its paths.

    ``root`` is removed first: it is a build output, never edited by hand.
    """
    files = layout_files(project_root)
    docker_image = str(yaml.safe_load((project_root / f'{INTEGRATION}.yml').read_text(encoding='utf-8'))
                       .get('script', {}).get('dockerimage') or '')
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for destination, source in files.items():
        target = root / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    for destination, text in api_module_files(docker_image).items():
        target = root / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding='utf-8')
    _git(root, 'init', '-q')
    _git(root, 'add', '-A')
    _git(root, 'commit', '-q', '-m', 'content layout built from the project')
    return Layout(root)
