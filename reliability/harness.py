"""How the scenarios run the integration and watch what it does.

* `run_module` calls the integration's entry point in this process (the imported MicrosoftGraphUser module, the
  stand-in demistomock): fast enough for tens of thousands of runs, and `ms_sleep` can be replaced by a virtual
  clock so Retry-After storms and IMDS outages take no wall time.
* `UnifiedRunner` runs the ONE code string the server runs (stand-ins + the unified integration) through
  xsoar_runner's `execute`, compiled once: a fresh CommonServerPython (and its log masker) every run.
* `run_subprocess` starts `python -m xsoar_runner` (or the killing variant) in a new process.
* `loopback_only` refuses any connection that is not to 127.0.0.1 / ::1 for the whole run.
* `record_emulator_secrets` wraps the emulator's WSGI apps so every token, pass or secret it hands out is added to a
  SecretBook, whoever asked for it.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.secrets_book import Finding, SecretBook
from tests.e2e.loopback_guard.loopback_rule import is_loopback

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The environment as the run found it (scenarios clear the network variables and set their own).
ORIGINAL_ENV = dict(os.environ)
# Fields of emulator answers that hold a secret (token responses, TAP creation, addPassword, MFA tokens).
SECRET_RESPONSE_KEYS = ('access_token', 'refresh_token', 'id_token', 'temporaryAccessPass', 'secretText',
                        'client_secret')
# Variables that decide where a run sends requests or which CA it trusts; every scenario sets them explicitly.
NETWORK_ENV = ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY',
               'http_proxy', 'https_proxy', 'all_proxy', 'NO_PROXY', 'no_proxy', 'AZURE_POD_IDENTITY_AUTHORITY_HOST',
               'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'IDENTITY_SERVER_THUMBPRINT', 'IMDS_ENDPOINT', 'MSI_ENDPOINT',
               'MSI_SECRET', 'XSOAR_PARAMS')


# ---------------------------------------------------------------------------------------------------------------
# Process-wide guards
# ---------------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Every TCP connection of this process must go to loopback (the same rule as the test suite's conftest)."""
    real_connect, real_create = socket.socket.connect, socket.create_connection

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
            raise ConnectionRefusedError(f'reliability runs may only reach loopback, not {address!r}')
        return real_connect(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not is_loopback(address):
            raise ConnectionRefusedError(f'reliability runs may only reach loopback, not {address!r}')
        return real_create(address, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign, assignment]
    socket.create_connection = create_connection  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.create_connection = real_create


@contextlib.contextmanager
def environment(values: dict[str, str] | None = None) -> Iterator[None]:
    """Run the body with the network variables of NETWORK_ENV cleared, then `values` set; restore everything after
    (BaseClient deletes proxy and CA variables for the rest of a run, as on the server)."""
    saved = dict(os.environ)
    for name in NETWORK_ENV:
        os.environ.pop(name, None)
    os.environ.update(values or {})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ---------------------------------------------------------------------------------------------------------------
# What one run produced
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """Entries, log lines and the escaped exception (if any) of one run."""

    command: str
    entries: list[dict[str, Any]]
    raw_logs: list[str] = field(default_factory=list)      # demisto.debug/info/error as sent: not masked
    masked_logs: list[str] = field(default_factory=list)   # what CommonServerPython's LOG let through
    exception: str | None = None                           # a traceback that escaped the entry point
    error_type: type | None = None                         # the exception handled when the error entry was written
    files: list[Path] = field(default_factory=list)
    stdout: str = ''
    stderr: str = ''
    exit_code: int | None = None

    @property
    def errors(self) -> list[str]:
        return [str(entry.get('Contents')) for entry in self.entries if entry.get('Type') == 4]

    @property
    def ok(self) -> bool:
        return self.exception is None and not self.errors and (self.exit_code in (None, 0))

    @property
    def error_text(self) -> str:
        return '\n'.join(self.errors + ([self.exception] if self.exception else []))

    @property
    def readable(self) -> str:
        return '\n'.join(str(entry.get('HumanReadable') or entry.get('Contents') or '') for entry in self.entries)

    def artifacts(self) -> Iterable[tuple[str, str]]:
        """(what, text) of everything a user or an administrator can see from this run."""
        yield 'entries', json.dumps(self.entries, default=str)
        for line in self.raw_logs:
            yield 'server log', line
        for line in self.masked_logs:
            yield 'integration log', line
        if self.exception:
            yield 'exception', self.exception
        for path in self.files:
            if path.is_file():
                yield f'file {path.name}', path.read_bytes().decode('latin-1')
        if self.stdout:
            yield 'stdout', self.stdout
        if self.stderr:
            yield 'stderr', self.stderr


def scan(book: SecretBook, outcome: Outcome) -> list[Finding]:
    findings: list[Finding] = []
    for where, text in outcome.artifacts():
        findings.extend(book.scan(f'{outcome.command}: {where}', text))
    return findings


# ---------------------------------------------------------------------------------------------------------------
# In-process runs of the imported integration
# ---------------------------------------------------------------------------------------------------------------

class VirtualClock:
    """Stands in for `ms_sleep`: adds up the waits instead of sleeping; `on_sleep` callbacks see the new total."""

    def __init__(self) -> None:
        self.slept = 0.0
        self.on_sleep: list[Callable[[float], None]] = []

    def sleep(self, seconds: float) -> None:
        self.slept += max(0.0, float(seconds))
        for callback in self.on_sleep:
            callback(self.slept)


@contextlib.contextmanager
def integration_patched(clock: VirtualClock | None = None) -> Iterator[Any]:
    """The imported integration with `return_error` watched (which exception it reported) and, given a clock,
    `ms_sleep` virtual in both modules. Yields the integration module."""
    import MicrosoftApiModule
    import MicrosoftGraphUser as integration

    original_return_error = integration.return_error
    original_sleeps = (MicrosoftApiModule.ms_sleep, integration.ms_sleep)

    def return_error(message: Any, error: Any = '', outputs: Any = None) -> None:
        _LAST_ERROR_TYPE[0] = sys.exc_info()[0]
        original_return_error(message, error, outputs)

    integration.return_error = return_error
    if clock is not None:
        MicrosoftApiModule.ms_sleep = clock.sleep
        integration.ms_sleep = clock.sleep
    try:
        yield integration
    finally:
        integration.return_error = original_return_error
        MicrosoftApiModule.ms_sleep, integration.ms_sleep = original_sleeps


_LAST_ERROR_TYPE: list[type | None] = [None]


def run_module(integration: Any, command: str, params: dict[str, Any], args: dict[str, Any] | None = None, *,
               debug: bool = False, store: Any = None) -> Outcome:
    """One run of `command` through the imported integration's entry point (inside `integration_patched`)."""
    import CommonServerPython
    import demistomock as demisto

    if store is not None:
        demisto.set_context_store(store)
    demisto.set_invocation(command, dict(args or {}), params, is_debug_mode=debug)
    log = CommonServerPython.LOG
    log.replace_strs.clear()  # one logger lives through every in-process run; on the server it is new each time
    log.messages.clear()
    _LAST_ERROR_TYPE[0] = None
    exception = None
    try:
        integration.run_command(command, params, dict(args or {}))
    except SystemExit:
        pass
    except BaseException:  # noqa: BLE001 - anything escaping the entry point is what we look for
        exception = traceback.format_exc()
    return Outcome(command=command, entries=demisto.collected_results(), raw_logs=demisto.log_lines(),
                   masked_logs=list(log.messages), exception=exception, error_type=_LAST_ERROR_TYPE[0])


# ---------------------------------------------------------------------------------------------------------------
# The server's code string, in process
# ---------------------------------------------------------------------------------------------------------------

class UnifiedRunner:
    """Runs commands the way xsoar_runner does (fresh globals, fresh CommonServerPython) with the code compiled once.

    Each run gets the instance's integration context from `store` (a demistomock ContextStore) and writes files into
    `work_dir`.
    """

    def __init__(self, project_root: Path = PROJECT_ROOT) -> None:
        from xsoar_runner.execute import build_server_code

        self.code = build_server_code(project_root)
        self.compiled = compile(self.code, '<string>', 'exec')

    def run(self, command: str, params: dict[str, Any], args: dict[str, Any] | None, store: Any, work_dir: Path,
            *, debug: bool = False, instance: str = 'default') -> Outcome:
        import demistomock as demisto

        from xsoar_runner import execute as execute_module

        masked: list[str] = []
        compiled = self.compiled

        @functools.wraps(compile)
        def cached_compile(source: Any, filename: Any, mode: Any, *rest: Any, **kwargs: Any) -> Any:
            return compiled if source is self.code else compile(source, filename, mode, *rest, **kwargs)

        work_dir.mkdir(parents=True, exist_ok=True)
        before = set(work_dir.iterdir())
        setattr(execute_module, 'compile', cached_compile)  # noqa: B010 - execute() looks `compile` up at call time
        try:
            invocation = execute_module.Invocation(command=command, args={k: v for k, v in (args or {}).items()},
                                                   params=params, instance=instance, debug=debug)
            result = execute_module.execute(self.code, invocation, store, work_dir,
                                            log_sink=lambda level, text: masked.append(text))
        finally:
            delattr(execute_module, 'compile')
        files = sorted(set(work_dir.iterdir()) - before)
        raw_logs = demisto.log_lines()
        if debug:
            # The run's DebugLogger restores http.client's print when it is collected; on the server the process
            # ends, here it must happen now, not in the middle of the next run.
            gc.collect()
        return Outcome(command=command, entries=result.entries, raw_logs=raw_logs, masked_logs=masked,
                       exception=result.exception, files=files)


# ---------------------------------------------------------------------------------------------------------------
# Real processes
# ---------------------------------------------------------------------------------------------------------------

def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the network variables, plus `extra`; bytecode is not written."""
    env = {key: value for key, value in os.environ.items() if key not in NETWORK_ENV}
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env.update(extra or {})
    return env


def run_subprocess(command: str, params: dict[str, Any], args: dict[str, Any] | None, state_dir: Path, *,
                   instance: str = 'default', env: dict[str, str] | None = None, module: str = 'xsoar_runner',
                   prefix_args: list[str] | None = None, debug: bool = False, timeout: float = 120) -> Outcome:
    """`python -m <module> [prefix_args] --json ... COMMAND NAME=VALUE...` in a new process; the Outcome holds its
    entries and exit code (negative: the signal that ended it)."""
    argv = [sys.executable, '-m', module, *(prefix_args or []), '--json', '--state-dir', str(state_dir),
            '--instance', instance]
    argv += ['--debug'] if debug else []
    argv += [command] + [f'{name}={value}' for name, value in (args or {}).items()]
    child = child_env(env)
    child['XSOAR_PARAMS'] = json.dumps(params)
    process = subprocess.run(argv, cwd=PROJECT_ROOT, env=child, capture_output=True, text=True, timeout=timeout,
                             check=False)
    entries: list[dict[str, Any]] = []
    exception = None
    try:
        document = json.loads(process.stdout)
        entries = document['entries']
        exception = '\n'.join(error for error in document['errors'] if error.startswith('Traceback')) or None
    except (json.JSONDecodeError, KeyError):
        exception = f'no JSON document (exit {process.returncode})'
    return Outcome(command=command, entries=entries, exception=exception, stdout=process.stdout,
                   stderr=process.stderr, exit_code=process.returncode,
                   raw_logs=[line for line in process.stderr.splitlines()])


# ---------------------------------------------------------------------------------------------------------------
# The emulator
# ---------------------------------------------------------------------------------------------------------------

def record_emulator_secrets(emulator: Any, book: SecretBook) -> None:
    """Add every secret the emulator ever answers with (tokens, TAP codes, client secrets) to `book`, plus the
    registrations' own secrets (client secrets, private key, oproxy token and key, pre-seeded auth codes)."""
    registrations = emulator.registrations
    for key, app in registrations['apps'].items():
        book.add(f'{key} client secret', app.get('client_secret'))
        book.add(f'{key} expired client secret', app.get('expired_client_secret'))
        for code in app.get('auth_codes') or []:
            book.add('authorization code', code)
        certificate = app.get('certificate') or {}
        if certificate.get('key_path'):
            book.add('private key', Path(certificate['key_path']).read_text(encoding='utf-8'))
    book.add('oproxy token', registrations['oproxy']['token'])
    book.add('oproxy key', registrations['oproxy']['key'])
    for server in emulator._servers:  # noqa: SLF001 - the handle keeps its servers private
        server.app = _recording_app(server.app, book)


def _recording_app(inner: Callable[..., Any], book: SecretBook) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        result = inner(environ, start_response)
        try:
            body = b''.join(result)
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                close()
        try:
            document = json.loads(body)
        except ValueError:
            return [body]
        book.add_from_json(document, SECRET_RESPONSE_KEYS, 'emulator-issued ')
        return [body]

    return app
