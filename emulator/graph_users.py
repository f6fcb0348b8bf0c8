"""Graph ``/users``: list (paging, $filter, $search, $select, $top, $count, $orderby), get, create, update, delete,
revokeSignInSessions."""

from __future__ import annotations

import re
import time
from typing import Any

from .errors import GraphError, bad_request, iso_z, not_found, unsupported_query, utc_now
from .graph import (
    GraphRequest,
    GraphResponse,
    context_url,
    decode_skiptoken,
    next_link,
    page_size,
    require,
    route,
)
from .odata import EntityType, parse_count, parse_filter, parse_orderby, parse_search, parse_select, parse_top
from .schema import (
    BOOL,
    COMPLEX,
    COMPLEXES,
    DATE,
    PASSWORD_PROFILE_KEYS,
    STRING,
    STRINGS,
    USER_DEFAULT_PROPERTIES,
    USER_ENDSWITH,
    USER_FILTERABLE,
    USER_READ_ONLY,
    USER_REQUIRED_ON_CREATE,
    USER_SCHEMA,
    USER_SYNCED_PROPERTIES,
)
from .state import EmulatorState, current_state
from .tenant import User, user_property

USER = EntityType("User", "microsoft.graph.user", USER_SCHEMA, USER_FILTERABLE, USER_ENDSWITH, user_property)
SIGN_IN_ACTIVITY_MAX_TOP = 120
_ADVANCED_DOCS = "Refer to https://aka.ms/graph-docs/advanced-queries for more information"


# -- shared helpers ---------------------------------------------------------------------------------------------


def find_user(state: EmulatorState, key: str) -> User:
    """The live user addressed by id or UPN, or a 404 in Graph's words."""
    user = state.tenant.find_user(key)
    if user is None:
        raise not_found(key)
    return user


def render(user: User, select: list[str], odata_type: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.type": "#microsoft.graph.user"} if odata_type else {}
    body.update((name, user_property(user, name)) for name in select)
    return body


def select_fragment(entity_set: str, select: list[str] | None) -> str:
    return f"{entity_set}({','.join(select)})" if select else entity_set


def check_sign_in_activity(req: GraphRequest, names: set[str], top: int | None) -> None:
    """signInActivity needs AuditLog.Read.All and caps the page at 120 (graph.md §3)."""
    if "signInActivity" not in names:
        return
    if "AuditLog.Read.All" not in req.granted and not req.delegated:
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    if top is not None and top > SIGN_IN_ACTIVITY_MAX_TOP:
        raise bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and {SIGN_IN_ACTIVITY_MAX_TOP} "
                          "inclusive.")


def check_advanced(req: GraphRequest, operators: list[str], count: bool) -> None:
    """ne / not / endsWith need ConsistencyLevel: eventual *and* $count=true (Graph's advanced-query rule)."""
    if not operators:
        return
    operator = operators[0]
    if not req.eventual:
        raise unsupported_query(f"Operator '{operator}' is not supported because the 'ConsistencyLevel:eventual' "
                                f"header is missing. {_ADVANCED_DOCS}")
    if not count:
        raise unsupported_query(f"Operator '{operator}' is not supported because the required parameters might be "
                                "missing. Try adding $count=true query parameter and ConsistencyLevel:eventual "
                                f"header. {_ADVANCED_DOCS}")


def _expand_manager(state: EmulatorState, req: GraphRequest) -> list[str] | None:
    """The $select of ``$expand=manager`` / ``manager($select=a,b)``; None when not expanding."""
    expand = req.query.get("$expand")
    if not expand:
        return None
    match = re.fullmatch(r"manager(?:\(\$select=([^)]*)\))?", expand.strip())
    if match is None:
        raise bad_request(f"Parsing OData Select and Expand failed: Could not find a property named "
                          f"'{expand.split('(')[0]}' on type 'microsoft.graph.user'.")
    if req.eventual:
        raise unsupported_query("$expand is not supported together with advanced queries.")
    return parse_select(match.group(1), USER, ("id", "displayName")) if match.group(1) else ["id", "displayName"]


def _add_manager(state: EmulatorState, body: dict[str, Any], user: User, select: list[str] | None) -> None:
    if select is None:
        return
    manager = state.tenant.manager_of(user)
    if manager is not None:
        body["manager"] = render(manager, select, odata_type=True)


# -- list -------------------------------------------------------------------------------------------------------


@route("GET", "users")
def list_users(req: GraphRequest) -> GraphResponse:
    state = current_state()
    require(req, "users.read")
    select = parse_select(req.query.get("$select"), USER, USER_DEFAULT_PROPERTIES)
    top = parse_top(req.query.get("$top"))
    count = parse_count(req.query.get("$count")) and req.eventual  # without the header Graph ignores $count
    filter_text = req.query.get("$filter", "").strip()
    predicates = []
    referenced = set(select)
    if filter_text:
        info = parse_filter(filter_text, USER)
        check_advanced(req, info.advanced_operators, count)
        predicates.append(info.predicate)
        referenced |= info.properties
    search_text = req.query.get("$search")
    if search_text is not None:
        if not req.eventual:
            raise unsupported_query("Request with $search query parameter only works through MSGraph with a special "
                                    "request header: 'ConsistencyLevel: eventual'")
        predicates.append(parse_search(search_text.strip(), USER))
    order = parse_orderby(req.query.get("$orderby"), USER)
    if order is not None and predicates and not (req.eventual and count):
        raise unsupported_query("Sorting not supported for current query.")
    check_sign_in_activity(req, referenced, top)
    expand = _expand_manager(state, req)
    size = page_size(state, req, top)

    def matches(user: User) -> bool:
        return all(test(user) for test in predicates)

    token = decode_skiptoken(req.query["$skiptoken"]) if "$skiptoken" in req.query else {}
    body: dict[str, Any] = {"@odata.context": context_url(state, req, select_fragment(
        "users", select if "$select" in req.query else None))}
    if count and not token:
        body["@odata.count"] = sum(1 for user in state.tenant.iter_users() if matches(user))
    if order is None:
        page, more = _cursor_page(state, matches, int(token.get("a", -1)), size)
        if more:
            body["@odata.nextLink"] = next_link(state, req, {"a": page[-1]["_seq"]})
    else:
        page, more = _sorted_page(state, matches, order, int(token.get("o", 0)), size)
        if more:
            body["@odata.nextLink"] = next_link(state, req, {"o": int(token.get("o", 0)) + size})
    values = []
    for user in page:
        item = render(user, select)
        _add_manager(state, item, user, expand)
        values.append(item)
    body["value"] = values
    return GraphResponse(200, body)


def _cursor_page(state: EmulatorState, matches: Any, after: int, size: int) -> tuple[list[User], bool]:
    page: list[User] = []
    for user in state.tenant.iter_users(after):
        if not matches(user):
            continue
        if len(page) == size:
            return page, True
        page.append(user)
    return page, False


def _sorted_page(state: EmulatorState, matches: Any, order: tuple[str, bool], offset: int, size: int
                 ) -> tuple[list[User], bool]:
    prop, descending = order
    users = [u for u in state.tenant.iter_users() if matches(u)]
    present = [u for u in users if user_property(u, prop) is not None]
    missing = [u for u in users if user_property(u, prop) is None]
    present.sort(key=lambda u: str(user_property(u, prop)).casefold(), reverse=descending)
    ordered = present + missing
    return ordered[offset:offset + size], offset + size < len(ordered)


# -- single user ------------------------------------------------------------------------------------------------


@route("GET", "users/{key}")
def get_user(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.read")
    select = parse_select(req.query.get("$select"), USER, USER_DEFAULT_PROPERTIES)
    check_sign_in_activity(req, set(select), None)
    expand = _expand_manager(state, req)
    user = find_user(state, key)
    fragment = select_fragment("users", select if "$select" in req.query else None) + "/$entity"
    body = {"@odata.context": context_url(state, req, fragment), **render(user, select)}
    _add_manager(state, body, user, expand)
    return GraphResponse(200, body)


@route("POST", "users")
def create_user(req: GraphRequest) -> GraphResponse:
    state = current_state()
    require(req, "users.create")
    data = req.json()
    if not isinstance(data, dict):
        raise bad_request("Invalid request body: a user object is expected.", code="BadRequest")
    changes = validate_user_write(state, data, None)
    for name in USER_REQUIRED_ON_CREATE:
        if data.get(name) in (None, ""):
            raise bad_request(f"Invalid value specified for property '{name}' of resource 'User'.")
    if not (data.get("passwordProfile") or {}).get("password"):
        raise bad_request("Invalid value specified for property 'passwordProfile' of resource 'User'.")
    user = state.tenant.add_user(changes)
    if state.settings.replication_delay_ms:
        user["_visible_at"] = time.time() + state.settings.replication_delay_ms / 1000
    body = {"@odata.context": context_url(state, req, "users/$entity"), "id": user["id"]}
    body.update((name, user_property(user, name)) for name in USER_DEFAULT_PROPERTIES if name != "id")
    return GraphResponse(201, body, {"Location": f"{state.base_url}/v1.0/directoryObjects/{user['id']}"})


@route("PATCH", "users/{key}")
def update_user(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    data = req.json()
    if not isinstance(data, dict):
        raise bad_request("Invalid request body: a user object is expected.", code="BadRequest")
    operations = {"users.enable_disable" if name == "accountEnabled" else
                  "users.password_profile" if name == "passwordProfile" else "users.update" for name in data}
    for operation in sorted(operations) or ["users.update"]:
        require(req, operation)
    user = find_user(state, key)
    changes = validate_user_write(state, data, user)
    password_changed = bool((changes.get("passwordProfile") or {}).get("password"))
    state.tenant.update_user(user, changes)
    if password_changed:
        state.grants.revoke_subject(user["id"])
    return GraphResponse(204)


@route("DELETE", "users/{key}")
def delete_user(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.delete")
    user = find_user(state, key)
    state.tenant.delete_user(user)
    state.grants.revoke_subject(user["id"])
    return GraphResponse(204)


@route("POST", "users/{key}/revokeSignInSessions")
def revoke_sessions(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.revoke_sessions")
    user = find_user(state, key)
    state.tenant.update_user(user, {"signInSessionsValidFromDateTime": iso_z(utc_now())})
    state.grants.revoke_subject(user["id"])
    return GraphResponse(200, {"@odata.context": context_url(state, req, "Edm.Boolean"), "value": True})


# -- write validation -------------------------------------------------------------------------------------------


def validate_user_write(state: EmulatorState, data: dict[str, Any], user: User | None) -> dict[str, Any]:
    """Check a POST/PATCH body property by property the way Graph does; returns the changes to apply."""
    changes: dict[str, Any] = {}
    for name, value in data.items():
        if name.startswith("@odata."):
            continue
        edm = USER_SCHEMA.get(name)
        if edm is None:
            raise bad_request(f"Property '{name}' does not exist on type 'microsoft.graph.user'.", code="BadRequest")
        if name in USER_READ_ONLY:
            raise bad_request(f"Property '{name}' is read-only and cannot be set.")
        _check_type(edm, value)
        if user is not None and user.get("onPremisesSyncEnabled") and name in USER_SYNCED_PROPERTIES:
            raise bad_request("Unable to update the specified properties for on-premises mastered Directory Sync "
                              "objects or objects currently undergoing migration.")
        changes[name] = value
    if "passwordProfile" in changes:
        _check_password_profile(changes["passwordProfile"])
    if "userPrincipalName" in changes:
        _check_upn(state, changes["userPrincipalName"], user)
    return changes


def _check_type(edm: str, value: Any) -> None:
    if value is None:
        return
    expected: dict[str, type] = {STRING: str, BOOL: bool, DATE: str, STRINGS: list, COMPLEX: dict, COMPLEXES: list}
    wrong_type = not isinstance(value, expected[edm])
    if wrong_type or (isinstance(value, list) and edm == STRINGS and not all(isinstance(v, str) for v in value)):
        shown = json_literal(value)
        raise bad_request(f"Cannot convert the literal '{shown}' to the expected type '{edm}'.", code="BadRequest")


def json_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_password_profile(profile: dict[str, Any]) -> None:
    unknown = set(profile) - PASSWORD_PROFILE_KEYS
    if unknown:
        raise bad_request(f"Property '{sorted(unknown)[0]}' does not exist on type 'microsoft.graph.passwordProfile'.",
                          code="BadRequest")
    for flag in ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"):
        if flag in profile and not isinstance(profile[flag], bool):
            raise bad_request(f"Cannot convert the literal '{profile[flag]}' to the expected type 'Edm.Boolean'.",
                              code="BadRequest")
    password = profile.get("password")
    if password is not None and not password_is_complex(password):
        raise bad_request("The specified password does not comply with password complexity requirements. Please "
                          "provide a different password.")


def password_is_complex(password: Any) -> bool:
    """Entra's rule: 8-256 characters and three of lower case, upper case, digits, symbols."""
    if not isinstance(password, str) or not 8 <= len(password) <= 256:
        return False
    classes = [any(c.islower() for c in password), any(c.isupper() for c in password),
               any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    return sum(classes) >= 3


def _check_upn(state: EmulatorState, upn: str, user: User | None) -> None:
    local, _, domain = upn.rpartition("@")
    if not local or domain.lower() != state.domain:
        raise bad_request("The domain portion of the userPrincipalName property is invalid. You must use one of the "
                          "verified domain names in your organization.")
    existing = state.tenant.upn_index.get(upn.lower())
    if existing and (user is None or existing != user["id"]):
        raise bad_request("Another object with the same value for property userPrincipalName already exists.")
