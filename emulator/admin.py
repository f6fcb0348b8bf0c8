"""The admin API under ``/_emulator/...`` (README "Admin API"). Every call needs the header
``X-Emulator-Admin-Token: <admin_token from emulator.json>`` (``/_emulator/callback``, a redirect target served by
login.py, is the only open path below ``/_emulator``)."""

from __future__ import annotations

import hmac
import json
import os
from typing import Any

from flask import Blueprint, Response, request

from . import tenant_methods
from .faults import FaultRule
from .grants import CODE_LIFETIME
from .registry import DEFAULT_REDIRECT_URI
from .schema import USER_SCHEMA
from .state import OIDC_SCOPES, current_state
from .tenant import User

blueprint = Blueprint("admin", __name__, url_prefix="/_emulator")
ADMIN_HEADER = "X-Emulator-Admin-Token"


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def _error(message: str, status: int = 400) -> Response:
    return _json({"error": message}, status)


@blueprint.before_request
def _guard() -> Response | None:
    supplied = request.headers.get(ADMIN_HEADER, "")
    if not hmac.compare_digest(supplied, current_state().admin_token):
        return _error(f"the {ADMIN_HEADER} header is missing or wrong", 401)
    return None


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@blueprint.get("/info")
def info() -> Response:
    return _json(current_state().info(os.getpid()))


@blueprint.post("/reset")
def reset() -> Response:
    current_state().reset()
    return _json({"reset": True})


# -- faults and the request log ---------------------------------------------------------------------------------


@blueprint.get("/faults")
def list_faults() -> Response:
    return _json(current_state().faults.rules())


@blueprint.post("/faults")
def add_fault() -> Response:
    try:
        rule = FaultRule.from_json(_body())
    except (TypeError, ValueError) as exc:
        return _error(str(exc))
    return _json(current_state().faults.add(rule).to_json(), 201)


@blueprint.delete("/faults")
def clear_faults() -> Response:
    current_state().faults.clear()
    return Response(status=204)


@blueprint.delete("/faults/<rule_id>")
def delete_fault(rule_id: str) -> Response:
    return Response(status=204) if current_state().faults.remove(rule_id) else _error("no such rule", 404)


@blueprint.get("/requests")
def requests_log() -> Response:
    since = int(request.args.get("since", "0") or 0)
    include_batch = request.args.get("include_batch", "") in ("1", "true")
    return _json(current_state().log.entries(since=since, include_batch=include_batch))


@blueprint.delete("/requests")
def clear_requests() -> Response:
    current_state().log.clear()
    return Response(status=204)


# -- tokens, sessions, settings ---------------------------------------------------------------------------------


@blueprint.post("/tokens/expire")
def expire_tokens() -> Response:
    current_state().expire_tokens()
    return _json({"expired": True})


@blueprint.post("/tokens/revoke")
def revoke_tokens() -> Response:
    current_state().revoke_refresh_tokens()
    return _json({"revoked": True})


@blueprint.post("/delta/expire")
def expire_delta() -> Response:
    state = current_state()
    with state.lock:
        state.delta_rounds.clear()
    return _json({"expired": True})


@blueprint.get("/config")
def get_config() -> Response:
    return _json(current_state().settings.to_json())


@blueprint.post("/config")
def set_config() -> Response:
    state = current_state()
    try:
        with state.lock:
            state.settings.update(_body())
            state.tokens.lifetime = state.settings.token_lifetime
    except ValueError as exc:
        return _error(str(exc))
    return _json(state.settings.to_json())


@blueprint.post("/auth-codes")
def mint_code() -> Response:
    """A fresh authorization code: ``{client_id?, user?, redirect_uri?, scopes?}`` (defaults: the default app, the
    admin user, https://localhost/myapp, everything the app has consented + OIDC scopes)."""
    state = current_state()
    data = _body()
    with state.lock:
        app = state.registry.app(data["client_id"]) if data.get("client_id") else state.registry.app_by_key("default")
        if app is None:
            return _error("unknown client_id", 404)
        user = state.tenant.find_user(data["user"]) if data.get("user") else state.delegated_user()
        if user is None:
            return _error("unknown user", 404)
        scopes = data.get("scopes") or list(app.scopes) + list(OIDC_SCOPES)
        grant = state.grants.issue_code(app.client_id, data.get("redirect_uri", DEFAULT_REDIRECT_URI), user["id"],
                                        list(scopes), lifetime=int(data.get("lifetime", CODE_LIFETIME)))
    return _json({"code": grant.code, "client_id": app.client_id, "user_id": user["id"],
                  "redirect_uri": grant.redirect_uri, "scopes": grant.scopes}, 201)


# -- tenant inspection and out-of-band changes ------------------------------------------------------------------


def _public(user: User) -> dict[str, Any]:
    """Every property, plus the internal facts tests care about (manager, password, flags, deletion)."""
    view: dict[str, Any] = {k: v for k, v in user.items() if not k.startswith("_")}
    view["_manager"] = user.get("_manager")
    view["_password"] = user.get("_password")
    view["_version"] = user.get("_v")
    for flag in ("_forceChangePasswordNextSignIn", "_forceChangePasswordNextSignInWithMfa"):
        if flag in user:
            view[flag] = user[flag]
    return view


@blueprint.get("/users")
def list_users() -> Response:
    state = current_state()
    offset = int(request.args.get("offset", "0"))
    limit = int(request.args.get("limit", "100"))
    with state.lock:
        users = list(state.tenant.iter_users())
        page = [_public(u) for u in users[offset:offset + limit]]
        return _json({"total": len(users), "users": page, "deleted": len(state.tenant.deleted),
                      "version": state.tenant.version})


def _lookup(key: str) -> User | None:
    state = current_state()
    return state.tenant.find_user(key) or state.tenant.deleted.get(key)


@blueprint.get("/users/<path:key>/methods")
def user_methods(key: str) -> Response:
    state = current_state()
    with state.lock:
        user = _lookup(key)
        if user is None:
            return _error("no such user", 404)
        methods = tenant_methods.methods_of(user, state.seed)
        return _json({kind: [dict(m) for m in items] for kind, items in methods.items()})


@blueprint.get("/users/<path:key>")
def get_user(key: str) -> Response:
    state = current_state()
    with state.lock:
        user = _lookup(key)
        return _json(_public(user)) if user else _error("no such user", 404)


@blueprint.patch("/users/<path:key>")
def patch_user(key: str) -> Response:
    """Change properties out of band (as another admin would); the change shows up in delta queries."""
    state = current_state()
    data = _body()
    unknown = [name for name in data if name not in USER_SCHEMA]
    if unknown:
        return _error(f"unknown properties: {', '.join(unknown)}")
    with state.lock:
        user = state.tenant.find_user(key)
        if user is None:
            return _error("no such user", 404)
        state.tenant.update_user(user, dict(data))
        return _json(_public(user))


@blueprint.delete("/users/<path:key>")
def delete_user(key: str) -> Response:
    """Soft delete (``?permanent=true``: permanent; also purges an already soft-deleted user)."""
    state = current_state()
    permanent = request.args.get("permanent", "") in ("1", "true")
    with state.lock:
        user = state.tenant.find_user(key)
        if user is not None:
            state.tenant.delete_user(user, permanent=permanent)
        elif not (permanent and state.tenant.purge_deleted(key)):
            return _error("no such user", 404)
    return Response(status=204)
