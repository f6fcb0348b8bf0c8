"""`python -m bench.probe --report FILE [--eager-imports] -- <xsoar_runner arguments>`: one measured runner process.

Runs the runner's `main()` in this process, exactly as `python -m xsoar_runner` would (its output goes to stdout), then
writes a JSON report to FILE: the runner's exit code, which of msal / cryptography / pyzipper were imported, the peak
resident memory of the process, and the seconds spent in `time.sleep` (the client's throttling waits).

`--eager-imports` imports msal, cryptography and pyzipper first, as an integration importing them at module level
would: the naive way of a warm command.
"""
import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any, SupportsIndex

HEAVY_MODULES = ('msal', 'cryptography', 'pyzipper')


def heavy_modules_loaded() -> list[str]:
    """The heavy packages present in sys.modules."""
    return sorted({name.split('.', 1)[0] for name in sys.modules} & set(HEAVY_MODULES))


def peak_memory_kb() -> int:
    """Peak resident set size of this process in KiB.

    Linux's VmHWM belongs to the memory of this program only; ru_maxrss would carry over the peak of the parent that
    forked it (the benchmark, which holds the 50,000-user emulator), so it is only the fallback elsewhere.
    """
    try:
        for line in Path('/proc/self/status').read_text(encoding='utf-8').splitlines():
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def import_eagerly() -> None:
    """What an integration importing its optional dependencies at module level pays on every run."""
    import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401
    import cryptography.hazmat.primitives.serialization  # noqa: F401
    import msal  # noqa: F401
    import pyzipper  # noqa: F401


class SleepMeter:
    """Replaces time.sleep with a version that adds up what it was asked to wait (and still waits)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._sleep = time.sleep

    def __enter__(self) -> 'SleepMeter':
        time.sleep = self.sleep
        return self

    def __exit__(self, *exc: Any) -> None:
        time.sleep = self._sleep

    def sleep(self, seconds: float | SupportsIndex) -> None:
        self.seconds += max(0.0, float(seconds))
        self._sleep(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench.probe')
    parser.add_argument('--report', required=True, help='where to write the JSON report')
    parser.add_argument('--eager-imports', action='store_true', help='import msal, cryptography, pyzipper first')
    parser.add_argument('runner_args', nargs=argparse.REMAINDER, help='-- then the xsoar_runner arguments')
    args = parser.parse_args(argv)
    runner_args = args.runner_args[1:] if args.runner_args[:1] == ['--'] else args.runner_args
    started = time.perf_counter()
    if args.eager_imports:
        import_eagerly()
    from xsoar_runner.cli import main as runner_main

    with SleepMeter() as slept:
        try:
            exit_code = runner_main(runner_args)
        except SystemExit as stop:  # the runner's usage errors
            exit_code = stop.code if isinstance(stop.code, int) else 2
    sys.stdout.flush()
    report = {'exit_code': exit_code, 'heavy_modules': heavy_modules_loaded(), 'peak_memory_kb': peak_memory_kb(),
              'slept_s': slept.seconds, 'in_process_s': time.perf_counter() - started}
    Path(args.report).write_text(json.dumps(report), encoding='utf-8')
    return exit_code


if __name__ == '__main__':
    sys.exit(main())
