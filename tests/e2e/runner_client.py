"""Runs one integration command in a NEW process through the runner (`python -m xsoar_runner --json ...`).

Every call is one server-like run: the unified code string exec'd with the stand-ins, the integration context of the
instance persisted under `state_dir`. Nothing is imported from the integration here; the end-to-end tests see only
what a user of the server sees (entries, context, files) and what the emulator received.

The child environment trusts exactly the emulator's CA (REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE are set globally on this
machine and would otherwise win over the integration's `verify`), reaches managed identity through
AZURE_POD_IDENTITY_AUTHORITY_HOST, bypasses any proxy for loopback, and loads `loopback_guard/sitecustomize.py`, which
refuses every connection that is not to 127.0.0.1 / ::1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GUARD_DIR = Path(__file__).resolve().parent / 'loopback_guard'
# The stand-in demistomock runs every command in investigation 1; fileResult names files `<investigation>_<FileID>`.
INVESTIGATION_ID = '1'
# Variables that would change where the child sends requests or which CA it trusts; removed, then set explicitly.
_SCRUBBED_ENV = ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'XSOAR_PARAMS',
                 'AZURE_POD_IDENTITY_AUTHORITY_HOST', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER',
                 'IDENTITY_SERVER_THUMBPRINT', 'IMDS_ENDPOINT', 'MSI_ENDPOINT', 'MSI_SECRET', 'HTTP_PROXY',
                 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy', 'PYTHONPATH')


@dataclass
class RunResult:
    """What one runner process produced: its exit code and the `--json` document (entries, context, errors)."""

    command: str
    exit_code: int
    entries: list[dict[str, Any]]
    context: dict[str, Any]
    errors: list[str]
    files_dir: Path
    integration_context_file: Path
    stderr: str = ''
    stdout: str = field(default='', repr=False)
    # Filled in by the caller that knows the emulator: the requests it received during this run.
    requests: list[dict[str, Any]] = field(default_factory=list, repr=False)
    graph: list[dict[str, Any]] = field(default_factory=list, repr=False)  # the Graph ones among them

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.errors

    @property
    def readable(self) -> str:
        """The war-room text of every entry (HumanReadable, else a text Contents), joined by blank lines."""
        texts = []
        for entry in self.entries:
            text = entry.get('HumanReadable')
            if text is None and isinstance(entry.get('Contents'), str):
                text = entry['Contents']
            if text:
                texts.append(str(text))
        return '\n\n'.join(texts)

    @property
    def error_text(self) -> str:
        return '\n'.join(self.errors)

    def integration_context(self) -> dict[str, Any]:
        """The instance's persisted integration context after the run ({} before the first write)."""
        if not self.integration_context_file.exists():
            return {}
        return json.loads(self.integration_context_file.read_text(encoding='utf-8'))['context']

    def file_entries(self) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if entry.get('FileID')]

    def file_path(self, entry: Mapping[str, Any]) -> Path:
        """Where the runner stored the file of a file entry (`fileResult` writes `<investigation>_<FileID>`)."""
        return self.files_dir / f'{INVESTIGATION_ID}_{entry["FileID"]}'

    def scheduled(self) -> dict[str, Any] | None:
        """The follow-up run a polling command asked for: {'command', 'args', 'next_run'}; None when done."""
        for entry in self.entries:
            if entry.get('PollingCommand'):
                return {'command': entry['PollingCommand'], 'args': dict(entry.get('PollingArgs') or {}),
                        'next_run': entry.get('NextRun')}
        return None


def child_env(emulator_env: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a runner process: this one without CA/proxy/identity overrides, plus the emulator's."""
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED_ENV}
    env.update(emulator_env)
    ca_bundle = env.get('REQUESTS_CA_BUNDLE')
    if ca_bundle:
        env['CURL_CA_BUNDLE'] = ca_bundle
    env['NO_PROXY'] = env['no_proxy'] = '127.0.0.1,localhost,::1'
    env['PYTHONPATH'] = str(GUARD_DIR)
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env.update(extra or {})
    return env


def run(command: str, args: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
        instance: str = 'default', state_dir: str | os.PathLike[str] = '.runner_state', *,
        emulator_env: Mapping[str, str] | None = None, extra_env: Mapping[str, str] | None = None,
        python_flags: tuple[str, ...] = (), debug: bool = False, timeout: float = 60) -> RunResult:
    """Run `command` with `args` (NAME=VALUE strings, as the server passes them) on instance `instance`.

    `params` are the instance parameters (handed over in XSOAR_PARAMS, which the runner removes from the
    environment the integration sees). `debug` runs in debug mode with every (masked) log line, the HTTP wire log
    included, on stderr. Returns the parsed result; raises AssertionError when the runner itself failed
    (bad usage, no JSON document).
    """
    argv = [sys.executable, *python_flags, '-m', 'xsoar_runner', '--json', '--state-dir', str(state_dir),
            '--instance', instance, *(['--debug'] if debug else []), command]
    argv += [f'{name}={_arg_text(value)}' for name, value in (args or {}).items() if value is not None]
    env = child_env(emulator_env or {}, extra_env)
    env['XSOAR_PARAMS'] = json.dumps(dict(params or {}))
    process = subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                             check=False)
    try:
        document = json.loads(process.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f'runner gave no JSON for {command} (exit {process.returncode}):\n'
                             f'{process.stdout[-2000:]}\n{process.stderr[-4000:]}') from None
    return RunResult(command=command, exit_code=process.returncode, entries=document['entries'],
                     context=document['context'], errors=document['errors'], files_dir=Path(document['files_dir']),
                     integration_context_file=Path(document['integration_context_file']), stderr=process.stderr,
                     stdout=process.stdout)


def _arg_text(value: Any) -> str:
    """Command arguments reach the integration as strings; JSON for dicts/lists, `true`/`false` for booleans."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
