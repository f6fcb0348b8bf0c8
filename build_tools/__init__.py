"""Build tooling: the content-repository layout, demisto-sdk runs (build, validate) and the README generator.

``python -m build_tools --help`` lists the steps; the Makefile targets ``build``, ``validate`` and ``docs`` call
them. Only :mod:`build_tools.readme` and :mod:`build_tools.layout` are imported by the test suite, so they use the
standard library and PyYAML only; demisto-sdk itself lives in the separate ``.venv-build`` environment and is only
ever started as a subprocess (:mod:`build_tools.sdk`).
"""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = 'MicrosoftGraphUser'
API_MODULE = 'MicrosoftApiModule'
PACK_DIR = PROJECT_ROOT / 'pack'
DIST_DIR = PROJECT_ROOT / 'dist'
UNIFIED_YML = DIST_DIR / f'integration-{INTEGRATION}.yml'
PACK_ZIP = DIST_DIR / f'{INTEGRATION}.zip'
# Fingerprint of the inputs dist/ was built from: lets tests tell a fresh build from a stale one.
BUILD_STAMP = DIST_DIR / 'build-inputs.sha256'
