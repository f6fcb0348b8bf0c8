"""Builds the integration's unified script the way demisto-sdk ``prepare-content`` (``unify``) does.

Steps, in the SDK's order:

1. every ``from <Name>ApiModule import *`` (optionally followed by exactly ``  # noqa: E402``) is replaced by the
   module's source between the generated-code markers, with ``register_module_line`` calls; ApiModule imports inside
   an inlined module are expanded the same way;
2. the ``import demistomock as demisto``, ``from CommonServerPython import *``, ``from CommonServerUserPython
   import *`` and ``from __future__ import print_function`` statements are removed (their lines stay, empty);
3. the code is wrapped in ``register_module_line('<yml name>', 'start'/'end', __line__())``, with the optional
   pack-version lines right after the start marker.

ApiModule sources are looked up at ``<root>/<Name>/<Name>.py`` (this project's layout), then at
``<root>/Packs/ApiModules/Scripts/<Name>/<Name>.py`` (the content-repository layout the SDK uses).
"""
import re
from pathlib import Path

API_MODULE_IMPORT = re.compile(r'from ([\w\d]+ApiModule) import \*(?:  # noqa: E402)?')
RUNTIME_IMPORTS = (
    re.compile(r'import demistomock as demisto[ \t]*(#.*)?'),
    re.compile(r'from CommonServerPython import \*[ \t]*(#.*)?'),
    re.compile(r'from CommonServerUserPython import \*[ \t]*(#.*)?'),
    re.compile(r'from __future__ import print_function[ \t]*(#.*)?'),
)
_YML_NAME = re.compile(r'^name:[ \t]*(.+?)[ \t]*$', re.MULTILINE)


def api_module_path(project_root: Path, module_name: str) -> Path:
    """Where the source of ``module_name`` lives; ValueError (the SDK's message) when it is nowhere."""
    candidates = (
        project_root / module_name / f'{module_name}.py',
        project_root / 'Packs' / 'ApiModules' / 'Scripts' / module_name / f'{module_name}.py',
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ValueError(f'Could not retrieve the module [{module_name}] code: none of '
                     f'{", ".join(str(c) for c in candidates)} exists')


def inline_api_modules(code: str, project_root: Path, _inlining: tuple[str, ...] = ()) -> str:
    """``code`` with every ApiModule star import replaced by the generated block holding the module's source."""
    imports = {match.group(): match.group(1) for match in API_MODULE_IMPORT.finditer(code)}
    for statement, module_name in imports.items():
        if module_name in _inlining:
            raise ValueError(f'ApiModule import cycle: {" -> ".join(_inlining + (module_name,))}')
        module_code = api_module_path(project_root, module_name).read_text(encoding='utf-8')
        module_code = inline_api_modules(module_code, project_root, _inlining + (module_name,))
        # wrapper: how many generated lines precede (-) or follow (+) the marker, for traceback line mapping
        block = (f'\n### GENERATED CODE ###: {statement}\n'
                 '# This code was inserted in place of an API module.\n'
                 f"register_module_line('{module_name}', 'start', __line__(), wrapper=-3)\n"
                 f'{module_code}\n'
                 f"register_module_line('{module_name}', 'end', __line__(), wrapper=1)\n"
                 '### END GENERATED CODE ###')
        code = code.replace(statement, block)
    return code


def clean_python_code(code: str) -> str:
    """Removes the statements that import what the server already provides."""
    for pattern in RUNTIME_IMPORTS:
        code = pattern.sub('', code)
    return code


def integration_yml_name(project_root: Path, integration: str) -> str:
    """The top-level ``name`` of ``<integration>.yml``, or ``integration`` when there is no yml (yet)."""
    yml = project_root / f'{integration}.yml'
    if yml.is_file():
        match = _YML_NAME.search(yml.read_text(encoding='utf-8'))
        if match:
            return match.group(1).strip('\'"')
    return integration


def unify_integration(project_root: str | Path, integration: str = 'MicrosoftGraphUser',
                      pack_version: tuple[str, str] | None = None) -> str:
    """The unified script of ``<project_root>/<integration>.py``: what ``script.script`` of the unified yml holds.

    ``pack_version`` = ``(pack id, version)`` adds the SDK's ``CONSTANT_PACK_VERSION`` lines (the SDK does so when
    the package sits in a ``Packs/<pack>`` folder with a ``pack_metadata.json``).
    Raises ValueError when an imported ApiModule cannot be found.
    """
    root = Path(project_root)
    code = (root / f'{integration}.py').read_text(encoding='utf-8')
    code = clean_python_code(inline_api_modules(code, root))
    name = integration_yml_name(root, integration)
    header = ''
    if pack_version:
        pack_id, version = pack_version
        header = (f"CONSTANT_PACK_VERSION = '{version}'\n"
                  f"demisto.debug('pack id = {pack_id}, pack version = {version}')\n")
    return (f"register_module_line('{name}', 'start', __line__())\n"
            f'{header}{code}\n'
            f"register_module_line('{name}', 'end', __line__())\n")
