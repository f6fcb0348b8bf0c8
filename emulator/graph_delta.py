"""Graph ``/users/delta``: rounds of pages ending with an ``@odata.deltaLink``; later rounds return only changes.

A *round* is fixed when it starts (the list of user ids to send, and the tenant version it reflects); its pages are
addressed by ``$skiptoken``. A *delta link* remembers the version the previous round reflected, its ``$select``,
``$filter`` and ``Prefer: return=minimal``. Deleted users come back as ``{"id", "@removed": {"reason"}}`` with
``changed`` (soft delete) or ``deleted`` (permanent). Unknown or expired (7 days, or the admin "expire" call) tokens
answer 400 ``syncStateNotFound``.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from .errors import GraphError, unsupported_query
from .graph import GraphRequest, GraphResponse, context_url, decode_skiptoken, encode_skiptoken, link, require, route
from .graph_users import USER, render, select_fragment
from .odata import parse_select
from .schema import USER_DEFAULT_PROPERTIES
from .state import EmulatorState, current_state
from .tenant import User

TOKEN_LIFETIME = 7 * 24 * 3600
MAX_FILTER_IDS = 50


def _sync_state_not_found() -> GraphError:
    return GraphError(400, "syncStateNotFound", "The sync state generation is not found. Please resync.")


@route("GET", "users/delta")
def users_delta(req: GraphRequest) -> GraphResponse:
    state = current_state()
    require(req, "users.read")
    if "$skiptoken" in req.query:
        try:
            token = decode_skiptoken(req.query["$skiptoken"])
        except GraphError:
            raise _sync_state_not_found() from None
        round_id = str(token.get("r", ""))
        return _page(state, req, round_id, _live(state, round_id), int(token.get("o", 0)))
    if "$deltatoken" in req.query:
        token_text = req.query["$deltatoken"]
        if token_text == "latest":
            options = _options(req)
            deltalink = _new_link(state, since=state.tenant.version, **options)
            return _respond(state, req, options["select"], [], None, deltalink)
        previous = _live(state, token_text)
        if previous["kind"] != "link":
            raise _sync_state_not_found()
        ids = _changed_ids(state, previous["since"], previous["ids"])
        round_id = _new_round(state, ids, previous)
        return _page(state, req, round_id, state.delta_rounds[round_id], 0)
    options = _options(req)
    ids = [u["id"] for u in state.tenant.iter_users() if options["ids"] is None or u["id"] in options["ids"]]
    round_id = _new_round(state, ids, {"since": None, **options})
    return _page(state, req, round_id, state.delta_rounds[round_id], 0)


def _options(req: GraphRequest) -> dict[str, Any]:
    select_text = req.query.get("$select")
    names = [n.strip() for n in (select_text or "").split(",") if n.strip()]
    with_manager = "manager" in names
    rest = ",".join(n for n in names if n != "manager")
    select = parse_select(rest if names else None, USER, USER_DEFAULT_PROPERTIES)
    if with_manager and not rest:
        select = ["id"]
    return {"select": select, "manager": with_manager, "ids": _filter_ids(req.query.get("$filter")),
            "minimal": "return=minimal" in (req.header("Prefer") or ""), "explicit_select": bool(names)}


def _filter_ids(text: str | None) -> set[str] | None:
    if not text or not text.strip():
        return None
    ids = []
    for clause in re.split(r"\s+or\s+", text.strip()):
        match = re.fullmatch(r"\(?\s*id\s+eq\s+'([^']+)'\s*\)?", clause)
        if match is None:
            raise unsupported_query("Delta queries on users support only filters of the form id eq '<id>' "
                                    "combined with 'or'.")
        ids.append(match.group(1).lower())
    if len(ids) > MAX_FILTER_IDS:
        raise unsupported_query(f"Delta queries on users support at most {MAX_FILTER_IDS} id filters.")
    return set(ids)


def _live(state: EmulatorState, token: str) -> dict[str, Any]:
    entry = state.delta_rounds.get(token)
    if entry is None or time.time() - entry["created"] > TOKEN_LIFETIME:
        raise _sync_state_not_found()
    return entry


def _new_round(state: EmulatorState, ids: list[str], options: dict[str, Any]) -> str:
    round_id = secrets.token_urlsafe(12)
    state.delta_rounds[round_id] = {
        "kind": "round", "created": time.time(), "items": ids, "watermark": state.tenant.version,
        "since": options["since"], "select": options["select"], "manager": options["manager"],
        "ids": options["ids"], "minimal": options["minimal"], "explicit_select": options["explicit_select"]}
    return round_id


def _new_link(state: EmulatorState, *, since: int, select: list[str], manager: bool, ids: set[str] | None,
              minimal: bool, explicit_select: bool) -> str:
    token = secrets.token_urlsafe(24)
    state.delta_rounds[token] = {"kind": "link", "created": time.time(), "since": since, "select": select,
                                 "manager": manager, "ids": ids, "minimal": minimal,
                                 "explicit_select": explicit_select}
    return token


def _changed_ids(state: EmulatorState, since: int, only: set[str] | None) -> list[str]:
    tenant = state.tenant
    changed = [u["id"] for u in tenant.iter_users() if u.get("_v", 0) > since]
    removed = [uid for uid, (version, _) in tenant.tombstones.items() if version > since]
    ids = changed + [uid for uid in removed if uid not in tenant.users]
    return [i for i in ids if only is None or i in only]


def _page(state: EmulatorState, req: GraphRequest, round_id: str, round_: dict[str, Any], offset: int
          ) -> GraphResponse:
    if round_["kind"] != "round":
        raise _sync_state_not_found()
    size = _page_size(state, req)
    ids = round_["items"][offset:offset + size]
    values = [_item(state, uid, round_) for uid in ids]
    if offset + size < len(round_["items"]):
        next_token = encode_skiptoken({"r": round_id, "o": offset + size})
        return _respond(state, req, round_["select"], values, next_token, None, round_)
    deltalink = _new_link(state, since=round_["watermark"], select=round_["select"], manager=round_["manager"],
                          ids=round_["ids"], minimal=round_["minimal"], explicit_select=round_["explicit_select"])
    return _respond(state, req, round_["select"], values, None, deltalink, round_)


def _page_size(state: EmulatorState, req: GraphRequest) -> int:
    preference = re.search(r"odata\.maxpagesize=(\d+)", req.header("Prefer") or "")
    return max(1, min(999, int(preference.group(1)))) if preference else state.settings.delta_page_size


def _item(state: EmulatorState, user_id: str, round_: dict[str, Any]) -> dict[str, Any]:
    user: User | None = state.tenant.users.get(user_id)
    if user is None:
        _, reason = state.tenant.tombstones.get(user_id, (0, "changed"))
        return {"@odata.type": "#microsoft.graph.user", "id": user_id, "@removed": {"reason": reason}}
    select = round_["select"]
    since = round_["since"]
    if round_["minimal"] and since is not None:
        changed = user.get("_changed", {})
        select = [n for n in select if n == "id" or changed.get(n, 0) > since]
    item = render(user, select)
    item.setdefault("id", user["id"])
    if round_["manager"]:
        manager_id = user.get("_manager")
        item["manager@delta"] = ([{"@odata.type": "#microsoft.graph.user", "id": manager_id}] if manager_id else [])
    return item


def _respond(state: EmulatorState, req: GraphRequest, select: list[str], values: list[dict[str, Any]],
             next_token: str | None, deltalink: str | None, round_: dict[str, Any] | None = None) -> GraphResponse:
    explicit = round_["explicit_select"] if round_ else "$select" in req.query
    body: dict[str, Any] = {"@odata.context": context_url(state, req, select_fragment("users", select if explicit
                                                                                      else None))}
    if next_token:
        body["@odata.nextLink"] = link(state, req, {"$skiptoken": next_token}, path="users/delta")
    if deltalink:
        body["@odata.deltaLink"] = link(state, req, {"$deltatoken": deltalink}, path="users/delta")
    body["value"] = values
    headers = {}
    if "return=minimal" in (req.header("Prefer") or "") or (round_ and round_["minimal"]):
        headers["Preference-Applied"] = "return=minimal"
    return GraphResponse(200, body, headers)
