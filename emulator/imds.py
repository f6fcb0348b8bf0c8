"""Managed identity endpoints on the plain-HTTP loopback port.

* Azure VM IMDS: ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`` with ``Metadata: true``
  and optionally ``client_id`` / ``object_id`` / ``msi_res_id`` — msal's ``ManagedIdentityClient`` reaches it when
  ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` points at this port;
* App Service: ``GET /msi/token?api-version=2019-08-01&resource=...`` with ``X-IDENTITY-HEADER`` (msal uses it when
  ``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER`` are set), selectors ``client_id`` / ``object_id`` / ``mi_res_id``.

The resource must be this emulator's Graph base URL (with or without a trailing slash); anything else — e.g. the
worldwide ``https://graph.microsoft.com/`` — is refused like an unknown resource.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, request

from .errors import new_guid
from .registry import ManagedIdentity
from .state import EmulatorState, current_state
from .tokens import Principal

blueprint = Blueprint("imds", __name__)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json; charset=utf-8")


def _imds_error(error: str, description: str, status: int = 400) -> Response:
    return _json({"error": error, "error_description": description}, status)


def _resource_ok(state: EmulatorState, resource: str) -> bool:
    return resource.rstrip("/") in (state.base_url, state.base_url.replace("127.0.0.1", "localhost"))


def _unknown_resource(state: EmulatorState, resource: str) -> str:
    return (f"AADSTS500011: The resource principal named {resource} was not found in the tenant named "
            f"{state.domain}. This can happen if the application has not been installed by the administrator of "
            "the tenant or consented to by any user in the tenant. You might have sent your authentication request "
            "to the wrong tenant.")


def _issue(state: EmulatorState, identity: ManagedIdentity) -> tuple[str, int]:
    principal = Principal(app_id=identity.client_id, object_id=identity.object_id,
                          display_name=f"managed identity {identity.key}", roles=tuple(identity.roles))
    return state.tokens.issue(principal, lifetime=state.settings.token_lifetime)


@blueprint.get("/metadata/identity/oauth2/token")
def imds_token() -> Response:
    state = current_state()
    if request.headers.get("Metadata", "").lower() != "true":
        return _imds_error("invalid_request", "Required metadata header not specified")
    args = request.args
    if not args.get("api-version"):
        return _imds_error("invalid_request", "Required query variable 'api-version' is missing")
    resource = args.get("resource")
    if not resource:
        return _imds_error("invalid_request", "Required query variable 'resource' is missing")
    with state.lock:
        identity = state.registry.identity(client_id=args.get("client_id"), object_id=args.get("object_id"),
                                           resource_id=args.get("msi_res_id"))
        if identity is None:
            return _imds_error("invalid_request", "Identity not found")
        if not _resource_ok(state, resource):
            return _imds_error("invalid_resource", _unknown_resource(state, resource))
        token, lifetime = _issue(state, identity)
    now = int(time.time())
    return _json({"access_token": token, "client_id": identity.client_id, "expires_in": str(lifetime),
                  "expires_on": str(now + lifetime), "ext_expires_in": str(lifetime), "not_before": str(now),
                  "resource": resource, "token_type": "Bearer"})


@blueprint.get("/msi/token")
def app_service_token() -> Response:
    state = current_state()
    correlation = new_guid()
    if request.headers.get("X-IDENTITY-HEADER") != state.registry.identity_header:
        return _json({"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER header is missing or "
                                                    "invalid.", "correlationId": correlation}, 401)
    args = request.args
    if args.get("api-version") != "2019-08-01":
        return _json({"statusCode": 400, "message": "Invalid api-version: use 2019-08-01.",
                      "correlationId": correlation}, 400)
    resource = args.get("resource")
    if not resource:
        return _json({"statusCode": 400, "message": "The 'resource' query parameter is required.",
                      "correlationId": correlation}, 400)
    with state.lock:
        identity = state.registry.identity(client_id=args.get("client_id"),
                                           object_id=args.get("object_id") or args.get("principal_id"),
                                           resource_id=args.get("mi_res_id"))
        if identity is None:
            return _json({"statusCode": 400, "message": "No managed identity found for the specified selector.",
                          "correlationId": correlation}, 400)
        if not _resource_ok(state, resource):
            return _json({"statusCode": 500, "message": _unknown_resource(state, resource),
                          "correlationId": correlation}, 500)
        token, lifetime = _issue(state, identity)
    return _json({"access_token": token, "expires_on": str(int(time.time()) + lifetime), "resource": resource,
                  "token_type": "Bearer", "client_id": identity.client_id})
