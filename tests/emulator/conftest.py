"""Fixtures for the emulator's own tests. ``emulator`` (session-scoped start, reset per test) comes from
tests/conftest.py; this file adds token helpers, a Graph client and a second instance (another "cloud")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

import emulator as emulator_package


@pytest.fixture(autouse=True)
def _session_verify_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's ``verify`` (and msal uses a Session
    # with verify=<ca.pem>); without these variables the CA bundle we pass is what gets used.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def app_token(instance: emulator_package.Emulator, app: str = "default") -> str:
    """A client-credentials token for one of the registered apps (plain form POST, no msal)."""
    registration = instance.registrations["apps"][app]
    response = requests.post(instance.token_url(), verify=instance.ca_bundle, timeout=10, data={
        "client_id": registration["client_id"], "client_secret": registration["client_secret"],
        "grant_type": "client_credentials", "scope": f"{instance.base_url}/.default"})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


class Graph:
    """A tiny Graph client: paths are relative to ``/<version>/`` unless they are absolute URLs."""

    def __init__(self, instance: emulator_package.Emulator, token: str, version: str = "v1.0") -> None:
        self.instance = instance
        self.token = token
        self.version = version
        self.session = requests.Session()
        self.session.verify = instance.ca_bundle

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else f"{self.instance.base_url}/{self.version}/{path}"

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
                ) -> requests.Response:
        merged = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.session.request(method, self.url(path), headers=merged, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def get_all(self, path: str, **kwargs: Any) -> tuple[list[dict[str, Any]], int]:
        """Follow @odata.nextLink verbatim (same headers); returns (items, pages)."""
        response = self.get(path, **kwargs)
        kwargs.pop("params", None)
        items, pages = [], 0
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            items.extend(body["value"])
            pages += 1
            if "@odata.nextLink" not in body:
                return items, pages
            response = self.get(body["@odata.nextLink"], **kwargs)


class Clients:
    """Tokens and Graph clients for any emulator instance (e.g. ``other_emulator``)."""

    @staticmethod
    def token(instance: emulator_package.Emulator, app: str = "default") -> str:
        return app_token(instance, app)

    @staticmethod
    def graph(instance: emulator_package.Emulator, token: str | None = None, version: str = "v1.0") -> Graph:
        return Graph(instance, token if token is not None else app_token(instance), version)


@pytest.fixture
def clients() -> Clients:
    return Clients()


@pytest.fixture
def graph(emulator: emulator_package.Emulator) -> Graph:
    return Graph(emulator, app_token(emulator))


@pytest.fixture
def beta(emulator: emulator_package.Emulator) -> Graph:
    return Graph(emulator, app_token(emulator), version="beta")


@pytest.fixture(scope="session")
def other_emulator() -> Iterator[emulator_package.Emulator]:
    """A second instance: another cloud (own port, CA, signing key and Graph audience)."""
    instance = emulator_package.start(users=5)
    yield instance
    instance.stop()


def _graph_error(response: requests.Response) -> dict[str, Any]:
    """The ``error`` object of a Graph error body, after checking the shape every Graph error has."""
    body = response.json()
    error = body["error"]
    assert set(error) >= {"code", "message", "innerError"}, body
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}, body
    assert response.headers["request-id"] == error["innerError"]["request-id"]
    return dict(error)


@pytest.fixture
def error_of() -> Callable[[requests.Response], dict[str, Any]]:
    """Returns a checker: the ``error`` object of a Graph error response, shape verified."""
    return _graph_error


@pytest.fixture
def samples(emulator: emulator_package.Emulator) -> dict[str, dict[str, str]]:
    return dict(emulator.registrations["users"]["samples"])
