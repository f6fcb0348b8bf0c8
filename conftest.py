"""Test-wide safety net: no test may open a connection to anything but loopback.

requests-mock already refuses unmatched URLs inside its context; this guard also covers code paths that run
outside it (msal, the emulator, subprocesses started by tests inherit nothing from it, so they get the same rule
from their own code).
"""
import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _is_loopback(address) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only reach loopback, not {address!r}")
    return _real_connect(self, address)


def _guarded_create_connection(address, *args, **kwargs):
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only reach loopback, not {address!r}")
    return _real_create_connection(address, *args, **kwargs)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket, "create_connection", _guarded_create_connection)
    yield


# Instance params of a self-deployed client-credentials app on the worldwide cloud: what most command tests use.
CLIENT_CREDENTIALS_PARAMS = {
    'azure_cloud': 'Worldwide',
    'host': 'https://graph.microsoft.com',
    'self_deployed': True,
    'creds_auth_id': {'identifier': '', 'password': '11111111-2222-3333-4444-555555555555'},
    'creds_tenant_id': {'identifier': '', 'password': '66666666-7777-8888-9999-000000000000'},
    'creds_enc_key': {'identifier': '', 'password': 'client-secret-value'},
    'handle_error': True,
}
TEST_ACCESS_TOKEN = 'test-access-token-value'
GRAPH_V1 = 'https://graph.microsoft.com/v1.0'


@pytest.fixture
def graph_client(monkeypatch):
    """A MicrosoftGraphUser.Client whose token is already valid, so tests see only the Graph requests."""
    import MicrosoftGraphUser as integration

    client = integration.build_client(dict(CLIENT_CREDENTIALS_PARAMS), 'test')
    monkeypatch.setattr(client, 'get_access_token', lambda *args, **kwargs: TEST_ACCESS_TOKEN)
    return client
