"""Secrets: every command under every authentication mode, debug logging on, against the emulator.

Each run is the server's code string (fresh CommonServerPython, so the real masking logger and debug mode's
http.client wire log) over real HTTPS. The scan covers what anyone but the integration itself can see: every entry
and its context, every raw `demisto.debug/info/error` line (on the server only CommonServerPython's LOG masks; debug
lines go out as written), every line LOG let through, an escaped traceback, and every file a command wrote. It looks
for the client secret, the private key, the oproxy token and key, the authorization codes, the password arguments
and every token, Temporary Access Pass and client secret the emulator handed out (recorded from its answers).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from reliability.harness import Outcome, UnifiedRunner, environment, scan
from reliability.report import Row
from reliability.yml_model import commands

MODES = ('client_credentials', 'certificate', 'authorization_code', 'oproxy', 'managed_identity',
         'managed_identity_system')
PASSWORD = 'Reliab1lity-Pass!word'
NEW_PASSWORD = 'Reliab1lity-New!Pass'
ZIP_PASSWORD = 'zip-Reliab1lity-secret'
# Run last: they forget the tokens (auth-reset) or remove the user the other commands work on.
LAST = ('msgraph-user-delete', 'msgraph-user-generate-login-url', 'msgraph-user-auth-reset')


def sweep_args(name: str, target: dict[str, Any], manager: dict[str, Any]) -> dict[str, str]:
    """Arguments that let each command do its work on `target`, with a secret in every secret argument."""
    upn = target['userPrincipalName']
    by_name = {
        'user': upn, 'user_id': target['id'], 'manager': manager['userPrincipalName'], 'user_mail': upn,
        'password': NEW_PASSWORD, 'zip_password': ZIP_PASSWORD, 'limit': '3', 'lifetime_in_minutes': '60',
        'updated_fields': 'jobTitle=Reliability', 'display_name': 'Reliability Probe', 'mail_nickname': 'probe',
        'user_principal_name': f'probe.{int(time.time() * 1000)}@emulator.onmicrosoft.com', 'timeout': '10',
        'properties': 'displayName,jobTitle', 'interval_in_seconds': '1', 'timeout_in_seconds': '60',
        'method_id': '3ddfcfc8-9383-446f-83cc-3ab9be4be18f', 'policy_id': 'tap',
    }
    command = next((command for command in commands() if command.name == name), None)
    arguments = command.arguments if command else ()
    args = {argument.name: by_name[argument.name] for argument in arguments if argument.name in by_name}
    if name == 'msgraph-user-create':
        args['password'] = PASSWORD
    return args


def run(env: Any) -> list[Row]:
    started = time.perf_counter()
    emulator, book = env.emulator, env.book
    for label, value in (('password argument', PASSWORD), ('password argument', NEW_PASSWORD),
                         ('zip password', ZIP_PASSWORD)):
        book.add(label, value)
    info = emulator.info
    runner = UnifiedRunner()
    row = Row('Secrets: every command x every auth mode, debug logging on', data_lost=None)
    names = ['test-module', 'msgraph-user-test'] + [command.name for command in commands()
                                                    if command.name not in (*LAST, 'msgraph-user-test')] + list(LAST)
    network = {'REQUESTS_CA_BUNDLE': emulator.ca_bundle, 'CURL_CA_BUNDLE': emulator.ca_bundle,
               'AZURE_POD_IDENTITY_AUTHORITY_HOST': emulator.imds_url}
    import demistomock

    for mode in MODES:
        emulator.reset()  # the tenant as seeded: destructive commands of the previous mode are undone
        order = emulator.tenant.order
        target, manager = (dict(emulator.tenant.users[order[index]]) for index in (22, 23))
        params = {**info['instance_params'][mode], 'allow_secret_generators': True}
        if mode == 'authorization_code':  # a code of its own: the pre-seeded ones are shared with other scenarios
            params['creds_auth_code'] = {'identifier': '', 'password': emulator.mint_auth_code()}
            book.add('authorization code', params['creds_auth_code']['password'])
        store = demistomock.MemoryContextStore()
        work_dir = Path(env.work_dir) / 'secrets' / mode
        with environment(network):
            for name in names:
                outcomes = [runner.run(name, params, sweep_args(name, target, manager), store, work_dir, debug=True)]
                outcomes += follow_polling(runner, outcomes[-1], params, store, work_dir)
                for outcome in outcomes:
                    judge(row, book, outcome, mode, store)
    self_check(book)
    row.note = (f'{len(MODES)} modes x {len(names)} commands (and polling follow-ups), each in a fresh server-style '
                f'run with debug-mode on; {len(book.secrets)} distinct secrets known to the scan')
    row.seconds = time.perf_counter() - started
    return [row]


def follow_polling(runner: UnifiedRunner, outcome: Outcome, params: dict, store: Any, work_dir: Path) -> list[Outcome]:
    """The scheduled runs of a polling command (the server starts them with the arguments the command chose)."""
    runs = []
    for _ in range(5):
        follow = next((entry for entry in outcome.entries if entry.get('PollingCommand')), None)
        if follow is None:
            break
        outcome = runner.run(follow['PollingCommand'], params, dict(follow.get('PollingArgs') or {}), store, work_dir,
                             debug=True)
        runs.append(outcome)
    return runs


def judge(row: Row, book: Any, outcome: Outcome, mode: str, store: Any) -> None:
    """Count the run; it passes when nothing it shows holds a secret and no exception escaped."""
    context, _ = store.read()
    book.add_from_json(context, ('access_token', 'refresh_token', 'client_secret'), 'stored ')
    findings = scan(book, outcome)
    row.cases += 1
    row.findings.extend(findings)
    if outcome.exception:
        row.fail(f'{mode} {outcome.command}: exception escaped: {outcome.exception.strip().splitlines()[-1][:200]}')
    elif not findings:
        row.passed += 1
    for finding in findings:
        row.fail(f'{mode} {outcome.command}: {finding.label} in {finding.where}')


def self_check(book: Any) -> None:
    """A zero only counts if the scan finds what it looks for: plant one issued token (URL-encoded, as in a form body)
    and one PEM line in a made-up run and expect both back."""
    import urllib.parse

    token = next(value for value, label in book.secrets.items() if label == 'emulator-issued access_token')
    pem_line = next(value for value, label in book.secrets.items() if label.startswith('private key'))
    planted = Outcome(command='self-check', entries=[{'Contents': f'body=a&x={urllib.parse.quote(token, safe="")}'}],
                      raw_logs=[f'key: {pem_line}'])
    labels = {finding.label for finding in scan(book, planted)}
    if labels != {'emulator-issued access_token', 'private key (PEM line)'}:
        raise RuntimeError(f'the secret scan missed planted secrets (found {labels})')
