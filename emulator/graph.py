"""Microsoft Graph plumbing: request/response objects, a small router, bearer checks and paging helpers.

Graph routes are matched on the *raw* request path split at ``/`` and percent-decoded segment by segment, so a user
key such as ``a%2Fb`` or ``jane_x.com%23EXT%23@...`` reaches the handler intact, exactly as Graph decodes it. The
key form ``users('$name@domain')`` and the function form ``delta()`` are normalised before matching. The same
``dispatch`` serves HTTP requests and ``$batch`` sub-requests.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from flask import Blueprint, Response, g, request

from . import permissions
from .errors import GraphError, graph_error_body, invalid_json, new_guid
from .state import EmulatorState, current_state
from .tokens import TokenRejected

JSON_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
DIAGNOSTIC = json.dumps({"ServerInfo": {"DataCenter": "Loopback", "Slice": "E", "Ring": "0", "ScaleUnit": "000",
                                        "RoleInstance": "EMULATOR"}})
_QUERY_OPTIONS = {"filter", "select", "top", "count", "search", "orderby", "skiptoken", "deltatoken", "expand", "skip"}


@dataclass
class GraphRequest:
    method: str
    version: str  # "v1.0" | "beta"
    segments: list[str]
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    via: str = "http"
    request_id: str = field(default_factory=new_guid)
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def client_request_id(self) -> str:
        return self.headers.get("client-request-id") or self.request_id

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        if not self.body.strip():
            raise invalid_json()
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise invalid_json() from exc

    @property
    def delegated(self) -> bool:
        return self.claims.get("idtyp") == "user"

    @property
    def granted(self) -> list[str]:
        if self.delegated:
            return str(self.claims.get("scp", "")).split()
        return list(self.claims.get("roles", []))

    @property
    def eventual(self) -> bool:
        return (self.header("ConsistencyLevel") or "").strip().lower() == "eventual"


@dataclass
class GraphResponse:
    status: int
    body: Any = None  # dict/list -> JSON, bytes -> raw, None -> empty
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[..., GraphResponse]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler
    versions: tuple[str, ...]


_ROUTES: list[_Route] = []
_SORTED: list[_Route] = []


def route(method: str, pattern: str, versions: tuple[str, ...] = ("v1.0", "beta")) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` on ``pattern`` (``users/{user}/manager``); ``{x}`` binds one segment."""

    def register(handler: Handler) -> Handler:
        _ROUTES.append(_Route(method, tuple(pattern.split("/")), handler, versions))
        return handler

    return register


def require(req: GraphRequest, operation: str) -> None:
    """Refuse with 403 Authorization_RequestDenied unless the token holds a permission ``operation`` accepts."""
    if not permissions.allowed(operation, req.granted, req.delegated):
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def normalise_segments(raw_segments: Iterable[str]) -> list[str]:
    """Percent-decode each segment; ``users('k')`` -> ``users``, ``k``; ``delta()`` -> ``delta``."""
    result: list[str] = []
    for raw in raw_segments:
        if not raw:
            continue
        segment = unquote(raw)
        key_form = re.fullmatch(r"([A-Za-z]+)\('(.*)'\)", segment, re.DOTALL)
        if key_form:
            result.extend([key_form.group(1), key_form.group(2).replace("''", "'")])
        elif segment.endswith("()"):
            result.append(segment[:-2])
        else:
            result.append(segment)
    return result


def parse_query(raw_query: str) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        if key.lower() in _QUERY_OPTIONS:  # Graph accepts the system query options without the '$' too
            key = "$" + key.lower()
        elif key.startswith("$"):
            key = "$" + key[1:].lower()
        query.setdefault(key, value)
    return query


def authenticate(state: EmulatorState, req: GraphRequest) -> None:
    header = req.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(state, "Access token is empty.")
    try:
        req.claims = state.tokens.verify(token.strip())
    except TokenRejected as exc:
        raise _unauthorized(state, str(exc)) from exc


def _unauthorized(state: EmulatorState, message: str) -> GraphError:
    challenge = (f'Bearer realm="", authorization_uri="{state.base_url}/common/oauth2/authorize", '
                 f'client_id="00000003-0000-0000-c000-000000000000"')
    return GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge})


def dispatch(state: EmulatorState, req: GraphRequest) -> GraphResponse:
    """Authenticate, route and run one Graph request; Graph errors become Graph error responses."""
    try:
        authenticate(state, req)
        handler, params = _match(req)
        with state.lock:
            response = handler(req, **params)
    except GraphError as error:
        response = GraphResponse(error.status, graph_error_body(error.code, error.message, req.request_id,
                                                                req.client_request_id), dict(error.headers))
    response.headers.setdefault("request-id", req.request_id)
    response.headers.setdefault("client-request-id", req.client_request_id)
    response.headers.setdefault("x-ms-ags-diagnostic", DIAGNOSTIC)
    return response


def _match(req: GraphRequest) -> tuple[Handler, dict[str, str]]:
    method_mismatch = False
    for candidate in _routes_by_specificity():
        if req.version not in candidate.versions or len(candidate.pattern) != len(req.segments):
            continue
        params: dict[str, str] = {}
        for expected, actual in zip(candidate.pattern, req.segments, strict=True):
            if expected.startswith("{"):
                params[expected[1:-1]] = actual
            elif expected.lower() != actual.lower():
                break
        else:
            if candidate.method == req.method:
                return candidate.handler, params
            method_mismatch = True
    if method_mismatch:
        raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    unknown = _first_unknown_segment(req)
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{unknown}'.")


def _routes_by_specificity() -> list[_Route]:
    """Literal segments win over placeholders: "users/delta" before "users/{key}"."""
    if len(_SORTED) != len(_ROUTES):
        _SORTED[:] = sorted(_ROUTES, key=lambda r: sum(p.startswith("{") for p in r.pattern))
    return _SORTED


def _first_unknown_segment(req: GraphRequest) -> str:
    for depth in range(1, len(req.segments) + 1):
        prefix = req.segments[:depth]
        if not any(len(r.pattern) >= depth and req.version in r.versions and all(
                p.startswith("{") or p.lower() == s.lower() for p, s in zip(r.pattern, prefix, strict=False))
                   for r in _ROUTES):
            return prefix[-1]
    return req.segments[-1] if req.segments else ""


# -- responses and paging ---------------------------------------------------------------------------------------


def context_url(state: EmulatorState, req: GraphRequest, fragment: str) -> str:
    return f"{state.base_url}/{req.version}/$metadata#{fragment}"


def encode_skiptoken(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_skiptoken(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if isinstance(data, dict):
            return data
    except ValueError:
        pass
    raise GraphError(400, "Request_BadRequest", "Specified skip token is invalid.")


def link(state: EmulatorState, req: GraphRequest, query: dict[str, str], path: str | None = None) -> str:
    """An absolute Graph URL for this request's path with ``query`` (values %-encoded, spaces as %20)."""
    target = path if path is not None else "/".join(quote(s, safe="@$'()=,") for s in req.segments)
    encoded = "&".join(f"{key}={quote(value, safe=chr(39) + '(),:/$@*')}" for key, value in query.items())
    return f"{state.base_url}/{req.version}/{target}" + (f"?{encoded}" if encoded else "")


def next_link(state: EmulatorState, req: GraphRequest, token: dict[str, Any]) -> str:
    """The ``@odata.nextLink``: the same query options (``$select``, ``$filter``, ``$top``...) plus ``$skiptoken``."""
    query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
    query["$skiptoken"] = encode_skiptoken(token)
    return link(state, req, query)


def page_size(state: EmulatorState, req: GraphRequest, top: int | None) -> int:
    preference = re.search(r"odata\.maxpagesize=(\d+)", req.header("Prefer") or "")
    if top:
        return top
    if preference:
        return max(1, min(999, int(preference.group(1))))
    return state.settings.page_size


def collection(state: EmulatorState, req: GraphRequest, items: list[dict[str, Any]], fragment: str,
               *, top: int | None = None, count: int | None = None) -> GraphResponse:
    """One page of an in-memory collection, offset-paged with a skiptoken."""
    offset = int(decode_skiptoken(req.query["$skiptoken"]).get("o", 0)) if "$skiptoken" in req.query else 0
    size = page_size(state, req, top)
    body: dict[str, Any] = {"@odata.context": context_url(state, req, fragment)}
    if count is not None and "$skiptoken" not in req.query:
        body["@odata.count"] = count
    if offset + size < len(items):
        body["@odata.nextLink"] = next_link(state, req, {"o": offset + size})
    body["value"] = items[offset:offset + size]
    return GraphResponse(200, body)


# -- Flask glue -------------------------------------------------------------------------------------------------

blueprint = Blueprint("graph", __name__)


@blueprint.route("/<any('v1.0', 'beta'):version>/", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
@blueprint.route("/<any('v1.0', 'beta'):version>/<path:rest>", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
def graph_entry(version: str, rest: str = "") -> Response:
    state = current_state()
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    raw_path, _, raw_query = raw_uri.partition("?")
    raw_segments = raw_path.split("/")[2:]  # drop '' and the version
    req = GraphRequest(
        method=request.method,
        version=version,
        segments=normalise_segments(raw_segments),
        query=parse_query(raw_query),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.get_data(),
        request_id=g.get("request_id") or new_guid(),
    )
    return to_flask(dispatch(state, req))


def to_flask(response: GraphResponse) -> Response:
    if response.body is None:
        flask_response = Response(status=response.status)
    elif isinstance(response.body, bytes):
        flask_response = Response(response.body, status=response.status, content_type=JSON_CONTENT_TYPE)
    else:
        flask_response = Response(json.dumps(response.body), status=response.status, content_type=JSON_CONTENT_TYPE)
        flask_response.headers["OData-Version"] = "4.0"
    for name, value in response.headers.items():
        flask_response.headers[name] = value
    return flask_response

