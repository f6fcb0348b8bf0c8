"""Runs one code string the way the XSOAR server does, in a process that has nothing of this project importable.

Usage (from tests/build/test_unified_exec.py): ``python -I server_exec.py SPEC.json RESULT.json``.

``-I`` keeps the project root, ``xsoar_runtime/`` and ``MicrosoftApiModule/`` off ``sys.path``: the code string must
work on its own, as on the server, where only the docker image's site-packages exist. So a leftover
``import MicrosoftApiModule``, a non-star ``from CommonServerPython import x`` or any import of a project module fails
here, while it would pass in a pytest process. ``demistomock`` is the one module registered by hand: CommonServerPython
itself imports it, and the server provides it.

SPEC: ``{"code_file", "demistomock_file", "params", "runs": [{"command", "args"}],
"mocks": [{"method", "url", "regex", "status", "json", "headers"}]}``. Every run executes the code afresh in new
globals without ``__name__``, with ``demisto``, ``print``, ``exit`` and ``quit`` as the server binds them; the
integration context carries over between runs, as it does between commands of one instance.
RESULT: ``[{"command", "entries", "exception", "requests": [{"method", "url", "headers"}]}]``.
"""
import importlib.util
import ipaddress
import json
import re
import socket
import sys
import traceback
from types import ModuleType
from typing import Any

import requests_mock

_real_connect = socket.socket.connect


def _is_loopback(host: str) -> bool:
    try:
        return host == 'localhost' or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback_only(self: socket.socket, address: Any) -> None:
    # Same rule as the root conftest.py: requests-mock answers every HTTP call, nothing may leave the machine.
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(str(address[0])):
        raise ConnectionRefusedError(f'the exec test may only reach loopback, not {address!r}')
    _real_connect(self, address)


def load_demistomock(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location('demistomock', path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules['demistomock'] = module
    spec.loader.exec_module(module)
    return module


def execute(code: Any, demisto: ModuleType, command: str, args: dict, params: dict) -> str | None:
    """One server run of ``code``; returns the traceback of an uncaught exception, or None."""
    demisto.set_invocation(command, args, params)
    namespace: dict[str, Any] = {
        'demisto': demisto, 'exit': sys.exit, 'quit': sys.exit,
        'print': lambda *values, **_: demisto.log(' '.join(str(value) for value in values)),
    }
    try:
        exec(code, namespace)  # noqa: S102 - running the integration like the server is the point
    except SystemExit:
        return None  # return_error ends the run this way
    except Exception:
        return traceback.format_exc()
    return None


def main(spec_path: str, result_path: str) -> None:
    with open(spec_path, encoding='utf-8') as spec_file:
        spec = json.load(spec_file)
    socket.socket.connect = _loopback_only  # type: ignore[method-assign,assignment]
    demisto = load_demistomock(spec['demistomock_file'])
    with open(spec['code_file'], encoding='utf-8') as code_file:
        code = compile(code_file.read(), '<string>', 'exec')
    results = []
    with requests_mock.Mocker() as mocker:
        for mock in spec['mocks']:
            url = re.compile(mock['url']) if mock.get('regex') else mock['url']
            mocker.register_uri(mock['method'], url, status_code=mock.get('status', 200), json=mock.get('json'),
                                headers=mock.get('headers') or {})
        for run in spec['runs']:
            seen = len(mocker.request_history)
            exception = execute(code, demisto, run['command'], run.get('args') or {}, spec['params'])
            results.append({
                'command': run['command'],
                'entries': demisto.collected_results(),
                'exception': exception,
                'requests': [{'method': request.method, 'url': request.url, 'headers': dict(request.headers)}
                             for request in mocker.request_history[seen:]],
            })
    with open(result_path, 'w', encoding='utf-8') as result_file:
        json.dump(results, result_file, default=str)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
