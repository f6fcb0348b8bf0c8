"""Managed identity: Azure VM IMDS (via msal + AZURE_POD_IDENTITY_AUTHORITY_HOST) and App Service."""

from __future__ import annotations

import jwt
import msal
import pytest
import requests


@pytest.fixture
def imds_env(emulator, monkeypatch):
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET",
                 "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.imds_url)
    return emulator


def roles(token):
    return jwt.decode(token, options={"verify_signature": False})["roles"]


def test_msal_user_assigned_identity(imds_env, graph):
    identity = imds_env.registrations["managed_identities"]["user_assigned"]
    client = msal.ManagedIdentityClient(msal.UserAssignedManagedIdentity(client_id=identity["client_id"]),
                                        http_client=requests.Session())
    result = client.acquire_token_for_client(resource=imds_env.base_url)
    assert result["token_type"] == "Bearer", result
    graph.token = result["access_token"]
    assert graph.get("users").status_code == 200
    logged = imds_env.requests()[-2]
    assert logged["server"] == "imds" and logged["path"] == "/metadata/identity/oauth2/token"
    assert "client_id=" in logged["query"] and "api-version=2018-02-01" in logged["query"]


def test_msal_system_assigned_identity_with_trailing_slash_resource(imds_env):
    client = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=requests.Session())
    result = client.acquire_token_for_client(resource=imds_env.base_url + "/")
    assert "access_token" in result, result
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["appid"] == \
        imds_env.registrations["managed_identities"]["system_assigned"]["client_id"]


def test_worldwide_graph_resource_is_refused(imds_env):
    client = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=requests.Session())
    result = client.acquire_token_for_client(resource="https://graph.microsoft.com/")
    assert result["error"] == "invalid_resource" and "AADSTS500011" in result["error_description"]


def test_imds_wire_rules(emulator):
    url = f"{emulator.imds_url}/metadata/identity/oauth2/token"
    params = {"api-version": "2018-02-01", "resource": emulator.base_url}
    no_header = requests.get(url, params=params, timeout=10)
    assert no_header.status_code == 400 and no_header.json()["error"] == "invalid_request"
    ok = requests.get(url, params=params, headers={"Metadata": "true"}, timeout=10).json()
    assert isinstance(ok["expires_in"], str) and isinstance(ok["expires_on"], str) and ok["resource"] == \
        emulator.base_url
    unknown = requests.get(url, params={**params, "client_id": "00000000-0000-0000-0000-000000000000"},
                           headers={"Metadata": "true"}, timeout=10)
    assert unknown.status_code == 400 and unknown.json()["error_description"] == "Identity not found"
    read_only = emulator.registrations["managed_identities"]["user_assigned_read_only"]
    by_object = requests.get(url, params={**params, "object_id": read_only["object_id"]},
                             headers={"Metadata": "true"}, timeout=10).json()
    assert roles(by_object["access_token"]) == ["User.Read.All"]
    by_resource_id = requests.get(url, params={**params, "msi_res_id": read_only["resource_id"]},
                                  headers={"Metadata": "true"}, timeout=10).json()
    assert by_resource_id["client_id"] == read_only["client_id"]


def test_msal_app_service_identity(emulator, monkeypatch):
    identities = emulator.registrations["managed_identities"]
    monkeypatch.setenv("IDENTITY_ENDPOINT", identities["identity_endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", identities["identity_header"])
    client = msal.ManagedIdentityClient(
        msal.UserAssignedManagedIdentity(client_id=identities["user_assigned"]["client_id"]),
        http_client=requests.Session())
    result = client.acquire_token_for_client(resource=emulator.base_url)
    assert "access_token" in result, result
    assert emulator.requests()[-1]["path"] == "/msi/token"
    assert emulator.requests()[-1]["headers"]["X-Identity-Header"] == "<redacted>"


def test_app_service_requires_identity_header(emulator):
    response = requests.get(emulator.registrations["managed_identities"]["identity_endpoint"],
                            params={"api-version": "2019-08-01", "resource": emulator.base_url}, timeout=10)
    assert response.status_code == 401 and response.json()["statusCode"] == 401
