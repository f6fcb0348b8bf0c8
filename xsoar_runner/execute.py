"""Runs one command the way the XSOAR server runs Python integration code.

The server sends ONE code string (CommonServerPython, CommonServerUserPython, the unified integration), compiles it
under the file name ``<string>`` and ``exec``s it in fresh globals without ``__name__`` (so the integration's
``if __name__ in ('__main__', '__builtin__', 'builtins'): main()`` guard fires), with ``demisto`` already defined,
``print`` writing to the war-room log and ``exit``/``quit`` bound to ``sys.exit``. ``SystemExit`` ends the run
normally (``return_error`` relies on it); any other exception is reported as the run's error. Environment variables
and other process-wide state are restored afterwards, as the server does between runs.
"""
import http.client
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from demistomock import DEFAULT_BRAND

from xsoar_runner import RUNTIME_DIR
from xsoar_runner.unify import unify_integration

LogSink = Callable[[str, str], None]


def build_server_code(project_root: str | Path, integration: str = 'MicrosoftGraphUser') -> str:
    """The code string the server would run: stand-in CommonServerPython + CommonServerUserPython + unified script."""
    csp = (RUNTIME_DIR / 'CommonServerPython.py').read_text(encoding='utf-8')
    csup = (RUNTIME_DIR / 'CommonServerUserPython.py').read_text(encoding='utf-8')
    return f'{csp}\n{csup}\n{unify_integration(project_root, integration)}'


@dataclass
class Invocation:
    """What the server knows about one run."""
    command: str
    args: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    instance: str = 'default'
    brand: str = DEFAULT_BRAND
    debug: bool = False


@dataclass
class RunResult:
    """The war-room entries of the run and, if the code raised, the (masked) traceback."""
    entries: list[dict[str, Any]]
    exception: str | None = None

    @property
    def failed(self) -> bool:
        return self.exception is not None or any(entry.get('Type') == 4 for entry in self.entries)


def demistomock_module() -> ModuleType:
    import demistomock
    return demistomock


@contextmanager
def _process_state_restored(work_dir: Path) -> Iterator[None]:
    """Runs the body in ``work_dir`` and puts back what integration code may change process-wide."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_showwarning, saved_filters = warnings.showwarning, list(warnings.filters)
    root_logger = logging.getLogger()
    saved_level, saved_handlers = root_logger.level, list(root_logger.handlers)
    saved_raise_exceptions = logging.raiseExceptions
    saved_debuglevel = http.client.HTTPConnection.debuglevel
    had_print = 'print' in vars(http.client)
    saved_print = vars(http.client).get('print')
    os.chdir(work_dir)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        warnings.showwarning = saved_showwarning
        warnings.filters[:] = saved_filters  # type: ignore[index]
        root_logger.setLevel(saved_level)
        root_logger.handlers[:] = saved_handlers
        logging.raiseExceptions = saved_raise_exceptions
        http.client.HTTPConnection.debuglevel = saved_debuglevel
        if had_print:
            setattr(http.client, 'print', saved_print)  # noqa: B010
        elif 'print' in vars(http.client):
            delattr(http.client, 'print')


def execute(code: str, invocation: Invocation, store: Any, work_dir: Path,
            log_sink: LogSink | None = None) -> RunResult:
    """Executes ``code`` for ``invocation`` with ``store`` as the instance's integration context.

    Files written by ``fileResult`` land in ``work_dir`` (the working directory during the run). ``log_sink``
    receives every demisto log call as ``(level, text)``, with the secrets CommonServerPython's ``LOG`` knows masked.
    """
    demisto = demistomock_module()
    demisto.reset()
    demisto.set_context_store(store)
    demisto.set_invocation(invocation.command, invocation.args, invocation.params, instance=invocation.instance,
                           brand=invocation.brand, is_debug_mode=invocation.debug)
    namespace: dict[str, Any] = {'demisto': demisto, 'exit': sys.exit, 'quit': sys.exit}

    def mask(text: str) -> str:
        masker = namespace.get('LOG')
        return masker.encode(text) if masker is not None else text

    def war_room_print(*args: Any) -> None:
        demisto.log(' '.join(str(a) for a in args))

    namespace['print'] = war_room_print
    if log_sink is not None:
        sink = log_sink
        demisto.set_log_sink(lambda level, text: sink(level, mask(text)))
    compiled = compile(code, '<string>', 'exec')
    exception = None
    try:
        with _process_state_restored(work_dir):
            try:
                exec(compiled, namespace)  # noqa: S102 - running integration code is the point
            except SystemExit:
                pass
            except Exception:
                fix_lines = namespace.get('fix_traceback_line_numbers', lambda text: text)
                exception = mask(fix_lines(traceback.format_exc()))
    finally:
        demisto.set_log_sink(None)
    return RunResult(entries=demisto.collected_results(), exception=exception)
