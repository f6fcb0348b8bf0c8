"""Graph ``/servicePrincipals``: list with $filter/$select, get, and ``addPassword`` (the secret is shown once)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from .errors import GraphError, iso_z, not_found, utc_now
from .graph import GraphRequest, GraphResponse, collection, context_url, require, route
from .graph_users import check_advanced, select_fragment
from .odata import EntityType, parse_count, parse_filter, parse_select, parse_top
from .schema import SERVICE_PRINCIPAL_SCHEMA
from .state import current_state

SERVICE_PRINCIPAL = EntityType("ServicePrincipal", "microsoft.graph.servicePrincipal", SERVICE_PRINCIPAL_SCHEMA,
                               frozenset(SERVICE_PRINCIPAL_SCHEMA) - {"passwordCredentials"}, frozenset(),
                               lambda record, name: record.get(name))
_DEFAULT = ("id", "appId", "displayName", "appDisplayName", "servicePrincipalType", "accountEnabled",
            "passwordCredentials")


@route("GET", "servicePrincipals")
def list_service_principals(req: GraphRequest) -> GraphResponse:
    state = current_state()
    require(req, "service_principals.read")
    select = parse_select(req.query.get("$select"), SERVICE_PRINCIPAL, _DEFAULT)
    top = parse_top(req.query.get("$top"))
    count = parse_count(req.query.get("$count")) and req.eventual
    records = [sp.to_graph() for sp in state.registry.service_principals.values()]
    filter_text = req.query.get("$filter", "").strip()
    if filter_text:
        info = parse_filter(filter_text, SERVICE_PRINCIPAL)
        check_advanced(req, info.advanced_operators, count)
        records = [r for r in records if info.predicate(r)]
    items = [{name: record.get(name) for name in select} for record in records]
    fragment = select_fragment("servicePrincipals", select if "$select" in req.query else None)
    return collection(state, req, items, fragment, top=top, count=len(items) if count else None)


@route("GET", "servicePrincipals/{sp_id}")
def get_service_principal(req: GraphRequest, sp_id: str) -> GraphResponse:
    state = current_state()
    require(req, "service_principals.read")
    sp = state.registry.service_principals.get(sp_id)
    if sp is None:
        raise not_found(sp_id)
    select = parse_select(req.query.get("$select"), SERVICE_PRINCIPAL, _DEFAULT)
    record = sp.to_graph()
    body = {"@odata.context": context_url(state, req, "servicePrincipals/$entity"),
            **{name: record.get(name) for name in select}}
    return GraphResponse(200, body)


@route("POST", "servicePrincipals/{sp_id}/addPassword")
def add_password(req: GraphRequest, sp_id: str) -> GraphResponse:
    state = current_state()
    require(req, "service_principals.write")
    sp = state.registry.service_principals.get(sp_id)
    if sp is None:
        raise not_found(sp_id)
    data = req.json() if req.body.strip() else {}
    credential = data.get("passwordCredential", {}) if isinstance(data, dict) else None
    if not isinstance(credential, dict):
        raise GraphError(400, "BadRequest", "Invalid value specified for property 'passwordCredential'.")
    now = utc_now()
    secret = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789~._-")
                     for _ in range(37))
    secret = secret[:3] + "8Q~" + secret[3:]
    entry = {
        "customKeyIdentifier": None,
        "displayName": credential.get("displayName"),
        "endDateTime": credential.get("endDateTime") or iso_z(now + dt.timedelta(days=730), millis=True),
        "hint": secret[:3],
        "keyId": str(uuid.uuid4()),
        "secretText": secret,
        "startDateTime": credential.get("startDateTime") or iso_z(now, millis=True),
    }
    sp.password_credentials.append(entry)
    body = {"@odata.context": context_url(state, req, "microsoft.graph.passwordCredential"), **entry}
    return GraphResponse(200, body)
