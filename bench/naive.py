"""`python -m bench.naive --report FILE --params FILE --state-dir DIR --instance NAME SCENARIO ...`: the naive ways.

They run through the integration's own commands and client (same token cache, same retries, same output shaping),
so only the algorithm differs from our way:

* `list [--limit N] [--page-size 100]`: msgraph-user-list with 100 users per page (every user without --limit);
  also the naive way of delta (a full read every time);
* `contain --users FILE`: msgraph-user-account-disable, then msgraph-user-session-revoke, one user per command and
  one request each (FILE holds one user per line).

Like `python -m xsoar_runner --json`, it prints one document with the entries and the merged context (so both ways
pay for the same output). The JSON report holds: the number of commands run and of error entries, the peak resident
memory and the seconds slept (throttling waits).
"""
import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.probe import SleepMeter, peak_memory_kb

ROOT = Path(__file__).resolve().parents[1]


def load_integration(state_dir: Path, instance: str) -> Any:
    """Import the integration with the stand-in runtime, on the instance's integration context (its cached token)."""
    for path in (ROOT / 'xsoar_runtime', ROOT / 'MicrosoftApiModule', ROOT):  # as the tests and the SDK set it
        sys.path.insert(0, str(path))
    import demistomock as demisto

    from xsoar_runner.context_store import FileContextStore

    demisto.set_context_store(FileContextStore(state_dir / instance / 'integration_context.json'))
    import MicrosoftGraphUser

    return MicrosoftGraphUser


def run(integration: Any, command: str, params: dict, args: dict) -> list[dict]:
    """One command through the integration's entry point; its entries."""
    import demistomock as demisto

    demisto.set_invocation(command, args, params)
    try:
        integration.run_command(command, params, args)
    except SystemExit:  # return_error ends a run, as on the server
        pass
    return demisto.collected_results()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench.naive')
    parser.add_argument('--report', required=True)
    parser.add_argument('--params', required=True, help='instance parameters (JSON file)')
    parser.add_argument('--state-dir', required=True)
    parser.add_argument('--instance', required=True)
    parser.add_argument('scenario', choices=('list', 'contain'))
    parser.add_argument('--page-size', type=int, default=100)
    parser.add_argument('--limit', type=int)
    parser.add_argument('--users', help='file with one user per line (contain)')
    args = parser.parse_args(argv)
    params = json.loads(Path(args.params).read_text(encoding='utf-8'))
    integration = load_integration(Path(args.state_dir), args.instance)
    started = time.perf_counter()
    entries: list[dict] = []
    commands = 0
    with SleepMeter() as slept:
        if args.scenario == 'list':
            integration.USERS_PAGE_MAX = args.page_size
            list_args = {'limit': str(args.limit)} if args.limit else {'all_results': 'true'}
            entries = run(integration, 'msgraph-user-list', params, list_args)
            commands = 1
        else:
            for user in Path(args.users).read_text(encoding='utf-8').split():
                for command in ('msgraph-user-account-disable', 'msgraph-user-session-revoke'):
                    entries += run(integration, command, params, {'user': user})
                    commands += 1
    from xsoar_runner.render import merged_context

    errors = sum(entry.get('Type') == 4 for entry in entries)
    print(json.dumps({'entries': entries, 'context': merged_context(entries),
                      'errors': [str(entry.get('Contents')) for entry in entries if entry.get('Type') == 4]}, indent=2))
    sys.stdout.flush()
    report = {'exit_code': 1 if errors else 0, 'commands': commands, 'error_entries': errors,
              'peak_memory_kb': peak_memory_kb(), 'slept_s': slept.seconds,
              'in_process_s': time.perf_counter() - started, 'heavy_modules': []}
    Path(args.report).write_text(json.dumps(report), encoding='utf-8')
    return report['exit_code']


if __name__ == '__main__':
    sys.exit(main())
