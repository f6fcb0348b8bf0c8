"""The Cortex XSOAR token broker ("oproxy"): ``POST /obtain-token`` (auth.md §2).

The body is JSON ``{app_name, registration_id, encrypted_token, scope, resource}``. ``encrypted_token`` is
``base64(nonce(12) || AES-GCM ciphertext || tag(16))`` under the registration's key; the plaintext is
``<epoch seconds>:<content>`` where content is the registration's Token or a refresh token the broker issued
earlier (single use, rotated on every call). Timestamps more than 5 minutes away from now are refused.

Errors are JSON ``{"title", "detail", "status"}``; when the failure is Entra's (a bad or revoked refresh token, an
unknown resource), ``detail`` reads ``Error: failed to get access token with err: <Entra OAuth JSON>``, the way the
broker wraps it. Every response carries ``Function-Execution-Id``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Blueprint, Response, request

from .errors import OAuthError, new_guid
from .state import current_state
from .tokens import Principal

blueprint = Blueprint("oproxy", __name__)
MAX_SKEW = 300


class BrokerError(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def _response(data: dict[str, Any], status: int, execution_id: str) -> Response:
    response = Response(json.dumps(data), status=status, content_type="application/json; charset=utf-8")
    response.headers["Function-Execution-Id"] = execution_id
    return response


def _entra(error: OAuthError) -> BrokerError:
    detail = "Error: failed to get access token with err: " + json.dumps(error.body())
    return BrokerError(401 if error.status in (400, 401) else error.status, "Unauthorized", detail)


@blueprint.post("/obtain-token")
def obtain_token() -> Response:
    execution_id = new_guid()
    try:
        return _response(_obtain(), 200, execution_id)
    except BrokerError as error:
        return _response({"title": error.title, "detail": error.detail, "status": error.status}, error.status,
                         execution_id)


def _obtain() -> dict[str, Any]:
    state = current_state()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BrokerError(400, "Bad Request", "The request body must be a JSON object.")
    registration = state.registry.oproxy.get(str(data.get("registration_id", "")))
    if registration is None:
        raise BrokerError(401, "Unauthorized", "Unknown registration_id.")
    if data.get("app_name") != registration.app_name:
        raise BrokerError(400, "Bad Request", f"The app_name '{data.get('app_name')}' does not match this "
                                              "registration.")
    content = _decrypt(registration.key, data.get("encrypted_token"))
    resource = data.get("resource") or ""
    with state.lock:
        if resource and resource.rstrip("/") != state.base_url:
            raise _entra(OAuthError(400, "invalid_resource", 500011,
                                    f"The resource principal named {resource} was not found in the tenant named "
                                    f"{state.domain}."))
        if content != registration.token:
            try:
                state.grants.redeem_refresh(content, registration.app.client_id)
            except OAuthError as error:
                if error.code == 9002313:  # neither the Token nor a refresh token we issued
                    error = OAuthError(400, "invalid_grant", 70000,
                                       "The provided value for the input parameter 'refresh_token' or 'assertion' is "
                                       "not valid.")
                raise _entra(error) from error
        app = registration.app
        principal = Principal(app_id=app.client_id, object_id=app.sp_id, display_name=app.display_name,
                              roles=tuple(app.roles))
        token, lifetime = state.tokens.issue(principal, lifetime=state.settings.token_lifetime)
        refresh = state.grants.issue_refresh(app.client_id, registration.registration_id, ["offline_access"])
    return {"access_token": token, "expires_in": lifetime, "refresh_token": refresh.token}


def _decrypt(key: bytes, blob: Any) -> str:
    if not isinstance(blob, str) or not blob:
        raise BrokerError(400, "Bad Request", "The encrypted_token field is required.")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BrokerError(400, "Bad Request", "The encrypted_token is not valid base64.") from exc
    if len(raw) < 12 + 16 + 1:
        raise BrokerError(400, "Bad Request", "The encrypted_token is too short.")
    try:
        plaintext = AESGCM(key).decrypt(raw[:12], raw[12:], None).decode()
    except (InvalidTag, UnicodeDecodeError) as exc:
        raise BrokerError(401, "Unauthorized", "Failed to decrypt the token: the key does not match this "
                                               "registration.") from exc
    stamp, separator, content = plaintext.partition(":")
    if not separator or not stamp.isdigit():
        raise BrokerError(400, "Bad Request", "The decrypted token is not in the form '<timestamp>:<token>'.")
    if abs(time.time() - int(stamp)) > MAX_SKEW:
        raise BrokerError(401, "Unauthorized", "The token timestamp is more than 5 minutes away from the server "
                                               "time; the request may be a replay.")
    return content
