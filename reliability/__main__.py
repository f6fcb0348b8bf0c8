"""`python -m reliability [--only NAME ...] [--hostile-cases N] [--runs N] [--no-write]`

Runs every scenario, prints one table (scenario, cases tried, passed, data lost, secrets leaked) followed by notes and
the first failures, and writes both to reliability/results.md. Exit code 1 when any row has a failed case, lost data
(beyond the loss no client could avoid, which the row explains) or a leaked secret.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.harness import PROJECT_ROOT, environment, loopback_only
from reliability.report import Row, render_details, render_table

SCENARIOS = ('hostile_input', 'secrets', 'faults', 'nothing_lost', 'tls_proxy')
RESULTS = Path(__file__).resolve().parent / 'results.md'


@dataclass
class Env:
    """What scenarios share: options, a scratch folder and (started on first use) one emulator."""

    work_dir: Path
    hostile_cases: int = 10_000
    runs: int = 1_000
    subprocess_runs: int = 20
    _emulator: Any = None
    _book: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def emulator(self) -> Any:
        if self._emulator is None:
            import emulator as emulator_package
            from reliability.harness import record_emulator_secrets
            from reliability.secrets_book import SecretBook

            self._emulator = emulator_package.start(users=2100, state_dir=self.work_dir / 'emulator')
            self._book = SecretBook()
            record_emulator_secrets(self._emulator, self._book)
        return self._emulator

    @property
    def book(self) -> Any:
        """Every secret the emulator has handed out or holds (filled as the scenarios run)."""
        _ = self.emulator
        return self._book

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m reliability', description=__doc__.splitlines()[0])
    parser.add_argument('--only', action='append', choices=SCENARIOS, help='run only these scenarios')
    parser.add_argument('--hostile-cases', type=int, default=10_000, help='hypothesis cases in total (>= 10000 in CI)')
    parser.add_argument('--runs', type=int, default=1_000, help='consecutive authorization-code runs')
    parser.add_argument('--subprocess-runs', type=int, default=20, help='of which real runner processes')
    parser.add_argument('--no-write', action='store_true', help='do not write reliability/results.md')
    options = parser.parse_args(argv)
    started = time.perf_counter()
    rows: list[Row] = []
    # Libraries (msal) log failures the scenarios provoke on purpose; without a handler Python prints them.
    logging.getLogger().addHandler(logging.NullHandler())
    with tempfile.TemporaryDirectory(prefix='reliability-') as scratch, loopback_only(), environment():
        env = Env(Path(scratch), hostile_cases=options.hostile_cases, runs=options.runs,
                  subprocess_runs=options.subprocess_runs)
        # In-process runs write files (fileResult) and hypothesis its caches into the working directory.
        os.chdir(scratch)
        try:
            for name in options.only or SCENARIOS:
                print(f'== {name}', file=sys.stderr, flush=True)
                module = importlib.import_module(f'reliability.scenarios.{name}')
                rows.extend(module.run(env))
        finally:
            env.close()
            os.chdir(PROJECT_ROOT)
    elapsed = time.perf_counter() - started
    table = render_table(rows)
    details = render_details(rows)
    print(table)
    print()
    print(details)
    print(f'\nTotal {elapsed:.0f} s')
    if not options.no_write and not options.only:
        RESULTS.write_text(
            '# Reliability results\n\nWritten by `make reliability` (`python -m reliability`); see README.md for what '
            f'each scenario does.\n\n{table}\n\n{details}\n\nTotal run time {elapsed:.0f} s on '
            f'{platform.python_implementation()} {platform.python_version()}, {platform.machine()}.\n',
            encoding='utf-8')
    return 0 if all(row.ok for row in rows) else 1


if __name__ == '__main__':
    # The import path demisto-sdk sets (pyproject.toml): the project root, the runtime stand-ins, the ApiModule.
    sys.path[:0] = [str(PROJECT_ROOT), str(PROJECT_ROOT / 'xsoar_runtime'), str(PROJECT_ROOT / 'MicrosoftApiModule')]
    sys.exit(main())
