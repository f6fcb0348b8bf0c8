"""The benchmark of the performance issue: our way against the naive way, scenario by scenario, in one run.

Starts a 50,000-user emulator, runs every scenario both ways in measured processes (`bench.probe`, `bench.naive`),
prints one table, writes it with the machine it ran on to `bench/results.md`, and returns 1 when a request budget is
missed (the budgets are the issue's; times are reported, never asserted, except the throttling wait of row 6, which
is the client's own sleeping).
"""
import argparse
import datetime
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import emulator

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / 'bench' / 'results.md'
TENANT_USERS = 50_000
LIST_PAGES_BUDGET = 51             # 50,000 users in pages of 999
DELTA_CHANGES = 10
DELTA_CHANGES_BUDGET = 2
CONTAINED_USERS = 200
CONTAIN_BUDGET = 20                # 400 sub-requests in batches of 20
THROTTLED_LIST = 10_000
THROTTLE_PROBABILITY = 0.3
THROTTLE_RETRY_AFTER = 1
THROTTLE_SEED = 20240601
WAIT_TOLERANCE = 0.2               # the total wait may exceed the Retry-After sum by at most 20 %
WARM_SAMPLES = 3                   # short runs are measured this many times; the median is reported
PROCESS_TIMEOUT = 240
USERS_KEY_PREFIX = 'MSGraphUser(val.ID'
BULK_KEY_PREFIX = 'MSGraphUser.BulkResult('
# Variables that would send the child's requests elsewhere or make it trust another CA; replaced by the emulator's.
SCRUBBED_ENV = ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'XSOAR_PARAMS', 'PYTHONPATH',
                'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy',
                'AZURE_POD_IDENTITY_AUTHORITY_HOST', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT')


@dataclass
class Measurement:
    """One measured process: what the emulator received during it and what the process reported about itself."""
    exit_code: int
    requests: int               # HTTP requests received (a $batch counts once, as it is one round trip)
    token_requests: int
    throttled: int              # of them answered 429
    wall_s: float               # from process start to exit, seen from outside
    peak_memory_kb: int
    slept_s: float              # the client's throttling waits
    heavy_modules: list[str] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)  # the --json document: entries and context
    stats: dict[str, Any] = field(default_factory=dict)     # what the process reported about itself

    def context_items(self, key_prefix: str) -> list[dict]:
        """The objects the commands wrote under the EntryContext key starting with `key_prefix`."""
        found: list[dict] = []
        for entry in self.document.get('entries') or []:
            for key, value in (entry.get('EntryContext') or {}).items():
                if key.startswith(key_prefix):
                    found += value if isinstance(value, list) else [value]
        return found


@dataclass
class Row:
    number: str
    scenario: str
    ours: Measurement | None
    naive: Measurement | None
    budget: str
    met: bool
    cells: dict[str, str] = field(default_factory=dict)  # overrides of the computed cells (the import-time row)

    @property
    def passed(self) -> bool:
        """The budget held, and the naive way ran without an error (else its numbers would compare nothing)."""
        return self.met and (self.naive is None or self.naive.exit_code == 0)


def child_env(instance: emulator.Emulator) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED_ENV}
    env.update({'REQUESTS_CA_BUNDLE': instance.ca_bundle, 'CURL_CA_BUNDLE': instance.ca_bundle,
                'NO_PROXY': '127.0.0.1,localhost,::1', 'no_proxy': '127.0.0.1,localhost,::1', 'PYTHONPATH': str(ROOT),
                'PYTHONDONTWRITEBYTECODE': '1'})
    return env


def median_of(samples: list[Measurement]) -> Measurement:
    """One measurement standing for several runs of the same thing: the most requests of any run (budgets must hold
    for each), the median time and the largest memory."""
    chosen = sorted(samples, key=lambda sample: sample.wall_s)[len(samples) // 2]
    chosen.requests = max(sample.requests for sample in samples)
    chosen.token_requests = max(sample.token_requests for sample in samples)
    chosen.exit_code = max(sample.exit_code for sample in samples)
    chosen.peak_memory_kb = max(sample.peak_memory_kb for sample in samples)
    chosen.heavy_modules = sorted({name for sample in samples for name in sample.heavy_modules})
    return chosen


class Bench:
    """Runs the scenarios against one emulator; every process gets a fresh report file under `work`."""

    def __init__(self, instance: emulator.Emulator, work: Path) -> None:
        self.emulator = instance
        self.work = work
        self.state_dir = work / 'runner_state'
        self.params_file = work / 'params.json'
        self.params_file.write_text(json.dumps(instance.info['instance_params']['client_credentials']))
        self.env = child_env(instance)
        self.samples = instance.registrations['users']['samples']
        self.counter = itertools.count(1)

    # ----- measuring one process -----

    def measure(self, argv: list[str], report: Path) -> Measurement:
        """Run one process (its --json document to a file), then read what it reported and what the emulator saw."""
        seen = self.emulator.requests()
        since = seen[-1]['seq'] if seen else 0
        output = report.with_suffix('.out')
        started = time.perf_counter()
        with open(output, 'w', encoding='utf-8') as out:
            completed = subprocess.run(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.PIPE, text=True,
                                       timeout=PROCESS_TIMEOUT, check=False)
        wall = time.perf_counter() - started
        log = self.emulator.requests(since=since)
        stats = json.loads(report.read_text(encoding='utf-8')) if report.exists() else {}
        if not stats:
            print(f'!! {" ".join(argv[3:8])}... wrote no report (exit {completed.returncode}):\n'
                  f'{completed.stderr[-2000:]}', file=sys.stderr)
        try:
            document = json.loads(output.read_text(encoding='utf-8'))
        except ValueError:
            document = {}
        output.unlink(missing_ok=True)
        return Measurement(
            exit_code=int(stats.get('exit_code', completed.returncode or 1)), requests=len(log),
            token_requests=sum(entry['path'].endswith('/oauth2/v2.0/token') for entry in log),
            throttled=sum(entry['status'] == 429 for entry in log), wall_s=wall,
            peak_memory_kb=int(stats.get('peak_memory_kb', 0)), slept_s=float(stats.get('slept_s', 0.0)),
            heavy_modules=list(stats.get('heavy_modules', [])), document=document, stats=stats)

    def ours(self, instance: str, command: str, *, eager_imports: bool = False, **args: str) -> Measurement:
        """`command` through the runner (as the server runs it), measured by bench.probe."""
        report = self.work / f'run{next(self.counter)}.json'
        argv = [sys.executable, '-m', 'bench.probe', '--report', str(report)]
        argv += ['--eager-imports'] if eager_imports else []
        argv += ['--', '--json', '--state-dir', str(self.state_dir), '--instance', instance, '--params',
                 str(self.params_file), command, *(f'{name}={value}' for name, value in args.items())]
        return self.measure(argv, report)

    def naive(self, instance: str, scenario: str, *extra: str) -> Measurement:
        """The naive way of `scenario` (bench.naive) on the same instance."""
        report = self.work / f'run{next(self.counter)}.json'
        argv = [sys.executable, '-m', 'bench.naive', '--report', str(report), '--params', str(self.params_file),
                '--state-dir', str(self.state_dir), '--instance', instance, scenario, *extra]
        return self.measure(argv, report)

    def repeated(self, run: Callable[[], Measurement]) -> Measurement:
        return median_of([run() for _ in range(WARM_SAMPLES)])

    def import_seconds(self, eager_imports: bool) -> float:
        times = []
        for _ in range(WARM_SAMPLES):
            argv = [sys.executable, '-m', 'bench.import_time', *(['--eager-imports'] if eager_imports else [])]
            completed = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, check=True,
                                       timeout=PROCESS_TIMEOUT)
            times.append(float(json.loads(completed.stdout)['import_s']))
        return statistics.median(times)

    def user_ids(self, start: int, count: int) -> list[str]:
        """Ids of ordinary users (the first ones are the emulator's samples with special traits)."""
        with self.emulator.lock:
            return [user['id'] for user in itertools.islice(self.emulator.tenant.iter_users(), start, start + count)]

    # ----- the scenarios (rows of the table) -----

    def warm_command(self) -> list[Row]:
        self.ours('bench', 'msgraph-user-test')  # the instance gets its token; not measured
        target = self.samples['ceo']['userPrincipalName']
        ours = self.repeated(lambda: self.ours('bench', 'msgraph-user-get', user=target, properties='displayName'))
        naive = self.repeated(lambda: self.ours('bench', 'msgraph-user-get', eager_imports=True, user=target,
                                                properties='displayName'))
        import_ours, import_naive = self.import_seconds(False), self.import_seconds(True)
        return [
            Row('1', 'One warm command, process start included (naive: msal, cryptography, pyzipper imported '
                'eagerly)', ours, naive, '1 request, 0 token requests, none of msal/cryptography/pyzipper imported',
                ours.exit_code == 0 and ours.requests == 1 and ours.token_requests == 0 and not ours.heavy_modules),
            Row('1b', 'Import time of the integration (naive: with msal, cryptography, pyzipper)', None, None,
                'reported', True, cells={
                    'wall': f'{import_ours:.3f} / {import_naive:.3f}',
                    'ratio': f'time ×{import_naive / import_ours:.1f}' if import_ours else '–'}),
        ]

    def cold_command(self) -> list[Row]:
        # A token of 2 s is kept for 1 s: the next run finds it stale, as a run an hour later would. Each sample has
        # its own instance; the naive ones are new instances, which keep no discovery metadata yet.
        instances = [f'cold{number}' for number in range(WARM_SAMPLES)]
        self.emulator.configure(token_lifetime=2)
        for instance in instances:
            self.ours(instance, 'msgraph-user-test')  # discovery + token + call, not measured
        self.emulator.configure(token_lifetime=3599)
        time.sleep(1.5)
        target = self.samples['ceo']['userPrincipalName']
        ours = median_of([self.ours(instance, 'msgraph-user-get', user=target, properties='displayName')
                          for instance in instances])
        naive = median_of([self.ours(f'{instance}-naive', 'msgraph-user-get', user=target, properties='displayName')
                           for instance in instances])
        return [Row('2', 'One cold command (naive: no discovery metadata kept between runs)', ours, naive,
                    '2 requests: 1 token request + the call',
                    ours.exit_code == 0 and ours.requests == 2 and ours.token_requests == 1)]

    def list_all(self) -> list[Row]:
        ours = self.ours('bench', 'msgraph-user-list', all_results='true')
        naive = self.naive('bench', 'list')
        users = len(ours.context_items(USERS_KEY_PREFIX))
        return [Row('3', f'List all {TENANT_USERS:,} users (naive: 100 per page)', ours, naive,
                    f'≤ {LIST_PAGES_BUDGET} requests, {TENANT_USERS:,} users listed',
                    ours.exit_code == 0 and ours.requests <= LIST_PAGES_BUDGET and users == TENANT_USERS)]

    def delta(self) -> list[Row]:
        properties = 'displayName,jobTitle'
        full = self.ours('bench', 'msgraph-user-get-delta', properties=properties)
        naive_full = self.naive('bench', 'list')
        changed = self.user_ids(300, DELTA_CHANGES)
        for number, user_id in enumerate(changed):
            self.emulator.update_user(user_id, jobTitle=f'Bench change {number}')
        changes = self.ours('bench', 'msgraph-user-get-delta', properties=properties)
        naive_changes = self.naive('bench', 'list')
        seen = {user.get('ID'): user.get('JobTitle') for user in changes.context_items(USERS_KEY_PREFIX)}
        expected = {user_id: f'Bench change {number}' for number, user_id in enumerate(changed)}
        return [
            Row('4a', 'Delta: the first, full sync (naive: a full read, 100 per page)', full, naive_full,
                f'{TENANT_USERS:,} users read',
                full.exit_code == 0 and len(full.context_items(USERS_KEY_PREFIX)) == TENANT_USERS),
            Row('4b', f'Delta: {DELTA_CHANGES} changes after the full sync (naive: a full read again)', changes,
                naive_changes, f'≤ {DELTA_CHANGES_BUDGET} requests, exactly the {DELTA_CHANGES} changes',
                changes.exit_code == 0 and changes.requests <= DELTA_CHANGES_BUDGET and seen == expected),
        ]

    def contain(self) -> list[Row]:
        users = self.user_ids(1000, CONTAINED_USERS)
        ours = self.ours('bench', 'msgraph-user-account-disable', user=','.join(users), revoke_sessions='true')
        results = ours.context_items(BULK_KEY_PREFIX)
        disabled = all((self.emulator.user(user_id) or {}).get('accountEnabled') is False for user_id in users)
        users_file = self.work / 'contained_users.txt'
        users_file.write_text('\n'.join(users), encoding='utf-8')
        naive = self.naive('bench', 'contain', '--users', str(users_file))
        return [Row('5', f'Disable + revoke sessions of {CONTAINED_USERS} users (naive: 2 commands per user)', ours,
                    naive, f'≤ {CONTAIN_BUDGET} requests, every user disabled and revoked',
                    ours.exit_code == 0 and ours.requests <= CONTAIN_BUDGET and disabled
                    and len(results) == CONTAINED_USERS and all(row.get('Success') for row in results))]

    def throttled_list(self) -> list[Row]:
        self.emulator.add_fault('status', route='/v1.0/users', method='GET', status=429,
                                retry_after=THROTTLE_RETRY_AFTER, probability=THROTTLE_PROBABILITY,
                                seed=THROTTLE_SEED, count=None)
        try:
            ours = self.ours('bench', 'msgraph-user-list', limit=str(THROTTLED_LIST))
            naive = self.naive('bench', 'list', '--limit', str(THROTTLED_LIST))
        finally:
            self.emulator.clear_faults()
        retry_after_sum = ours.throttled * THROTTLE_RETRY_AFTER
        users = len(ours.context_items(USERS_KEY_PREFIX))
        wait_ok = retry_after_sum > 0 and retry_after_sum <= ours.slept_s <= retry_after_sum * (1 + WAIT_TOLERANCE)
        return [Row('6', f'List {THROTTLED_LIST:,} users, {THROTTLE_PROBABILITY:.0%} of requests answered 429 '
                    f'(Retry-After {THROTTLE_RETRY_AFTER} s)', ours, naive,
                    f'no error; waited {ours.slept_s:.1f} s for a Retry-After sum of {retry_after_sum} s '
                    f'({ours.throttled} × 429; naive waited {naive.slept_s:.1f} s for {naive.throttled} × 429)',
                    ours.exit_code == 0 and users == THROTTLED_LIST and wait_ok)]

    def run_all(self) -> list[Row]:
        rows: list[Row] = []
        for scenario in (self.warm_command, self.cold_command, self.list_all, self.delta, self.contain,
                         self.throttled_list):
            started = time.perf_counter()
            rows += scenario()
            print(f'  {scenario.__name__}: {time.perf_counter() - started:.1f} s', file=sys.stderr)
        return rows


# ---------------------------------------------------------------------------------------------------------------
# The table and the machine
# ---------------------------------------------------------------------------------------------------------------

HEADERS = ['#', 'Scenario', 'HTTP requests (ours / naive)', 'Token requests (ours / naive)',
           'Wall time s (ours / naive)', 'Peak memory MiB (ours / naive)', 'Ratio naive ÷ ours', 'Budget', 'Met']


def ratio(naive: float, ours: float) -> str:
    return f'×{naive / ours:.1f}' if ours else '–'


def cells(row: Row) -> list[str]:
    ours, naive = row.ours, row.naive
    values = {'requests': '–', 'tokens': '–', 'wall': '–', 'memory': '–', 'ratio': '–'}
    if ours and naive:
        values = {
            'requests': f'{ours.requests} / {naive.requests}',
            'tokens': f'{ours.token_requests} / {naive.token_requests}',
            'wall': f'{ours.wall_s:.2f} / {naive.wall_s:.2f}',
            'memory': f'{ours.peak_memory_kb / 1024:.0f} / {naive.peak_memory_kb / 1024:.0f}',
            'ratio': f'requests {ratio(naive.requests, ours.requests)}, time {ratio(naive.wall_s, ours.wall_s)}',
        }
    values.update(row.cells)
    return [row.number, row.scenario, values['requests'], values['tokens'], values['wall'], values['memory'],
            values['ratio'], row.budget, 'yes' if row.passed else '**NO**']


def markdown_table(rows: list[Row]) -> str:
    lines = ['| ' + ' | '.join(HEADERS) + ' |', '|' + '|'.join('---' for _ in HEADERS) + '|']
    lines += ['| ' + ' | '.join(cell.replace('|', '\\|') for cell in cells(row)) + ' |' for row in rows]
    return '\n'.join(lines)


def cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text(encoding='utf-8').splitlines():
            if line.lower().startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown'


def machine() -> dict[str, str]:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return {'Date (UTC)': datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M'),
            'nproc': str(nproc), 'CPU': cpu_model(), 'Python': platform.python_version(),
            'OS': f'{platform.system()} {platform.release()}'}


def results_markdown(rows: list[Row], seconds: float) -> str:
    facts = '\n'.join(f'* {key}: {value}' for key, value in machine().items())
    missed = [row.number for row in rows if not row.passed]
    verdict = f'Budgets missed: rows {", ".join(missed)}.' if missed else 'Every budget was met.'
    return (f'# Benchmark: `make bench`\n\n'
            f'Our way against the naive way, measured in the same run against the emulator ({TENANT_USERS:,} users). '
            f'Every command is its own process (start included); HTTP requests are counted by the emulator (a $batch '
            f'is one request), peak memory is the process\'s maximum resident set size. Times are on loopback, where a '
            f'round trip costs about a millisecond; against Microsoft Graph each request saved is worth tens to '
            f'hundreds of milliseconds, and each one is also counted against the tenant\'s throttling limits.\n\n'
            f'{facts}\n* Whole run: {seconds:.0f} s\n\n{markdown_table(rows)}\n\n{verdict}\n')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench', description=__doc__)
    parser.add_argument('--output', default=str(RESULTS_PATH), help='where to write the results (markdown)')
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='bench-') as work:
        print(f'Starting the emulator with {TENANT_USERS:,} users...', file=sys.stderr)
        instance = emulator.start(users=TENANT_USERS, state_dir=str(Path(work) / 'emulator'))
        try:
            rows = Bench(instance, Path(work)).run_all()
        finally:
            instance.stop()
    text = results_markdown(rows, time.perf_counter() - started)
    print(text)
    Path(args.output).write_text(text, encoding='utf-8')
    return 0 if all(row.passed for row in rows) else 1
