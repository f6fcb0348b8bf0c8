"""Test-wide safety net: no test may open a connection to anything but loopback.

requests-mock already refuses unmatched URLs inside its context; this guard also covers code paths that run
outside it (msal, the emulator, subprocesses started by tests inherit nothing from it, so they get the same rule
from their own code).
"""
import socket

import pytest

from tests.e2e.loopback_guard.loopback_rule import is_loopback

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
        raise ConnectionRefusedError(f"tests may only reach loopback, not {address!r}")
    return _real_connect(self, address)


def _guarded_create_connection(address, *args, **kwargs):
    if not is_loopback(address):
        raise ConnectionRefusedError(f"tests may only reach loopback, not {address!r}")
    return _real_create_connection(address, *args, **kwargs)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket, "create_connection", _guarded_create_connection)
    yield


from tests.common import CLIENT_CREDENTIALS_PARAMS, TEST_ACCESS_TOKEN  # noqa: E402


@pytest.fixture
def graph_client(monkeypatch):
    """A MicrosoftGraphUser.Client whose token is already valid, so tests see only the Graph requests."""
    import MicrosoftGraphUser as integration

    client = integration.build_client(dict(CLIENT_CREDENTIALS_PARAMS), 'test')
    monkeypatch.setattr(client, 'get_access_token', lambda *args, **kwargs: TEST_ACCESS_TOKEN)
    return client


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Every wait of the client (throttling) and of the commands (replication delay), recorded, without waiting."""
    import MicrosoftApiModule
    import MicrosoftGraphUser as integration

    waited: list[float] = []
    monkeypatch.setattr(MicrosoftApiModule, 'ms_sleep', waited.append)
    monkeypatch.setattr(integration, 'ms_sleep', waited.append)
    return waited


@pytest.fixture
def fresh_runtime():
    """A blank demisto stand-in per test: no entries, logs or integration context from another test."""
    import demistomock as demisto

    demisto.reset()
    yield
    demisto.reset()


@pytest.fixture
def client(graph_client):
    return graph_client
