"""Local stand-in for the ``demisto`` object that Cortex XSOAR gives an integration.

On the server the real object talks to the platform over stdin/stdout; in tests and in ``xsoar_runner`` this module
plays that part. Every public name below that is not in the "local helpers" section exists, with the same signature
and meaning, on the real runtime (demisto/content ``Tests/demistomock/demistomock.py`` and the server's ``Demisto``
class). Where the two differ, this module follows the server:

* ``params()``/``args()``/``command()`` come from ``callingContext`` (the request the server sent);
* ``results()`` converts what it is given into war-room entries the way the server does, and rejects values that
  cannot be JSON-encoded (the server serialises every call);
* ``demistoVersion()`` reports 8.9.0, so CommonServerPython uses the *versioned* integration context, and
  ``setIntegrationContextVersioned`` with a stale version raises ``ValueError`` like the server;
* ``debug``/``info``/``error`` record the text as given: the real runtime does not mask them either (only
  CommonServerPython's ``LOG`` does), so tests see exactly what the server log would contain.

Local helpers (not on the server; for tests and the runner):
``set_invocation``, ``reset``, ``collected_results``, ``log_lines``, ``set_log_sink``, ``set_context_store``,
``get_context_store``, ``MemoryContextStore``, ``ContextStore``, ``next_context_version``.
"""
import json
import uuid
from collections.abc import Callable
from typing import Any, Protocol

DEFAULT_BRAND = 'Microsoft Graph User'
DEFAULT_INSTANCE = 'local'
DEFAULT_VERSION = {'version': '8.9.0', 'buildNumber': '12345', 'platform': 'xsoar'}

# The request the server sent for this run. Must stay a mutable dict: CommonServerPython replaces
# callingContext['params'] at load time.
callingContext: dict[str, Any] = {}
is_debug: bool = False


# ----------------------------------------------------------------------------------------------------------------
# Integration-context storage (pluggable: in memory by default, the runner installs a file-backed store)
# ----------------------------------------------------------------------------------------------------------------

class ContextStore(Protocol):
    """Where the per-instance integration context lives between runs."""

    def read(self) -> tuple[dict[str, Any], int]:
        """Returns a private copy of the stored context and its version (0 before the first write)."""
        ...

    def write(self, context: dict[str, Any], version: int) -> int:
        """Stores ``context`` if ``version`` is -1 or the current version; returns the new version.

        Raises ValueError when ``version`` is stale, TypeError when ``context`` is not JSON-serialisable.
        """
        ...


def next_context_version(current: int, requested: int) -> int:
    """The version a write based on ``requested`` produces, or ValueError if another write came first."""
    if requested != -1 and requested != current:
        raise ValueError(
            f'Integration context version conflict: the context is at version {current}, '
            f'but this write was based on version {requested}. Read it again and retry.'
        )
    return current + 1


class MemoryContextStore:
    """Integration context kept in this process; values round-trip through JSON like on the server."""

    def __init__(self, context: dict[str, Any] | None = None, version: int = 0) -> None:
        self._blob = json.dumps(context or {})
        self._version = version

    def read(self) -> tuple[dict[str, Any], int]:
        return json.loads(self._blob), self._version

    def write(self, context: dict[str, Any], version: int) -> int:
        blob = json.dumps(context)
        self._version = next_context_version(self._version, version)
        self._blob = blob
        return self._version


_store: ContextStore = MemoryContextStore()
_entries: list[dict[str, Any]] = []
_logs: list[tuple[str, str]] = []
_log_sink: Callable[[str, str], None] | None = None
_args: dict[str, Any] = {}
_version: dict[str, str] = dict(DEFAULT_VERSION)


# ----------------------------------------------------------------------------------------------------------------
# Local helpers
# ----------------------------------------------------------------------------------------------------------------

def set_invocation(command: str = '', args: dict[str, Any] | None = None, params: dict[str, Any] | None = None, *,
                   instance: str = DEFAULT_INSTANCE, brand: str = DEFAULT_BRAND, is_debug_mode: bool = False,
                   investigation_id: str = '1', parent_entry: dict[str, Any] | None = None,
                   version: dict[str, str] | None = None) -> None:
    """Prepares one run of ``command``, as the server does before it executes the integration code.

    Clears the entries and log lines of the previous run; keeps the integration-context store (it belongs to the
    instance, not to the run). ``parent_entry`` marks a scheduled follow-up run (e.g. ``{'polling': True}``);
    ``version`` replaces what ``demistoVersion()`` reports.
    """
    global is_debug, _version
    args = dict(args or {})
    context: dict[str, Any] = {
        'Inv': {'id': investigation_id},
        'Incidents': [],
        'IntegrationBrand': brand,
        'IntegrationInstance': instance,
        'IsDebug': is_debug_mode,
        'ExecutedCommands': [{'name': command, 'moduleBrand': brand, 'moduleInstance': instance}],
        'DockerImage': 'demisto/crypto:local',
        'ScriptName': '',
        'runDuration': 5,
        'TimeoutDuration': 5 * 60 * 10 ** 9,
    }
    if parent_entry is not None:
        context['ParentEntry'] = parent_entry
    callingContext.clear()
    callingContext.update({'integration': True, 'command': command, 'args': args, 'params': dict(params or {}),
                           'context': context})
    _args.clear()
    _args.update(args)
    if is_debug_mode:
        _args.pop('debug-mode', None)
    is_debug = is_debug_mode
    _version = dict(version or DEFAULT_VERSION)
    _entries.clear()
    _logs.clear()


def reset() -> None:
    """Back to a blank state: no command, no params, no entries or logs, an empty in-memory context store."""
    global _store, _log_sink
    _store = MemoryContextStore()
    _log_sink = None
    set_invocation()


def collected_results() -> list[dict[str, Any]]:
    """The war-room entries produced since ``set_invocation``, as the server stores them."""
    return list(_entries)


def log_lines(level: str | None = None) -> list[str]:
    """The log messages since ``set_invocation`` (levels: debug, info, error, log), unmasked, in order."""
    return [text for lvl, text in _logs if level is None or lvl == level]


def set_log_sink(sink: Callable[[str, str], None] | None) -> None:
    """Also passes every log call to ``sink(level, text)`` as it happens (the runner prints them)."""
    global _log_sink
    _log_sink = sink


def set_context_store(store: ContextStore) -> None:
    """Replaces where the integration context is kept (e.g. a file shared by several processes)."""
    global _store
    _store = store


def get_context_store() -> ContextStore:
    return _store


def _log(level: str, msg: Any, args: tuple[Any, ...]) -> None:
    text = str(msg)
    if args:
        try:
            text = text % args
        except (TypeError, ValueError):
            text = ' '.join([text] + [str(a) for a in args])
    _logs.append((level, text))
    if _log_sink is not None:
        _log_sink(level, text)


def _to_entry(result: Any) -> Any:
    """What the server's converter makes of one ``results()`` value."""
    if isinstance(result, dict):
        if 'Contents' in result and 'ContentsFormat' in result:
            return result
        return {'Type': 1, 'Contents': json.dumps(result), 'ContentsFormat': 'json'}
    if isinstance(result, list):
        return [_to_entry(item) for item in result]
    if isinstance(result, bytes):
        return {'Type': 1, 'Contents': result.decode('utf-8'), 'ContentsFormat': 'text'}
    return {'Type': 1, 'Contents': str(result), 'ContentsFormat': 'text'}


# ----------------------------------------------------------------------------------------------------------------
# The demisto API
# ----------------------------------------------------------------------------------------------------------------

def params() -> dict[str, Any]:
    """(Integration only) The instance configuration."""
    return callingContext.get('params', {})


def args() -> dict[str, Any]:
    """The command arguments (values are strings, as typed in the war room)."""
    return _args


def command() -> str:
    """(Integration only) The command being run: ``test-module``, ``fetch-incidents`` or a yml command name."""
    return callingContext.get('command', '')


def get(obj: Any, field: str, defaultParam: Any = None) -> Any:
    """Reads a dotted path (``a.b.c``) from nested dicts."""
    for part in field.split('.'):
        if obj and part in obj:
            obj = obj[part]
        else:
            return defaultParam
    return obj


def gets(obj: Any, field: str) -> str:
    return str(get(obj, field))


def getParam(p: str) -> Any:
    """(Integration only) One instance parameter; ``p`` may be a dotted path such as ``credentials.password``."""
    return get(callingContext, 'params.' + p)


def getArg(arg: str, defaultParam: Any = None) -> Any:
    """One command argument."""
    return get(callingContext, 'args.' + arg, defaultParam)


def results(results: Any) -> None:
    """Sends entries to the war room: a dict with Contents/ContentsFormat as is, another dict as a JSON note,
    a list item by item, anything else as a text note."""
    converted = _to_entry(results)
    for entry in converted if isinstance(converted, list) else [converted]:
        # The server receives each call as JSON: what cannot be encoded fails here as it would there.
        _entries.append(json.loads(json.dumps(entry)))


def debug(msg: Any, *args: Any) -> None:
    """Server log, debug level."""
    _log('debug', msg, args)


def info(msg: Any, *args: Any) -> None:
    """Server log, info level."""
    _log('info', msg, args)


def error(msg: Any, *args: Any) -> None:
    """Server log, error level."""
    _log('error', msg, args)


def log(msg: Any) -> None:
    """A log line in the war room of the current investigation."""
    _log('log', msg, ())


def getIntegrationContext() -> dict[str, Any]:
    """(Integration only) The instance's integration context."""
    return _store.read()[0]


def setIntegrationContext(context: dict[str, Any]) -> None:
    """(Integration only) Replaces the integration context, whatever its version (last write wins)."""
    _store.write(context, -1)


def getIntegrationContextVersioned(refresh: bool = False) -> dict[str, Any]:
    """(Integration only) ``{'context': <dict>, 'version': <int>}``; ``refresh`` is accepted (always fresh here)."""
    context, version = _store.read()
    return {'context': context, 'version': version}


def setIntegrationContextVersioned(context: dict[str, Any], version: int = -1, sync: bool = False) -> None:
    """(Integration only) Stores ``context`` if ``version`` is still current (-1: unconditionally).

    Raises ValueError on a stale version, as the server does. ``sync`` is accepted; writes are always immediate.
    """
    _store.write(context, version)


def getLastRun() -> dict[str, Any]:
    """(Integration only) Fetch state; not used by this integration."""
    return {}


def setLastRun(obj: Any) -> None:
    """(Integration only) Fetch state; not used by this integration."""
    return None


def uniqueFile() -> str:
    """A fresh random file id."""
    return str(uuid.uuid4())


def getFilePath(id: str) -> dict[str, str]:
    """Where the file of a war-room entry is; only canned data here."""
    return {'id': id, 'path': 'test/test.txt', 'name': 'test.txt'}


def investigation() -> dict[str, Any]:
    """The current investigation (``{'id': ...}``)."""
    return callingContext.get('context', {}).get('Inv', {'id': '1'})


def incidents(incidents: Any = None) -> Any:
    """In an integration: returns fetched incidents to the server."""
    if incidents is None:
        return callingContext.get('context', {}).get('Incidents', [])
    return results({'Type': 1, 'Contents': json.dumps(incidents), 'ContentsFormat': 'json'})


def context() -> dict[str, Any]:
    """The incident context (empty here)."""
    return {}


def integrationInstance() -> str:
    """(Integration only) The instance name."""
    return callingContext.get('context', {}).get('IntegrationInstance', '')


def demistoVersion() -> dict[str, str]:
    """Server version, build number and platform."""
    return dict(_version)


def demistoUrls() -> dict[str, str]:
    return {'server': 'https://localhost'}


def getLicenseID() -> str:
    return ''


def updateModuleHealth(data: Any, is_error: bool = False) -> None:
    return None


def executeCommand(command: str, args: dict[str, Any]) -> Any:
    """(Script only) Integrations cannot call it; the server refuses the same way."""
    raise Exception('Demisto object has no function `executeCommand` for Integration.')


reset()
