"""Graph user relationships: manager (read, ``$ref`` write/remove), directReports, memberOf, ownedDevices."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import GraphError, bad_request
from .graph import GraphRequest, GraphResponse, collection, context_url, require, route
from .graph_users import USER, check_advanced, find_user, render
from .odata import EntityType, parse_count, parse_filter, parse_select, parse_top
from .schema import DEVICE_SCHEMA, USER_DEFAULT_PROPERTIES
from .state import current_state

DEVICE = EntityType("Device", "microsoft.graph.device", DEVICE_SCHEMA, frozenset(DEVICE_SCHEMA),
                    frozenset({"displayName"}), lambda record, name: record.get(name))


@route("GET", "users/{key}/manager")
def get_manager(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.read")
    select = parse_select(req.query.get("$select"), USER, USER_DEFAULT_PROPERTIES)
    user = find_user(state, key)
    manager = state.tenant.manager_of(user)
    if manager is None:
        raise GraphError(404, "Request_ResourceNotFound", "Resource 'manager' does not exist or one of its queried "
                                                          "reference-property objects are not present.")
    body = {"@odata.context": context_url(state, req, "directoryObjects/$entity"),
            **render(manager, select, odata_type=True)}
    return GraphResponse(200, body)


@route("PUT", "users/{key}/manager/$ref")
def set_manager(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.manager_write")
    data = req.json()
    reference = data.get("@odata.id") if isinstance(data, dict) else None
    if not isinstance(reference, str) or not reference.strip():
        raise bad_request("Invalid request body: the property '@odata.id' is required.", code="BadRequest")
    manager_key = _reference_key(reference)
    user = find_user(state, key)
    manager = state.tenant.find_user(manager_key)
    if manager is None:
        raise GraphError(404, "Request_ResourceNotFound", f"Resource '{manager_key}' does not exist or one of its "
                                                          "queried reference-property objects are not present.")
    if manager["id"] == user["id"]:
        raise bad_request("Invalid value specified for property 'manager' of resource 'User'.")
    state.tenant.set_manager(user, manager)
    return GraphResponse(204)


@route("DELETE", "users/{key}/manager/$ref")
def remove_manager(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.manager_write")
    user = find_user(state, key)
    if not state.tenant.remove_manager(user):
        raise GraphError(404, "Request_ResourceNotFound", "Resource 'manager' does not exist or one of its queried "
                                                          "reference-property objects are not present.")
    return GraphResponse(204)


def _reference_key(reference: str) -> str:
    """The object key at the end of ``https://<graph>/v1.0/users/<key>`` (or ``directoryObjects/<key>``)."""
    path = urlsplit(reference).path if "://" in reference else reference
    match = re.search(r"(?:users|directoryObjects)(?:/([^/]+)|\('(.+)'\))/?$", path)
    if match is None:
        raise bad_request(f"Invalid object identifier '{reference}'.")
    return unquote(match.group(1) or match.group(2).replace("''", "'"))


@route("GET", "users/{key}/directReports")
def direct_reports(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.read")
    select = parse_select(req.query.get("$select"), USER, USER_DEFAULT_PROPERTIES)
    top = parse_top(req.query.get("$top"))
    user = find_user(state, key)
    items = [render(report, select, odata_type=True) for report in state.tenant.direct_reports(user)]
    return collection(state, req, items, "directoryObjects", top=top)


@route("GET", "users/{key}/memberOf")
def member_of(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.member_of")
    top = parse_top(req.query.get("$top"))
    user = find_user(state, key)
    items = state.tenant.member_of(user)
    select_text = req.query.get("$select")
    if select_text:
        names = [n.strip() for n in select_text.split(",") if n.strip()]
        items = [{k: v for k, v in item.items() if k == "@odata.type" or k in names} for item in items]
    return collection(state, req, items, "directoryObjects", top=top)


@route("GET", "users/{key}/ownedDevices")
def owned_devices(req: GraphRequest, key: str) -> GraphResponse:
    state = current_state()
    require(req, "users.owned_devices")
    top = parse_top(req.query.get("$top"))
    count = parse_count(req.query.get("$count")) and req.eventual
    user = find_user(state, key)
    devices = state.tenant.owned_devices(user)
    filter_text = req.query.get("$filter", "").strip()
    if filter_text:
        info = parse_filter(filter_text, DEVICE)
        check_advanced(req, info.advanced_operators, count)
        devices = [device for device in devices if info.predicate(device)]
    select_text = req.query.get("$select")
    items: list[dict[str, Any]] = devices
    if select_text:
        names = parse_select(select_text, DEVICE, tuple(DEVICE_SCHEMA))
        items = [{"@odata.type": d["@odata.type"], **{n: d.get(n) for n in names}} for d in devices]
    return collection(state, req, items, "directoryObjects", top=top, count=len(items) if count else None)
