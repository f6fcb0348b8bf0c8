"""What the end-to-end tests share: `E2E` runs commands through the runner against one emulator and tells which
requests each run sent; `graph_calls` / `token_calls` pick requests out of the emulator's log."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import emulator as emulator_package
from tests.e2e import runner_client
from tests.e2e.runner_client import RunResult


class E2E:
    """Runs commands through the runner against one emulator and tells which requests each run sent."""

    def __init__(self, emulator: emulator_package.Emulator, info: dict[str, Any], state_dir: Path) -> None:
        self.emulator = emulator
        self.info = info
        self.state_dir = state_dir
        self.env = dict(info['env'])

    @property
    def registrations(self) -> dict[str, Any]:
        return self.info['registrations']

    @property
    def samples(self) -> dict[str, dict[str, str]]:
        return self.info['registrations']['users']['samples']

    def params(self, mode: str = 'client_credentials', **overrides: Any) -> dict[str, Any]:
        """A copy of the emulator's instance parameters for `mode`, with `overrides` applied."""
        return {**copy.deepcopy(self.info['instance_params'][mode]), **overrides}

    def app_params(self, app: str, **overrides: Any) -> dict[str, Any]:
        """Client-credentials parameters of another registered app (e.g. `read_only`)."""
        registration = self.registrations['apps'][app]
        return self.params('client_credentials',
                           creds_auth_id={'identifier': '', 'password': registration['client_id']},
                           creds_enc_key={'identifier': '', 'password': registration['client_secret']}, **overrides)

    def stored_user(self, key: str) -> dict[str, Any]:
        """The emulator's record of a user (live or soft-deleted), internal fields such as `_password` included."""
        user = self.emulator.user(key)
        assert user is not None, f'no user {key} in the emulated tenant'
        return user

    def last_seq(self) -> int:
        entries = self.emulator.requests()
        return entries[-1]['seq'] if entries else 0

    def run(self, command: str, params: dict[str, Any], *, instance: str = 'default',
            python_flags: tuple[str, ...] = (), debug: bool = False, **args: Any) -> RunResult:
        """One runner process; `result.requests` are the requests the emulator received during it."""
        since = self.last_seq()
        result = runner_client.run(command, args, params, instance, self.state_dir, emulator_env=self.env,
                                   python_flags=python_flags, debug=debug)
        result.requests = self.emulator.requests(since=since)
        result.graph = graph_calls(result.requests)
        return result

    def ok(self, command: str, params: dict[str, Any], **kwargs: Any) -> RunResult:
        """`run`, asserting that the command succeeded."""
        result = self.run(command, params, **kwargs)
        assert result.ok, f'{command} failed (exit {result.exit_code}): {result.errors}\n{result.stderr[-3000:]}'
        return result

    def age_tokens(self, instance: str = 'default') -> None:
        """Make the instance's cached access tokens look expired, as they are an hour later (refresh tokens and the
        msal http cache stay)."""
        path = self.state_dir / instance / 'integration_context.json'
        stored = json.loads(path.read_text(encoding='utf-8'))
        for entry in stored['context'].get('ms_auth', {}).values():
            if isinstance(entry, dict) and 'valid_until' in entry:
                entry['valid_until'] = 0
        stored['version'] += 1
        path.write_text(json.dumps(stored), encoding='utf-8')

    def token_entry(self, instance: str = 'default') -> dict[str, Any]:
        """The one cached-token entry of the instance (`{access_token, valid_until, refresh_token?}`)."""
        path = self.state_dir / instance / 'integration_context.json'
        auth = json.loads(path.read_text(encoding='utf-8'))['context'].get('ms_auth', {})
        entries = [value for key, value in auth.items() if isinstance(value, dict) and 'access_token' in value]
        assert len(entries) == 1, auth.keys()
        return entries[0]


def graph_calls(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in requests if entry['path'].startswith(('/v1.0/', '/beta/'))]


def token_calls(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in requests if entry['path'].endswith(('/oauth2/v2.0/token', '/oauth2/token',
                                                                  '/obtain-token', '/metadata/identity/oauth2/token',
                                                                  '/msi/token'))]
