"""``python -m xsoar_runner``: runs an integration command the way the Cortex XSOAR server does.

See ``xsoar_runner/README.md`` for usage. Importing the package puts ``xsoar_runtime`` (the stand-in
``demistomock`` / ``CommonServerPython``) on ``sys.path``, where the integration code expects to find them.
"""
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DIR = PROJECT_ROOT / 'xsoar_runtime'

if str(RUNTIME_DIR) not in sys.path:
    sys.path.insert(0, str(RUNTIME_DIR))
