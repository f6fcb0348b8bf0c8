"""Graph ``/users/{id}/authentication/...``: method lists, get, delete, Temporary Access Pass creation, the
resetPassword long-running operation and (beta) signInPreferences."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from . import tenant_methods
from .errors import GraphError, bad_request, iso_z, not_found, utc_now
from .graph import GraphRequest, GraphResponse, collection, context_url, require, route
from .graph_users import password_is_complex
from .odata import parse_top
from .state import EmulatorState, current_state
from .tenant import User

_TAP = "temporaryAccessPassMethods"
_TAP_FIELDS = {"lifetimeInMinutes", "isUsableOnce", "startDateTime"}


def _user(state: EmulatorState, key: str, segment: str | None = None) -> User:
    user = state.tenant.find_user(key)
    if user is None:
        if segment == _TAP:
            raise GraphError(404, "itemNotFound", "The specified user could not be found.")
        raise not_found(key)
    return user


def _kind(segment: str) -> str:
    entry = tenant_methods.COLLECTIONS.get(segment)
    if entry is None:
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
    return entry[0]


def _missing_method(method_id: str) -> GraphError:
    return GraphError(404, "itemNotFound", f"A key with identifier '{method_id}' was not found.")


def _read_permission(req: GraphRequest, segment: str) -> None:
    require(req, "tap.read" if segment == _TAP else "methods.read")


def _fragment(user: User, tail: str) -> str:
    return f"users('{user['id']}')/authentication/{tail}"


@route("GET", "users/{key}/authentication/methods")
def list_all_methods(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "methods.read")
    top = parse_top(req.query.get("$top"))
    user = _user(state, key)
    items = [tenant_methods.render(kind, method)
             for kind, methods in tenant_methods.methods_of(user, state.seed).items() for method in methods]
    return collection(state, req, items, _fragment(user, "methods"), top=top)


@route("GET", "users/{key}/authentication/methods/{method_id}")
def get_any_method(req: GraphRequest, key: str, method_id: str) -> GraphResponse:
    state = current_state()
    require(req, "methods.read")
    user = _user(state, key)
    found = tenant_methods.find(user, state.seed, method_id)
    if found is None:
        raise _missing_method(method_id)
    kind, method = found
    body = {"@odata.context": context_url(state, req, _fragment(user, "methods/$entity")),
            **tenant_methods.render(kind, method)}
    return GraphResponse(200, body)


@route("GET", "users/{key}/authentication/{segment}")
def list_methods(req: GraphRequest, key: str, segment: str) -> GraphResponse:
    state = current_state()
    kind = _kind(segment)
    _read_permission(req, segment)
    top = parse_top(req.query.get("$top"))
    user = _user(state, key, segment)
    items = [tenant_methods.render(kind, m) for m in tenant_methods.methods_of(user, state.seed)[kind]]
    return collection(state, req, items, _fragment(user, segment), top=top)


@route("GET", "users/{key}/authentication/{segment}/{method_id}")
def get_method(req: GraphRequest, key: str, segment: str, method_id: str) -> GraphResponse:
    state = current_state()
    kind = _kind(segment)
    _read_permission(req, segment)
    user = _user(state, key, segment)
    found = tenant_methods.find(user, state.seed, method_id, kind)
    if found is None:
        raise _missing_method(method_id)
    body = {"@odata.context": context_url(state, req, _fragment(user, f"{segment}/$entity")),
            **tenant_methods.render(kind, found[1])}
    return GraphResponse(200, body)


@route("DELETE", "users/{key}/authentication/{segment}/{method_id}")
def delete_method(req: GraphRequest, key: str, segment: str, method_id: str) -> GraphResponse:
    state = current_state()
    kind = _kind(segment)
    require(req, "tap.write" if segment == _TAP else "methods.write")
    if kind == "password":
        raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    user = _user(state, key, segment)
    if not tenant_methods.remove(user, state.seed, kind, method_id):
        raise _missing_method(method_id)
    return GraphResponse(204)


@route("POST", "users/{key}/authentication/temporaryAccessPassMethods")
def create_tap(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "tap.write")
    data = req.json()
    if not isinstance(data, dict):
        raise bad_request("Invalid request body.", code="BadRequest")
    unknown = {k for k in data if not k.startswith("@odata.")} - _TAP_FIELDS
    if unknown:
        raise bad_request(f"Property '{sorted(unknown)[0]}' does not exist on type "
                          "'microsoft.graph.temporaryAccessPassAuthenticationMethod'.", code="BadRequest")
    user = _user(state, key, _TAP)
    policy = state.settings.tap_policy
    if not policy["isEnabled"]:
        raise bad_request("Converged UserCredentialPolicy does not allow the user to use Temporary Access Pass.",
                          code="BadRequest")
    lifetime = data.get("lifetimeInMinutes", policy["defaultLifetimeInMinutes"])
    low, high = policy["minimumLifetimeInMinutes"], policy["maximumLifetimeInMinutes"]
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not low <= lifetime <= high:
        raise bad_request(f"The lifetimeInMinutes value must be an integer between {low} and {high}.",
                          code="BadRequest")
    usable_once = data.get("isUsableOnce", policy["isUsableOnce"])
    if not isinstance(usable_once, bool):
        raise bad_request(f"Cannot convert the literal '{usable_once}' to the expected type 'Edm.Boolean'.",
                          code="BadRequest")
    start = _parse_start(data.get("startDateTime"))
    method, code = tenant_methods.create_tap(user, state.seed, lifetime, usable_once, start)
    body = {"@odata.context": context_url(state, req, _fragment(user, f"{_TAP}/$entity")),
            **tenant_methods.render("temporaryAccessPass", method)}
    body["temporaryAccessPass"] = code
    return GraphResponse(201, body)


def _parse_start(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset'.",
                          code="BadRequest")
    try:
        start = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset'.",
                          code="BadRequest") from exc
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    if start < utc_now() - dt.timedelta(minutes=5):
        raise bad_request("The startDateTime of the Temporary Access Pass must be in the future.", code="BadRequest")
    return start


# -- resetPassword and its operation ----------------------------------------------------------------------------


@route("POST", "users/{key}/authentication/methods/{method_id}/resetPassword")
@route("POST", "users/{key}/authentication/passwordMethods/{method_id}/resetPassword")
def reset_password(req: GraphRequest, key: str, method_id: str) -> GraphResponse:
    state = current_state()
    require(req, "methods.write")
    data = req.json() if req.body.strip() else {}
    new_password = data.get("newPassword") if isinstance(data, dict) else None
    user = _user(state, key)
    found = tenant_methods.find(user, state.seed, method_id, "password")
    if found is None:
        raise _missing_method(method_id)
    operation_id = str(uuid.uuid4())
    now = iso_z(utc_now())
    state.operations[operation_id] = {"id": operation_id, "user_id": user["id"], "createdDateTime": now,
                                      "lastActionDateTime": now, "polls": 0, "_password": new_password,
                                      "resourceLocation": f"{state.base_url}/{req.version}/users/{user['id']}/"
                                                          f"authentication/passwordMethods/{method_id}"}
    location = f"{state.base_url}/{req.version}/users/{user['id']}/authentication/operations/{operation_id}"
    return GraphResponse(202, None, {"Location": location})


@route("GET", "users/{key}/authentication/operations/{operation_id}")
def get_operation(req: GraphRequest, key: str, operation_id: str) -> GraphResponse:
    """notStarted -> running -> succeeded (or failed) over successive GETs (the operation_polls setting)."""
    state = current_state()
    require(req, "methods.read")
    user = _user(state, key)
    operation = state.operations.get(operation_id)
    if operation is None or operation["user_id"] != user["id"]:
        raise _missing_method(operation_id)
    operation["polls"] += 1
    polls = state.settings.operation_polls
    status, detail = "succeeded", None
    if operation["polls"] <= polls:
        status = "notStarted" if operation["polls"] == 1 else "running"
    elif "outcome" in operation:
        status, detail = operation["outcome"]
    else:
        password = operation["_password"]
        if password is not None and not password_is_complex(password):
            status, detail = "failed", "The password does not meet the password complexity requirements."
        else:
            state.tenant.update_user(user, {"passwordProfile": {"password": password or uuid.uuid4().hex + "Aa1!"}})
            state.grants.revoke_subject(user["id"])
        operation["outcome"] = (status, detail)
    operation["lastActionDateTime"] = iso_z(utc_now())
    body = {"@odata.context": context_url(state, req, _fragment(user, "operations/$entity")),
            "id": operation_id, "createdDateTime": operation["createdDateTime"],
            "lastActionDateTime": operation["lastActionDateTime"], "status": status, "statusDetail": detail,
            "resourceLocation": operation["resourceLocation"]}
    return GraphResponse(200, body)


# -- beta signInPreferences -------------------------------------------------------------------------------------


@route("GET", "users/{key}/authentication/signInPreferences", versions=("beta",))
def sign_in_preferences(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "methods.read")
    user = _user(state, key)
    methods = tenant_methods.methods_of(user, state.seed)
    system = ("Fido2" if methods["fido2"] else "push" if methods["microsoftAuthenticator"]
              else "sms" if methods["phone"] else None)
    preferred = user.get("_preferred_method", "push" if methods["microsoftAuthenticator"] else
                         "sms" if methods["phone"] else None)
    body = {"@odata.context": context_url(state, req, _fragment(user, "signInPreferences")),
            "isSystemPreferredAuthenticationMethodEnabled": True,
            "userPreferredMethodForSecondaryAuthentication": preferred,
            "systemPreferredAuthenticationMethod": system}
    return GraphResponse(200, body)


@route("PATCH", "users/{key}/authentication/signInPreferences", versions=("beta",))
def update_sign_in_preferences(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "methods.write")
    data = req.json()
    user = _user(state, key)
    allowed = {"push", "oath", "voiceMobile", "voiceAlternateMobile", "voiceOffice", "sms", "none",
               "unknownFutureValue"}
    preferred = data.get("userPreferredMethodForSecondaryAuthentication") if isinstance(data, dict) else None
    if preferred not in allowed:
        raise bad_request("Invalid value specified for property 'userPreferredMethodForSecondaryAuthentication'.",
                          code="BadRequest")
    user["_preferred_method"] = preferred
    return GraphResponse(204)
