"""Entra ID (login) endpoints on the emulator's HTTPS origin.

* ``/<tenant>/v2.0/.well-known/openid-configuration`` (and the v1 document), ``/<tenant>/discovery/v2.0/keys``,
  ``/common/discovery/instance`` — what msal reads before asking for a token;
* ``POST /<tenant>/oauth2/v2.0/token`` — client_credentials (secret or certificate assertion),
  authorization_code and refresh_token (rotating);
* ``POST /<tenant>/oauth2/token`` — the v1 endpoint (``resource`` instead of ``scope``), including the MFA
  connector app whose secret ``addPassword`` mints;
* ``GET /<tenant>/oauth2/v2.0/authorize`` — signs the admin (or the ``login_hint`` user) in without a prompt and
  redirects to the registered redirect URI with a code.

Errors use Entra's OAuth body (``error``, ``error_description`` with ``AADSTSnnnnn: ...`` and the Trace ID /
Correlation ID / Timestamp lines, ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``).
"""

from __future__ import annotations

import html
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, request

from .errors import OAuthError, new_guid
from .registry import MFA_APP_ID, MFA_RESOURCE, AppRegistration
from .state import OIDC_SCOPES, EmulatorState, current_state
from .tokens import Principal, client_info, verify_client_assertion

blueprint = Blueprint("login", __name__)
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_GENERIC_TENANTS = ("common", "organizations")


def _json(data: Any, status: int = 200) -> Response:
    response = Response(json.dumps(data), status=status, content_type="application/json; charset=utf-8")
    response.headers["Cache-Control"] = "no-store, no-cache"
    response.headers["x-ms-request-id"] = new_guid()
    return response


def _oauth_error(error: OAuthError) -> Response:
    state = current_state()
    return _json(error.body(request.headers.get("client-request-id"), state.base_url), error.status)


def _check_tenant(state: EmulatorState, tenant: str, *, allow_generic: bool = True) -> None:
    known = {state.tenant_id.lower(), state.domain.lower()} | (set(_GENERIC_TENANTS) if allow_generic else set())
    if tenant.lower() not in known:
        raise OAuthError(400, "invalid_request", 90002,
                         f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
                         "signing into the correct cloud. Check with your subscription administrator, this may "
                         "happen if there are no active subscriptions for the tenant.")


# -- discovery --------------------------------------------------------------------------------------------------


@blueprint.get("/<tenant>/v2.0/.well-known/openid-configuration")
def openid_configuration(tenant: str) -> Response:
    state = current_state()
    try:
        _check_tenant(state, tenant)
    except OAuthError as error:
        body = error.body(request.headers.get("client-request-id"), state.base_url)
        body["error"] = "invalid_tenant"
        return _json(body, 400)
    base = f"{state.base_url}/{state.tenant_id}"
    return _json({
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": state.tokens.issuer,
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{state.base_url}/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "preferred_username", "name",
                             "tid", "ver", "oid"],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "NA",
        "cloud_instance_name": state.base_url.split("://", 1)[1],
        "cloud_graph_host_name": state.base_url.split("://", 1)[1],
        "msgraph_host": state.base_url.split("://", 1)[1],
        "rbac_url": state.base_url,
    })


@blueprint.get("/<tenant>/.well-known/openid-configuration")
def openid_configuration_v1(tenant: str) -> Response:
    state = current_state()
    try:
        _check_tenant(state, tenant)
    except OAuthError as error:
        return _oauth_error(error)
    base = f"{state.base_url}/{state.tenant_id}"
    return _json({"token_endpoint": f"{base}/oauth2/token", "authorization_endpoint": f"{base}/oauth2/authorize",
                  "jwks_uri": f"{state.base_url}/common/discovery/keys", "issuer": state.tokens.issuer,
                  "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"]})


@blueprint.get("/<tenant>/discovery/v2.0/keys")
@blueprint.get("/<tenant>/discovery/keys")
def keys(tenant: str) -> Response:
    return _json(current_state().tokens.jwks())


@blueprint.get("/common/discovery/instance")
def instance_discovery() -> Response:
    state = current_state()
    host = state.base_url.split("://", 1)[1]
    # msal builds this URL from the authority's host name without the port, so only the host name is compared.
    endpoint = urlsplit(request.args.get("authorization_endpoint", ""))
    tenant = endpoint.path.strip("/").split("/", 1)[0]
    if endpoint.hostname not in ("127.0.0.1", "localhost") or not tenant:
        return _oauth_error(OAuthError(400, "invalid_instance", 50049, "Unknown or invalid instance."))
    return _json({"tenant_discovery_endpoint": f"{state.base_url}/{tenant}/v2.0/.well-known/openid-configuration",
                  "api-version": "1.1",
                  "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]})


# -- client authentication and scopes ---------------------------------------------------------------------------


def _authenticate_client(state: EmulatorState, tenant: str, form: dict[str, str], token_url: str) -> AppRegistration:
    client_id = form.get("client_id", "")
    if not client_id:
        raise _missing("client_id")
    app = state.registry.app(client_id)
    if app is None:
        raise OAuthError(400, "unauthorized_client", 700016,
                         f"Application with identifier '{client_id}' was not found in the directory "
                         f"'{state.domain}'. This can happen if the application has not been installed by the "
                         "administrator of the tenant or consented to by any user in the tenant. You may have sent "
                         "your authentication request to the wrong tenant.")
    assertion = form.get("client_assertion")
    secret = form.get("client_secret")
    if assertion:
        if form.get("client_assertion_type") != JWT_BEARER:
            raise OAuthError(400, "invalid_request", 50027,
                             "Invalid client_assertion_type; expected "
                             "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.")
        suffix = token_url.split(f"/{tenant}/", 1)[-1]
        urls = {token_url} | {f"{state.base_url}/{t}/{suffix}" for t in (tenant, state.tenant_id, state.domain)}
        verify_client_assertion(assertion, client_id, state.registry, urls)
    elif secret:
        if secret in app.expired_secrets:
            raise OAuthError(401, "invalid_client", 7000222,
                             f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
                             "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
                             "using certificate credentials for added security: https://aka.ms/certCreds.")
        if secret not in app.secrets:
            raise OAuthError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the request is the "
                             "client secret value, not the client secret ID, for a secret added to app "
                             f"'{client_id}'.")
    else:
        raise OAuthError(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: 'client_assertion' or "
                         "'client_secret'.")
    return app


def _missing(name: str) -> OAuthError:
    return OAuthError(400, "invalid_request", 900144,
                      f"The request body must contain the following parameter: '{name}'.")


def _resource_matches(state: EmulatorState, resource: str) -> bool:
    resource = resource.rstrip("/")
    return resource in (state.base_url, state.base_url.replace("127.0.0.1", "localhost"))


def _unknown_resource(state: EmulatorState, resource: str) -> OAuthError:
    return OAuthError(400, "invalid_resource", 500011,
                      f"The resource principal named {resource} was not found in the tenant named {state.domain}. "
                      "This can happen if the application has not been installed by the administrator of the tenant "
                      "or consented to by any user in the tenant. You might have sent your authentication request to "
                      "the wrong tenant.")


def _split_scope(scope: str) -> tuple[str | None, str]:
    """('https://host:port', 'User.Read') for a resource-qualified scope, (None, name) for a bare one."""
    if "://" in scope:
        scheme, _, rest = scope.partition("://")
        host, _, name = rest.partition("/")
        name = name.lstrip("/")  # "https://graph//.default" is accepted like "https://graph/.default"
        return f"{scheme}://{host}", name
    return None, scope


def app_scope(state: EmulatorState, scope: str) -> None:
    """client_credentials takes exactly one ``<resource>/.default`` scope."""
    scopes = scope.split()
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise OAuthError(400, "invalid_scope", 1002012,
                         f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                         "scope value with /.default suffixed to the resource identifier (application ID URI).")
    resource, _ = _split_scope(scopes[0])
    if resource is None or not _resource_matches(state, resource):
        raise _unknown_resource(state, resource or scopes[0])


def delegated_scopes(state: EmulatorState, app: AppRegistration, scope: str) -> list[str]:
    """Graph scopes granted for a delegated request (``.default`` = everything consented) plus OIDC scopes."""
    granted: list[str] = []
    resources = set()
    for item in scope.split():
        if item in OIDC_SCOPES:
            granted.append(item)
            continue
        resource, name = _split_scope(item)
        if resource is not None:
            if not _resource_matches(state, resource):
                raise _unknown_resource(state, resource)
            resources.add(resource.rstrip("/"))
        if name == ".default":
            granted.extend(app.scopes)
        elif name in app.scopes:
            granted.append(name)
        else:
            raise OAuthError(400, "invalid_grant", 65001,
                             f"The user or administrator has not consented to use the application with ID "
                             f"'{app.client_id}' named '{app.display_name}'. Send an interactive authorization "
                             "request for this user and resource.")
    if len(resources) > 1:
        raise OAuthError(400, "invalid_scope", 28000,
                         "Provided value for the input parameter scope is not valid because it contains more than "
                         "one resource. Scope " + scope + " is not valid.")
    return list(dict.fromkeys(granted))


# -- token endpoints --------------------------------------------------------------------------------------------


@blueprint.post("/<tenant>/oauth2/v2.0/token")
def token_v2(tenant: str) -> Response:
    state = current_state()
    form = request.form.to_dict()
    try:
        _check_tenant(state, tenant)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _missing("grant_type")
        with state.lock:
            app = _authenticate_client(state, tenant, form, request.base_url)
            if grant_type == "client_credentials":
                if tenant.lower() in _GENERIC_TENANTS:
                    raise OAuthError(400, "invalid_request", 50059,
                                     "No tenant-identifying information found in either the request or implied by "
                                     "any provided credentials.")
                if not form.get("scope"):
                    raise _missing("scope")
                app_scope(state, form["scope"])
                return _json(_app_token(state, app))
            if grant_type == "authorization_code":
                return _json(_redeem_code(state, app, form))
            if grant_type == "refresh_token":
                return _json(_refresh(state, app, form))
            raise OAuthError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant_type}'.")
    except OAuthError as error:
        return _oauth_error(error)


def _app_token(state: EmulatorState, app: AppRegistration) -> dict[str, Any]:
    principal = Principal(app_id=app.client_id, object_id=app.sp_id, display_name=app.display_name,
                          roles=tuple(app.roles))
    token, lifetime = state.tokens.issue(principal, lifetime=state.settings.token_lifetime)
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}


def _redeem_code(state: EmulatorState, app: AppRegistration, form: dict[str, str]) -> dict[str, Any]:
    code = form.get("code")
    if not code:
        raise _missing("code")
    grant = state.grants.redeem_code(code, app.client_id, form.get("redirect_uri"), form.get("code_verifier"))
    scopes = delegated_scopes(state, app, form["scope"]) if form.get("scope") else list(grant.scopes)
    return _user_token(state, app, grant.user_id, scopes, form.get("client_info") == "1", grant.nonce)


def _refresh(state: EmulatorState, app: AppRegistration, form: dict[str, str]) -> dict[str, Any]:
    token = form.get("refresh_token")
    if not token:
        raise _missing("refresh_token")
    grant = state.grants.redeem_refresh(token, app.client_id, state.settings.refresh_token_single_use)
    scopes = delegated_scopes(state, app, form["scope"]) if form.get("scope") else list(grant.scopes)
    return _user_token(state, app, grant.subject, scopes, form.get("client_info") == "1")


def _user_token(state: EmulatorState, app: AppRegistration, user_id: str, scopes: list[str], with_client_info: bool,
                nonce: str | None = None) -> dict[str, Any]:
    user = state.tenant.find_user(user_id)
    if user is None or not user.get("accountEnabled", True):
        raise OAuthError(400, "invalid_grant", 50057, "The user account is disabled or was deleted.")
    graph_scopes = [s for s in scopes if s not in OIDC_SCOPES]
    principal = Principal(app_id=app.client_id, object_id=user["id"], display_name=app.display_name,
                          scopes=tuple(graph_scopes), user_id=user["id"], upn=user["userPrincipalName"])
    token, lifetime = state.tokens.issue(principal, lifetime=state.settings.token_lifetime)
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join([f"{state.base_url}/{s}" for s in graph_scopes] + [s for s in scopes if s in OIDC_SCOPES]),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }
    if "offline_access" in scopes:
        body["refresh_token"] = state.grants.issue_refresh(app.client_id, user["id"], scopes).token
    if "openid" in scopes:
        body["id_token"] = state.tokens.id_token(app.client_id, user["id"], user["userPrincipalName"],
                                                 user.get("displayName") or "", nonce)
    if with_client_info:
        body["client_info"] = client_info(user["id"], state.tenant_id)
    return body


@blueprint.post("/<tenant>/oauth2/token")
def token_v1(tenant: str) -> Response:
    """The v1 endpoint: ``resource`` instead of ``scope``; ``expires_in``/``expires_on`` as strings."""
    state = current_state()
    form = request.form.to_dict()
    try:
        _check_tenant(state, tenant, allow_generic=False)
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{form.get('grant_type', '')}'.")
        resource = form.get("resource")
        if not resource:
            raise _missing("resource")
        with state.lock:
            if form.get("client_id") == MFA_APP_ID:
                if resource.rstrip("/") != MFA_RESOURCE:
                    raise _unknown_resource(state, resource)
                if not state.registry.service_principal_secret_valid(MFA_APP_ID, form.get("client_secret", "")):
                    raise OAuthError(401, "invalid_client", 7000215,
                                     "Invalid client secret provided. Ensure the secret being sent in the request is "
                                     f"the client secret value, not the client secret ID, for a secret added to app "
                                     f"'{MFA_APP_ID}'.")
                principal = Principal(app_id=MFA_APP_ID, object_id=MFA_APP_ID, display_name="MFA connector")
                token, lifetime = state.tokens.issue(principal, audience=MFA_RESOURCE,
                                                     lifetime=state.settings.token_lifetime)
            else:
                app = _authenticate_client(state, tenant, form, request.base_url)
                if not _resource_matches(state, resource):
                    raise _unknown_resource(state, resource)
                principal = Principal(app_id=app.client_id, object_id=app.sp_id, display_name=app.display_name,
                                      roles=tuple(app.roles))
                token, lifetime = state.tokens.issue(principal, lifetime=state.settings.token_lifetime)
        now = int(time.time())
        return _json({"token_type": "Bearer", "expires_in": str(lifetime), "ext_expires_in": str(lifetime),
                      "expires_on": str(now + lifetime), "not_before": str(now), "resource": resource,
                      "access_token": token})
    except OAuthError as error:
        return _oauth_error(error)


# -- authorize --------------------------------------------------------------------------------------------------


@blueprint.get("/<tenant>/oauth2/v2.0/authorize")
def authorize(tenant: str) -> Response:
    """Sign in without a prompt and redirect to ``redirect_uri?code=...&state=...&session_state=...``.

    With ``emulator_render=1`` the page shows the code (and the redirect URL) instead of redirecting.
    """
    state = current_state()
    args = request.args
    try:
        _check_tenant(state, tenant)
        client_id = args.get("client_id", "")
        app = state.registry.app(client_id)
        if app is None:
            raise OAuthError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{client_id}' was not found in the directory "
                             f"'{state.domain}'.")
        redirect_uri = args.get("redirect_uri", "")
        if redirect_uri not in app.redirect_uris:
            raise OAuthError(400, "invalid_request", 50011,
                             f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                             f"redirect URIs configured for the application '{client_id}'. Make sure the redirect "
                             "URI sent in the request matches one added to your application in the Azure portal.")
    except OAuthError as error:
        return _error_page(error)
    params: dict[str, str] = {}
    try:
        if args.get("response_type") != "code":
            raise OAuthError(400, "unsupported_response_type", 900144,
                             "The request body must contain the following parameter: 'response_type'.")
        if not args.get("scope", "").strip():
            raise OAuthError(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: 'scope'.")
        with state.lock:
            scopes = delegated_scopes(state, app, args.get("scope", ""))
            user = state.tenant.find_user(args["login_hint"]) if args.get("login_hint") else state.delegated_user()
            if user is None or not user.get("accountEnabled", True):
                raise OAuthError(400, "access_denied", 50057, "The user account is disabled or does not exist.")
            grant = state.grants.issue_code(app.client_id, redirect_uri, user["id"], scopes,
                                            code_challenge=args.get("code_challenge"),
                                            code_challenge_method=args.get("code_challenge_method"),
                                            nonce=args.get("nonce"))
        params["code"] = grant.code
    except OAuthError as error:
        params = {"error": error.error, "error_description": str(error)}
    if args.get("state"):
        params["state"] = args["state"]
    params["session_state"] = str(uuid.uuid4())
    target = f"{redirect_uri}?{urlencode(params)}"
    if args.get("emulator_render") == "1":
        return _code_page(params, target)
    response = Response(status=302)
    response.headers["Location"] = target
    return response


def _error_page(error: OAuthError) -> Response:
    text = html.escape(str(error))
    page = (f"<html><body><h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p><p>{text}</p>"
            "</body></html>")
    return Response(page, status=error.status, content_type="text/html; charset=utf-8")


def _code_page(params: dict[str, str], target: str) -> Response:
    if request.accept_mimetypes.best == "application/json":
        return _json({**params, "redirect_url": target})
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
                   for k, v in params.items())
    page = (f"<html><body><h1>Entra ID emulator</h1><table>{rows}</table>"
            f"<p>Redirect: <code>{html.escape(target)}</code></p></body></html>")
    return Response(page, content_type="text/html; charset=utf-8")


@blueprint.get("/_emulator/callback")
def callback() -> Response:
    """A registered redirect URI that simply shows what the authorize endpoint sent."""
    params = request.args.to_dict()
    return _code_page(params, request.url)
