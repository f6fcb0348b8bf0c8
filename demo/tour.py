"""The steps of `make demo`: each command runs in its own process through `python -m xsoar_runner`."""
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests

from emulator import Emulator
from xsoar_runner.render import render_entry

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 14  # of each entry shown; the demo is a tour, not a dump


class Tour:
    """Runs commands against one emulator, one runner process each, and prints what a war room would show."""

    def __init__(self, instance: Emulator, state_dir: str) -> None:
        self.emulator = instance
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.params = instance.info['instance_params']
        self.registrations = instance.registrations
        self.passed = 0
        self.failed = 0

    # ----- running one command -----

    def env(self) -> dict[str, str]:
        """The process environment of a runner: trust the emulator's CA, reach IMDS on loopback."""
        env = {key: value for key, value in os.environ.items()
               if key not in ('IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'IMDS_ENDPOINT', 'MSI_ENDPOINT', 'MSI_SECRET')}
        env.update({'REQUESTS_CA_BUNDLE': self.emulator.ca_bundle, 'CURL_CA_BUNDLE': self.emulator.ca_bundle,
                    'AZURE_POD_IDENTITY_AUTHORITY_HOST': self.emulator.imds_url, 'PYTHONPATH': str(ROOT)})
        return env

    def invoke(self, instance: str, params: dict, command: str,
               **args: str) -> tuple[subprocess.CompletedProcess, int, float]:
        """Run `!command args` on `instance` in a new runner process (`--json`).

        Returns the finished process, the number of HTTP requests the emulator saw and the wall time.
        """
        params_file = self.state_dir / f'{instance}.params.json'
        params_file.write_text(json.dumps(params))
        since = max((entry['seq'] for entry in self.emulator.requests()), default=0)
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, '-m', 'xsoar_runner', '--json', '--instance', instance, '--state-dir',
             str(self.state_dir), '--params', str(params_file), command, *(f'{k}={v}' for k, v in args.items())],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=120)
        return completed, len(self.emulator.requests(since=since)), time.monotonic() - started

    def run(self, instance: str, params: dict, command: str, expect_error: bool = False,
            **args: str) -> dict[str, Any]:
        """Run `!command args` on `instance` in a new process; print its entries; return the runner's JSON.

        `expect_error`: the command is meant to answer with an error entry (the runner then exits 1).
        """
        shown_args = ' '.join(f'{name}="{value}"' if ' ' in value else f'{name}={value}'
                              for name, value in args.items() if 'password' not in name)
        completed, sent, elapsed = self.invoke(instance, params, command, **args)
        counts = f'[{sent} HTTP request{"s" * (sent != 1)}, {elapsed:.1f} s]'
        print(f'\n$ !{command} {shown_args}'.rstrip() + f'    {counts}')
        try:
            result = json.loads(completed.stdout)
        except json.JSONDecodeError:
            print(f'  runner failed (exit {completed.returncode}):\n{completed.stderr[-2000:]}')
            self.failed += 1
            return {}
        for index, entry in enumerate(result.get('entries') or [], 1):
            lines = render_entry(index, entry, Path(result.get('files_dir') or self.state_dir)).splitlines()
            more = len(lines) - MAX_LINES
            print('  ' + '\n  '.join(lines[:MAX_LINES]) + (f'\n  ... ({more} more lines)' if more > 0 else ''))
        ok = completed.returncode == (1 if expect_error else 0)
        self.passed += ok
        self.failed += not ok
        if expect_error and ok:
            print('  (an error entry, as expected)')
        elif not ok:
            print(f'  !! unexpected exit code {completed.returncode}')
        return result

    def section(self, title: str) -> None:
        print(f'\n{"=" * 100}\n{title}\n{"=" * 100}')

    # ----- the tour -----

    def client_credentials_tour(self) -> None:
        samples = self.registrations['users']['samples']
        ceo = samples['ceo']['userPrincipalName']
        domain = self.registrations['domain']
        new_user = f'demo.analyst@{domain}'
        params = self.params['client_credentials']
        self.section('Self-deployed app, client credentials (client secret): a tour of the commands')
        self.run('cc', params, 'test-module')
        self.run('cc', params, 'msgraph-user-list', limit='5', properties='displayName,userPrincipalName,jobTitle')
        self.run('cc', params, 'msgraph-user-get', user=ceo, properties='displayName,jobTitle,department,mail')
        self.run('cc', params, 'msgraph-user-create', display_name='Demo Analyst', mail_nickname='demo.analyst',
                 user_principal_name=new_user, password=self.password())
        self.run('cc', params, 'msgraph-user-update', user=new_user,
                 updated_fields='jobTitle=SOC Analyst,department=Security Operations,accountEnabled=true')
        self.run('cc', params, 'msgraph-user-account-disable', user=new_user)
        self.run('cc', params, 'msgraph-user-session-revoke', user=new_user)
        self.run('cc', params, 'msgraph-user-unblock', user=new_user)
        self.run('cc', params, 'msgraph-user-change-password', user=new_user, password=self.password())
        self.run('cc', params, 'msgraph-user-assign-manager', user=new_user, manager=ceo)
        self.run('cc', params, 'msgraph-user-get-manager', user=new_user)
        self.run('cc', params, 'msgraph-direct-reports', user=ceo, limit='5')
        self.run('cc', params, 'msgraph-user-tap-policy-create', user_id=new_user, zip_password=self.password(),
                 lifetime_in_minutes='60')
        self.run('cc', params, 'msgraph-user-get', user='nobody.here@' + domain)
        # Containment of several accounts at once: one $batch request disables and revokes them all.
        several = ','.join(samples[name]['userPrincipalName'] for name in ('loner', 'hybrid', 'apostrophe'))
        self.run('cc', params, 'msgraph-user-account-disable', user=several, revoke_sessions='true')

    def other_modes(self) -> None:
        user = self.registrations['users']['samples']['admin']['userPrincipalName']
        for title, instance, mode in (('Self-deployed app, certificate (JWT client assertion)', 'cert', 'certificate'),
                                      ('Cortex XSOAR app (oproxy)', 'oproxy', 'oproxy'),
                                      ('Azure managed identity, system assigned', 'mi-system',
                                       'managed_identity_system'),
                                      ('Azure managed identity, user assigned', 'mi-user', 'managed_identity')):
            self.section(title)
            self.run(instance, self.params[mode], 'test-module')
            self.run(instance, self.params[mode], 'msgraph-user-get', user=user, properties='displayName,jobTitle')
        self.authorization_code()

    def authorization_code(self) -> None:
        """Generate the login URL, sign in (the emulator signs the admin in without a prompt), paste the code."""
        self.section('Self-deployed app, authorization code (delegated; what msgraph-user-change-password needs)')
        params = {key: value for key, value in self.params['authorization_code'].items() if key != 'creds_auth_code'}
        result = self.run('auth-code', params, 'msgraph-user-generate-login-url')
        readable = ''.join(str(entry.get('HumanReadable') or '') for entry in result.get('entries') or [])
        login_url = re.search(r'\[login URL\]\((\S+?)\)', readable)
        if not login_url:
            print('  !! no login URL in the answer')
            self.failed += 1
            return
        redirect = requests.get(login_url.group(1), allow_redirects=False, verify=self.emulator.ca_bundle, timeout=30)
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(redirect.headers.get('Location', '')).query).get('code')
        print(f'\n(signed in at the login URL; the browser was sent to the redirect URI with a code of '
              f'{len(code[0]) if code else 0} characters, pasted into "Authorization code")')
        params['creds_auth_code'] = {'identifier': '', 'password': code[0] if code else ''}
        # The Test button cannot keep the refresh token in this flow, and says so.
        self.run('auth-code', params, 'test-module', expect_error=True)
        self.run('auth-code', params, 'msgraph-user-test')
        signed_in = self.registrations['delegated_user']['userPrincipalName']
        self.run('auth-code', params, 'msgraph-user-get', user=signed_in, properties='displayName,jobTitle')

    @staticmethod
    def password() -> str:
        return f'Demo-{secrets.token_urlsafe(12)}!9a'
