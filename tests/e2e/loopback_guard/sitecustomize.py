"""Loaded at start-up by every runner process the end-to-end tests start (PYTHONPATH): refuses any connection that
is not to loopback, so no code path of the integration can reach a real address (Microsoft's hosts, the Azure IMDS
address 169.254.169.254) even if a URL override were lost on the way."""
import socket
from typing import Any

from loopback_rule import is_loopback

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _checked(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
        raise ConnectionRefusedError(f'end-to-end tests may only reach loopback, not {address!r}')


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _checked(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _checked(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign, assignment]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign, assignment]
