"""Entra ID token endpoints, exercised with msal 1.39 itself where msal is the client."""

from __future__ import annotations

import base64
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

AADSTS_DESCRIPTION = re.compile(
    r"^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: "
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$", re.DOTALL)


def confidential(emulator, credential, app="default"):
    registrations = emulator.registrations
    return msal.ConfidentialClientApplication(
        registrations["apps"][app]["client_id"], client_credential=credential,
        authority=registrations["authority"], instance_discovery=False, verify=emulator.ca_bundle)


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def assert_entra_error(body, error, code):
    assert body["error"] == error, body
    assert body["error_codes"] == [code]
    match = AADSTS_DESCRIPTION.match(body["error_description"])
    assert match and int(match.group(1)) == code, body["error_description"]
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


def post_token(emulator, **data):
    return requests.post(emulator.token_url(), data=data, verify=emulator.ca_bundle, timeout=10)


def test_msal_client_secret(emulator, graph):
    app = emulator.registrations["apps"]["default"]
    emulator.clear_requests()
    result = confidential(emulator, app["client_secret"]).acquire_token_for_client([emulator.registrations["scope"]])
    assert result["token_type"] == "Bearer" and result["expires_in"] == 3599
    token_claims = claims(result["access_token"])
    assert token_claims["aud"] == emulator.base_url
    assert token_claims["tid"] == emulator.tenant_id
    assert token_claims["appid"] == app["client_id"]
    assert set(token_claims["roles"]) == set(app["roles"])
    graph.token = result["access_token"]
    assert graph.get("users").status_code == 200
    discovery = [r["path"] for r in emulator.requests()]
    assert discovery[:2] == [f"/{emulator.tenant_id}/v2.0/.well-known/openid-configuration",
                             f"/{emulator.tenant_id}/oauth2/v2.0/token"]


def test_msal_certificate_rs256_with_sha1_thumbprint(emulator):
    certificate = emulator.registrations["apps"]["default"]["certificate"]
    key = open(certificate["key_path"]).read()
    app = confidential(emulator, {"private_key": key, "thumbprint": certificate["thumbprint"]})
    assert "access_token" in app.acquire_token_for_client([emulator.registrations["scope"]])
    body = emulator.requests()[-1]["body"]
    assert body["client_assertion"] == "<redacted>" and "client_secret" not in body


def test_msal_certificate_ps256_with_sha256_thumbprint(emulator):
    certificate = emulator.registrations["apps"]["default"]["certificate"]
    credential = {"private_key": open(certificate["key_path"]).read(),
                  "public_certificate": open(certificate["cert_path"]).read()}
    result = confidential(emulator, credential).acquire_token_for_client([emulator.registrations["scope"]])
    assert "access_token" in result, result


def _assertion(emulator, *, key=None, alg="RS256", aud=None, exp_in=600, iss=None):
    app = emulator.registrations["apps"]["default"]
    certificate = app["certificate"]
    private_key = key or serialization.load_pem_private_key(open(certificate["key_path"], "rb").read(), None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    thumbprint = bytes.fromhex(certificate["thumbprint"])
    x5t = base64.urlsafe_b64encode(thumbprint).decode().rstrip("=")
    now = int(time.time())
    payload = {"aud": aud or emulator.token_url(), "iss": iss or app["client_id"], "sub": iss or app["client_id"],
               "iat": now, "exp": now + exp_in, "jti": str(uuid.uuid4())}
    return jwt.encode(payload, private_key, algorithm=alg, headers={"x5t": x5t})


@pytest.mark.parametrize(("tamper", "code"), [
    ({"key": "other"}, 700027),
    ({"aud": "https://login.microsoftonline.com/x/oauth2/v2.0/token"}, 700023),
    ({"exp_in": -60}, 700024),
    ({"iss": "00000000-0000-0000-0000-000000000000"}, 700021),
])
def test_client_assertion_is_verified(emulator, tamper, code):
    if tamper.get("key") == "other":
        tamper = {"key": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
    app = emulator.registrations["apps"]["default"]
    response = post_token(emulator, client_id=app["client_id"], grant_type="client_credentials",
                          scope=emulator.registrations["scope"],
                          client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                          client_assertion=_assertion(emulator, **tamper))
    assert response.status_code == 401
    assert_entra_error(response.json(), "invalid_client", code)


@pytest.mark.parametrize(("change", "status", "error", "code"), [
    ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
    ({"client_secret": None}, 401, "invalid_client", 7000218),
    ({"client_id": "11111111-1111-1111-1111-111111111111"}, 400, "unauthorized_client", 700016),
    ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_resource", 500011),
    ({"scope": "User.Read.All"}, 400, "invalid_scope", 1002012),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ({"grant_type": None}, 400, "invalid_request", 900144),
])
def test_client_credentials_errors(emulator, change, status, error, code):
    app = emulator.registrations["apps"]["default"]
    data = {"client_id": app["client_id"], "client_secret": app["client_secret"], "grant_type": "client_credentials",
            "scope": emulator.registrations["scope"], **change}
    response = post_token(emulator, **{k: v for k, v in data.items() if v is not None})
    assert response.status_code == status
    assert_entra_error(response.json(), error, code)


def test_expired_secret_and_correlation_id_echo(emulator):
    app = emulator.registrations["apps"]["default"]
    correlation = str(uuid.uuid4())
    response = requests.post(emulator.token_url(), verify=emulator.ca_bundle, timeout=10,
                             headers={"client-request-id": correlation},
                             data={"client_id": app["client_id"], "client_secret": app["expired_client_secret"],
                                   "grant_type": "client_credentials", "scope": emulator.registrations["scope"]})
    body = response.json()
    assert_entra_error(body, "invalid_client", 7000222)
    assert body["correlation_id"] == correlation


def test_unknown_tenant(emulator):
    url = f"{emulator.base_url}/contoso.example/v2.0/.well-known/openid-configuration"
    response = requests.get(url, verify=emulator.ca_bundle, timeout=10)
    assert response.status_code == 400 and response.json()["error_codes"] == [90002]
    app = emulator.registrations["apps"]["default"]
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal.ConfidentialClientApplication(app["client_id"], client_credential=app["client_secret"],
                                           authority=f"{emulator.base_url}/contoso.example",
                                           instance_discovery=False, verify=emulator.ca_bundle)


def test_tenant_domain_is_an_alias(emulator):
    app = emulator.registrations["apps"]["default"]
    authority = f"{emulator.base_url}/{emulator.registrations['domain']}"
    client = msal.ConfidentialClientApplication(app["client_id"], client_credential=app["client_secret"],
                                                authority=authority, instance_discovery=False,
                                                verify=emulator.ca_bundle)
    assert "access_token" in client.acquire_token_for_client([emulator.registrations["scope"]])


def test_msal_authorization_code_then_refresh(emulator):
    registrations = emulator.registrations
    app = registrations["apps"]["default"]
    client = confidential(emulator, app["client_secret"])
    scope = [registrations["scope"]]
    first = client.acquire_token_by_authorization_code(app["auth_codes"][0], scope,
                                                       redirect_uri=app["redirect_uris"][0])
    assert "refresh_token" in first and "id_token" in first, first
    token_claims = claims(first["access_token"])
    assert token_claims["idtyp"] == "user" and "Directory.AccessAsUser.All" in token_claims["scp"].split()
    assert token_claims["oid"] == registrations["delegated_user"]["id"]
    account = client.get_accounts()[0]
    assert account["username"] == registrations["delegated_user"]["userPrincipalName"]
    refreshed = client.acquire_token_silent(scope, account=account, force_refresh=True)
    assert refreshed and "access_token" in refreshed and refreshed["refresh_token"] != first["refresh_token"]
    # rotation: the first refresh token was consumed
    again = client.acquire_token_by_refresh_token(first["refresh_token"], scope)
    assert again["error"] == "invalid_grant" and again["error_codes"] == [70008]
    # a code works once
    reused = client.acquire_token_by_authorization_code(app["auth_codes"][0], scope,
                                                        redirect_uri=app["redirect_uris"][0])
    assert reused["error"] == "invalid_grant" and reused["error_codes"] == [54005]


def test_refresh_tokens_stay_valid_after_use_when_single_use_is_off(emulator):
    """Entra's behaviour for confidential clients: a refresh returns a new token, the old one keeps working until it
    expires or is revoked (the revoke knob covers used tokens too)."""
    emulator.configure(refresh_token_single_use=False)
    registrations = emulator.registrations
    app = registrations["apps"]["default"]
    client = confidential(emulator, app["client_secret"])
    scope = [registrations["scope"]]
    first = client.acquire_token_by_authorization_code(app["auth_codes"][1], scope,
                                                       redirect_uri=app["redirect_uris"][0])
    second = client.acquire_token_by_refresh_token(first["refresh_token"], scope)
    assert "access_token" in second and second["refresh_token"] != first["refresh_token"]
    again = client.acquire_token_by_refresh_token(first["refresh_token"], scope)
    assert "access_token" in again, again
    emulator.revoke_refresh_tokens()
    revoked = client.acquire_token_by_refresh_token(first["refresh_token"], scope)
    assert revoked["error"] == "invalid_grant" and revoked["error_codes"] == [50173]


def test_refresh_tokens_die_on_revoke_sign_in_sessions(emulator, graph):
    registrations = emulator.registrations
    app = registrations["apps"]["default"]
    client = confidential(emulator, app["client_secret"])
    first = client.acquire_token_by_authorization_code(app["auth_codes"][1], [registrations["scope"]],
                                                       redirect_uri=app["redirect_uris"][0])
    assert graph.post(f"users/{registrations['delegated_user']['id']}/revokeSignInSessions").json()["value"] is True
    result = client.acquire_token_by_refresh_token(first["refresh_token"], [registrations["scope"]])
    assert result["error_codes"] == [50173]


def test_revoke_fault_knob_kills_refresh_tokens(emulator):
    registrations = emulator.registrations
    app = registrations["apps"]["default"]
    client = confidential(emulator, app["client_secret"])
    first = client.acquire_token_by_authorization_code(app["auth_codes"][2], [registrations["scope"]],
                                                       redirect_uri=app["redirect_uris"][0])
    emulator.revoke_refresh_tokens()
    assert client.acquire_token_by_refresh_token(first["refresh_token"], [registrations["scope"]])["error_codes"] \
        == [50173]


@pytest.mark.filterwarnings("ignore:response_mode")
def test_authorize_redirects_with_a_code_msal_can_redeem(emulator):
    registrations = emulator.registrations
    app = registrations["apps"]["default"]
    client = confidential(emulator, app["client_secret"])
    flow = client.initiate_auth_code_flow([registrations["scope"]], redirect_uri=app["redirect_uris"][0])
    response = requests.get(flow["auth_uri"], verify=emulator.ca_bundle, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://localhost/myapp?code=")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert set(params) == {"code", "state", "session_state"}
    result = client.acquire_token_by_auth_code_flow(flow, params)  # PKCE S256 verified by the emulator
    assert "access_token" in result, result


def test_authorize_refuses_unregistered_redirect_and_renders_code_on_request(emulator):
    registrations = emulator.registrations
    app = registrations["apps"]["default"]
    base = registrations["authorize_url"]
    bad = requests.get(base, params={"client_id": app["client_id"], "response_type": "code",
                                     "redirect_uri": "https://evil.example/cb", "scope": registrations["scope"]},
                       verify=emulator.ca_bundle, timeout=10, allow_redirects=False)
    assert bad.status_code == 400 and "AADSTS50011" in bad.text
    shown = requests.get(base, params={"client_id": app["client_id"], "response_type": "code",
                                       "redirect_uri": app["redirect_uris"][0], "emulator_render": "1",
                                       "scope": f"offline_access {registrations['scope']}"},
                         headers={"Accept": "application/json"}, verify=emulator.ca_bundle, timeout=10)
    code = shown.json()["code"]
    token = post_token(emulator, client_id=app["client_id"], client_secret=app["client_secret"],
                       grant_type="authorization_code", code=code, redirect_uri=app["redirect_uris"][0])
    assert token.status_code == 200 and "refresh_token" in token.json()
    other_redirect = post_token(emulator, client_id=app["client_id"], client_secret=app["client_secret"],
                                grant_type="authorization_code", code=emulator.mint_auth_code(),
                                redirect_uri="https://localhost/other")
    assert_entra_error(other_redirect.json(), "invalid_grant", 500112)


def test_v1_token_endpoint_uses_resource_and_string_expiry(emulator, graph):
    app = emulator.registrations["apps"]["default"]
    response = requests.post(emulator.token_url("v1"), verify=emulator.ca_bundle, timeout=10, data={
        "client_id": app["client_id"], "client_secret": app["client_secret"], "grant_type": "client_credentials",
        "resource": emulator.base_url + "/"})
    body = response.json()
    assert response.status_code == 200 and isinstance(body["expires_in"], str) and body["resource"].endswith("/")
    graph.token = body["access_token"]
    assert graph.get("users").status_code == 200


def test_instance_discovery_endpoint_for_msal(emulator):
    app = emulator.registrations["apps"]["default"]
    client = msal.ConfidentialClientApplication(
        app["client_id"], client_credential=app["client_secret"], authority=emulator.registrations["authority"],
        instance_discovery=f"{emulator.base_url}/common/discovery/instance", verify=emulator.ca_bundle)
    assert "access_token" in client.acquire_token_for_client([emulator.registrations["scope"]])
    assert emulator.requests()[0]["path"] == "/common/discovery/instance"
