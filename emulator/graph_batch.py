"""Graph JSON batching: ``POST /$batch`` with up to 20 sub-requests, ``dependsOn`` ordering (a failed dependency
gives 424) and responses in a shuffled order. Sub-requests go through the same fault rules and request log as
HTTP requests (log entries have ``via: "batch"``), so a rule on ``/v1.0/users/*`` yields an *inner* 429 with its
own ``Retry-After``."""

from __future__ import annotations

import json
import random
import time
from typing import Any
from urllib.parse import unquote

from .errors import GraphError, graph_error_body, new_guid
from .faults import MALFORMED_JSON, graph_code
from .graph import JSON_CONTENT_TYPE, GraphRequest, GraphResponse, dispatch, normalise_segments, parse_query, route
from .state import EmulatorState, current_state

MAX_REQUESTS = 20


def _invalid(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


@route("POST", "$batch")
def batch(req: GraphRequest) -> GraphResponse:
    state = current_state()
    data = req.json()
    steps = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(steps, list) or not steps:
        raise _invalid("Invalid batch payload format: the 'requests' array is required.")
    if len(steps) > MAX_REQUESTS:
        raise _invalid(f"Number of batch request steps exceeds the maximum of {MAX_REQUESTS}.")
    by_id: dict[str, dict[str, Any]] = {}
    for step in steps:
        if not isinstance(step, dict) or not all(isinstance(step.get(k), str) and step.get(k)
                                                 for k in ("id", "method", "url")):
            raise _invalid("Invalid batch payload format: every request needs string 'id', 'method' and 'url'.")
        if step["id"] in by_id:
            raise _invalid(f"Batch request contains duplicate request id '{step['id']}'.")
        by_id[step["id"]] = step
    for step in steps:
        for dependency in step.get("dependsOn") or []:
            if dependency not in by_id:
                raise _invalid(f"Request '{step['id']}' depends on unknown request '{dependency}'.")
    results: dict[str, GraphResponse] = {}
    for step in steps:
        _run(state, req, step, by_id, results, set())
    rng = random.Random(state.seed * 1_000_003 + state.batch_counter)
    state.batch_counter += 1
    order = list(by_id)
    rng.shuffle(order)
    return GraphResponse(200, {"responses": [_entry(step_id, results[step_id]) for step_id in order]})


def _run(state: EmulatorState, outer: GraphRequest, step: dict[str, Any], by_id: dict[str, dict[str, Any]],
         results: dict[str, GraphResponse], visiting: set[str]) -> GraphResponse:
    step_id = step["id"]
    if step_id in results:
        return results[step_id]
    if step_id in visiting:
        raise _invalid(f"Batch request dependencies form a cycle at '{step_id}'.")
    visiting.add(step_id)
    failed = [d for d in step.get("dependsOn") or [] if not 200 <= _run(state, outer, by_id[d], by_id, results,
                                                                            visiting).status < 300]
    if failed:
        results[step_id] = GraphResponse(424, graph_error_body("FailedDependency", "Dependent request failed: "
                                                               + ", ".join(failed), new_guid(), new_guid()))
    else:
        results[step_id] = _execute(state, outer, step)
    return results[step_id]


def _execute(state: EmulatorState, outer: GraphRequest, step: dict[str, Any]) -> GraphResponse:
    url = step["url"]
    method = step["method"].upper()
    if "://" in url:
        return GraphResponse(400, graph_error_body("BadRequest", "Invalid request URI: batch request URLs must be "
                                                   "relative to the version root.", new_guid(), new_guid()))
    raw_path, _, raw_query = url.lstrip("/").partition("?")
    headers = {str(k).lower(): str(v) for k, v in (step.get("headers") or {}).items()}
    headers["authorization"] = outer.header("Authorization") or ""
    body = step.get("body")
    if body is not None and "content-type" not in headers:
        return GraphResponse(400, graph_error_body("BadRequest", "Content-Type header must be specified for a batch "
                                                   "request with a body.", new_guid(), new_guid()))
    payload = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    sub = GraphRequest(method=method, version=outer.version, segments=normalise_segments(raw_path.split("/")),
                       query=parse_query(raw_query), headers=headers, body=payload, via="batch")
    path = f"/{outer.version}/{unquote(raw_path)}"
    entry = state.log.add(server="https", via="batch", method=method, path=path, query=raw_query,
                          headers={k: v for k, v in headers.items()}, body=body, request_id=sub.request_id)
    response = _faulted(state, sub, path, raw_query, entry) or dispatch(state, sub)
    entry["status"] = response.status
    return response


def _faulted(state: EmulatorState, sub: GraphRequest, path: str, query: str, entry: dict[str, Any]
             ) -> GraphResponse | None:
    rule = state.faults.pick("https", sub.method, path, query)
    if rule is None:
        return None
    entry["fault"] = rule.id
    if rule.kind == "latency":
        time.sleep(rule.latency_ms / 1000)
    elif rule.kind in ("expire_tokens", "revoke"):
        state.apply_side_effect(rule)
    elif rule.kind == "malformed":
        return GraphResponse(200, MALFORMED_JSON)
    elif rule.kind in ("status", "drop"):
        status = rule.status if rule.kind == "status" else 504
        code, message = graph_code(rule) if rule.kind == "status" else ("GatewayTimeout", "The connection dropped.")
        headers = {"Retry-After": value} if (value := rule.retry_after_header()) else {}
        return GraphResponse(status, graph_error_body(code, message, sub.request_id, sub.client_request_id), headers)
    return None


def _entry(step_id: str, response: GraphResponse) -> dict[str, Any]:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "x-ms-ags-diagnostic"}
    entry: dict[str, Any] = {"id": step_id, "status": response.status}
    if response.body is not None:
        headers.setdefault("Content-Type", JSON_CONTENT_TYPE)
        entry["body"] = (response.body.decode() if isinstance(response.body, bytes) else response.body)
    entry["headers"] = headers
    return entry
