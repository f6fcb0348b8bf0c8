"""`python -m bench.import_time [--eager-imports]`: seconds to import the integration in this (fresh) process.

Prints one JSON object `{"import_s": ...}`. `--eager-imports` also imports msal, cryptography and pyzipper, as an
integration importing them at module level would.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from bench.probe import import_eagerly

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench.import_time')
    parser.add_argument('--eager-imports', action='store_true')
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT / 'xsoar_runtime'), str(ROOT / 'MicrosoftApiModule'), str(ROOT)]
    started = time.perf_counter()
    if args.eager_imports:
        import_eagerly()
    import MicrosoftGraphUser  # noqa: F401

    print(json.dumps({'import_s': time.perf_counter() - started}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
