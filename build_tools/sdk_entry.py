"""demisto-sdk's command line, run by the build environment's Python with the network switched off.

Started by :mod:`build_tools.sdk` as ``.venv-build/bin/python build_tools/sdk_entry.py <sdk arguments>``. Before the
SDK is imported, every name lookup and connection to anything but loopback fails at once (no DNS wait, no connect
timeout), and each refused destination is appended to the file named by ``BUILD_TOOLS_NET_LOG``, so the caller can
fail the build and say what the SDK tried to reach. Unix sockets (a docker daemon, if one were there) are left alone.

This file must import nothing from the project: the build environment has demisto-sdk, not the project's packages.
"""
import ipaddress
import os
import socket
import sys
from typing import Any

_LOG_PATH = os.environ.get('BUILD_TOOLS_NET_LOG', '')
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors='replace')
    if host in (None, '', 'localhost'):
        return True
    try:
        return ipaddress.ip_address(str(host).split('%')[0]).is_loopback
    except ValueError:
        return False


def _refuse(host: Any, port: Any) -> None:
    if _LOG_PATH:
        with open(_LOG_PATH, 'a', encoding='utf-8') as log:
            log.write(f'{host}:{port}\n')


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_loopback(host):
        _refuse(host, port)
        raise socket.gaierror(socket.EAI_NONAME, f'network access is disabled during the build ({host})')
    return _real_getaddrinfo(host, port, *args, **kwargs)


def _destination(sock: socket.socket, address: Any) -> tuple[Any, Any] | None:
    """(host, port) when ``address`` is an internet destination that is not loopback, else None."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return None
    host, port = address[0], address[1]
    return None if _is_loopback(host) else (host, port)


def _guarded_connect(self: socket.socket, address: Any) -> None:
    destination = _destination(self, address)
    if destination:
        _refuse(*destination)
        raise ConnectionRefusedError(f'network access is disabled during the build ({destination[0]})')
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    destination = _destination(self, address)
    if destination:
        _refuse(*destination)
        return 111  # ECONNREFUSED, as connect_ex reports failures
    return _real_connect_ex(self, address)


def main(argv: list[str]) -> None:
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
    sys.argv = ['demisto-sdk', *argv]
    from demisto_sdk.__main__ import app  # imported only now: the SDK reads config files at import time

    app()


if __name__ == '__main__':
    main(sys.argv[1:])
