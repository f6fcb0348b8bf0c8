"""Bearer checks on every Graph call: presence, signature, expiry, audience (other cloud), permissions."""

from __future__ import annotations

import time

import jwt
import pytest
import requests


def test_missing_and_garbage_tokens(graph, error_of):
    graph.token = ""
    response = graph.get("users")
    assert response.status_code == 401 and error_of(response)["code"] == "InvalidAuthenticationToken"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    graph.token = "not-a-jwt"
    assert graph.get("users").status_code == 401


def test_forged_signature(graph, error_of, emulator):
    claims = jwt.decode(graph.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "a-shared-secret-of-at-least-32-bytes!", algorithm="HS256")
    graph.token = forged
    assert error_of(graph.get("users"))["message"] == "Access token validation failure."


def test_expired_tokens(graph, emulator, error_of, clients):
    emulator.expire_tokens()
    response = graph.get("users")
    assert response.status_code == 401
    assert error_of(response)["message"] == "Lifetime validation failed, the token is expired."
    graph.token = clients.token(emulator)
    assert graph.get("users").status_code == 200


def test_short_token_lifetime_knob(emulator, clients):
    emulator.configure(token_lifetime=1)
    token = clients.token(emulator)
    assert jwt.decode(token, options={"verify_signature": False})["exp"] - time.time() <= 1
    time.sleep(1.1)
    assert clients.graph(emulator, token).get("users").status_code == 401


def test_token_from_another_cloud_is_refused(emulator, other_emulator, error_of, clients):
    foreign = clients.token(other_emulator)
    response = clients.graph(emulator, foreign).get("users")
    assert response.status_code == 401
    assert error_of(response)["message"] == "Access token validation failure. Invalid audience."
    own = clients.graph(other_emulator, foreign).get("users")
    assert own.status_code == 200 and len(own.json()["value"]) == 5


def test_token_for_the_mfa_resource_is_not_a_graph_token(emulator, graph, clients):
    sp = emulator.registrations["mfa_service_principal_id"]
    secret = graph.post(f"servicePrincipals/{sp}/addPassword",
                        json={"passwordCredential": {"displayName": "MFA App Secret"}}).json()["secretText"]
    token = requests.post(emulator.token_url("v1"), verify=emulator.ca_bundle, timeout=10, data={
        "resource": "https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector",
        "client_id": emulator.registrations["mfa_app_id"], "client_secret": secret,
        "grant_type": "client_credentials", "scope": "openid"}).json()
    assert "access_token" in token and isinstance(token["expires_on"], str)
    assert clients.graph(emulator, token["access_token"]).get("users").status_code == 401


@pytest.mark.parametrize(("app", "method", "path", "body", "status"), [
    ("read_only", "GET", "users", None, 200),
    ("read_only", "PATCH", "users/{ceo}", {"jobTitle": "x"}, 403),
    ("read_only", "POST", "users/{ceo}/revokeSignInSessions", None, 403),
    ("read_only", "GET", "users/{ceo}/authentication/methods", None, 403),
    ("no_permissions", "GET", "users", None, 403),
    ("least_privilege", "PATCH", "users/{ceo}", {"accountEnabled": False}, 204),
    ("least_privilege", "GET", "users/{ceo}/memberOf", None, 200),
    ("least_privilege", "POST", "users/{ceo}/authentication/temporaryAccessPassMethods", {}, 201),
    ("least_privilege", "GET", "users", None, 200),
])
def test_permissions(emulator, samples, error_of, clients, app, method, path, body, status):
    client = clients.graph(emulator, clients.token(emulator, app))
    response = client.request(method, path.format(ceo=samples["ceo"]["id"]), json=body)
    assert response.status_code == status, response.text
    if status == 403:
        assert error_of(response) == {**error_of(response), "code": "Authorization_RequestDenied",
                                      "message": "Insufficient privileges to complete the operation."}


def test_sign_in_activity_needs_audit_log(emulator, clients):
    client = clients.graph(emulator, clients.token(emulator, "least_privilege"))
    assert client.get("users", params={"$select": "signInActivity"}).status_code == 403
    full = clients.graph(emulator)
    assert full.get("users", params={"$select": "signInActivity", "$top": "121"}).status_code == 400
    assert full.get("users", params={"$select": "displayName,signInActivity", "$top": "120"}).status_code == 200
