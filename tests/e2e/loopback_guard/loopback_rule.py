"""The one rule of every test, demo and reliability run: connect to loopback only.

Imported by the root conftest.py, reliability/harness.py and this folder's sitecustomize.py (which runner
processes load from PYTHONPATH, so it imports this module by its bare name).
"""
import ipaddress
from typing import Any


def is_loopback(address: Any) -> bool:
    """Whether a socket address (a `(host, port, ...)` tuple, or a host) is on this machine's loopback."""
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False
