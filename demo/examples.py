"""`make examples`: the README's command examples, produced by running each command against the emulator.

Writes `docs/examples/<command>.md` (the format `make docs` expects, see docs/examples/README.md). The emulator's
loopback address is shown as the worldwide Graph host, so the examples read like a real tenant's.
"""
import json
import sys
import tempfile
from typing import Any

import emulator
from demo.tour import ROOT, Tour

EXAMPLES_DIR = ROOT / 'docs' / 'examples'
MAX_ITEMS = 2  # of a list in the context example
MAX_HR_LINES = 12


def shorten(value: Any) -> Any:
    """The context example with every list cut to MAX_ITEMS items."""
    if isinstance(value, list):
        return [shorten(item) for item in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {key: shorten(item) for key, item in value.items()}
    return value


def context_paths(entry_context: dict) -> dict:
    """The context as the war room shows it: merge selectors dropped, dotted prefixes nested."""
    nested: dict[str, Any] = {}
    for key, value in entry_context.items():
        *parents, leaf = key.split('(', 1)[0].split('.')
        node = nested
        for parent in parents:
            node = node.setdefault(parent, {})
        if leaf not in node:
            node[leaf] = value
        elif isinstance(node[leaf], dict) and isinstance(value, dict):
            node[leaf].update(value)
        else:  # several objects under one path: the war room shows them as one list
            existing = node[leaf] if isinstance(node[leaf], list) else [node[leaf]]
            node[leaf] = existing + (value if isinstance(value, list) else [value])
    return nested


def example_text(command: str, args: dict[str, str], result: dict) -> str:
    entries = [entry for entry in result.get('entries') or [] if entry.get('Type') != 3]
    shown_args = ' '.join(f'{name}="{value}"' if ' ' in value else f'{name}={value}' for name, value in args.items())
    context: dict[str, Any] = {}
    for entry in entries:
        context.update(context_paths(entry.get('EntryContext') or {}))
    readable = '\n'.join(str(entry.get('HumanReadable') or entry.get('Contents') or '') for entry in entries)
    lines = readable.splitlines()
    if len(lines) > MAX_HR_LINES:
        lines = lines[:MAX_HR_LINES] + ['...']
    parts = ['#### Command example', f'```!{command} {shown_args}'.rstrip() + '```']
    if context:
        parts += ['#### Context Example', '```json', json.dumps(shorten(context), indent=4), '```']
    parts += ['#### Human Readable Output', '\n'.join(f'>{line}' for line in lines), '']
    return '\n'.join(parts)


def examples(tour: Tour) -> list[tuple[str, dict[str, str]]]:
    """One realistic invocation per command, in an order where each finds what it needs."""
    registrations = tour.registrations
    samples = registrations['users']['samples']
    admin, ceo = samples['admin']['userPrincipalName'], samples['ceo']['userPrincipalName']
    new_user = f'alex.wilber@{registrations["domain"]}'
    return [
        ('msgraph-user-list', {'limit': '2', 'properties': 'displayName,userPrincipalName,jobTitle'}),
        ('msgraph-user-get', {'user': ceo, 'properties': 'displayName,userPrincipalName,jobTitle,department,mail'}),
        ('msgraph-user-create', {'display_name': 'Alex Wilber', 'mail_nickname': 'alex.wilber',
                                 'user_principal_name': new_user, 'password': Tour.password()}),
        ('msgraph-user-update', {'user': new_user, 'updated_fields': 'jobTitle=SOC Analyst,department=Security'}),
        ('msgraph-user-account-disable', {'user': new_user}),
        ('msgraph-user-account-disable', {'user': f'{new_user},{samples["loner"]["userPrincipalName"]},nobody@'
                                                  f'{registrations["domain"]}', 'revoke_sessions': 'true'}),
        ('msgraph-user-session-revoke', {'user': new_user}),
        ('msgraph-user-unblock', {'user': new_user}),
        ('msgraph-user-force-reset-password', {'user': new_user}),
        ('msgraph-user-change-password', {'user': new_user, 'password': Tour.password()}),
        ('msgraph-user-assign-manager', {'user': new_user, 'manager': ceo}),
        ('msgraph-user-get-manager', {'user': new_user}),
        ('msgraph-direct-reports', {'user': ceo, 'limit': '2'}),
        ('msgraph-user-get-groups', {'user': admin, 'limit': '2'}),
        ('msgraph-user-get-auth-methods', {'user': admin}),
        ('msgraph-user-owned-devices-list', {'user': admin, 'limit': '2'}),
        ('msgraph-user-phone-method-list', {'user': admin}),
        ('msgraph-user-authenticator-method-list', {'user': admin}),
        ('msgraph-user-tap-policy-create', {'user_id': new_user, 'zip_password': Tour.password()}),
        ('msgraph-user-tap-policy-list', {'user_id': new_user}),
        ('msgraph-user-get-delta', {'properties': 'displayName,accountEnabled', 'limit': '2'}),
        ('msgraph-user-delete', {'user': new_user}),
    ]


def main() -> int:
    EXAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    failed = 0
    written: set[str] = set()
    with tempfile.TemporaryDirectory(prefix='msgraph-user-examples-') as work_dir, \
            emulator.start(users=200, state_dir=f'{work_dir}/emulator') as instance:
        tour = Tour(instance, f'{work_dir}/runner')
        params = tour.params['client_credentials']
        for command, args in examples(tour):
            completed, _, _ = tour.invoke('examples', params, command, **args)
            if completed.returncode != 0:
                print(f'{command}: exit {completed.returncode}\n{completed.stdout[-1500:]}{completed.stderr[-1500:]}')
                failed += 1
                continue
            shown = {name: ('<password>' if 'password' in name else value) for name, value in args.items()}
            text = example_text(command, shown, json.loads(completed.stdout))
            text = text.replace(instance.base_url, 'https://graph.microsoft.com')
            # A command shown twice (one user, then a list) gets both examples in its file.
            path = EXAMPLES_DIR / f'{command}.md'
            previous = path.read_text(encoding='utf-8') + '\n' if command in written else ''
            path.write_text(previous + text, encoding='utf-8')
            written.add(command)
            print(f'docs/examples/{command}.md')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
