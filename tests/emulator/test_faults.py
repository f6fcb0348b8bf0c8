"""Fault knobs and the request log."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests


def test_status_with_retry_after_seconds_then_recovers(graph, emulator, error_of):
    rule = emulator.add_fault("status", route="/v1.0/users", method="GET", status=429, retry_after=5, count=2)
    first, second, third = (graph.get("users") for _ in range(3))
    assert first.status_code == second.status_code == 429 and third.status_code == 200
    assert first.headers["Retry-After"] == "5"
    assert error_of(first)["code"] == "TooManyRequests"
    fired = next(r for r in emulator.faults() if r["id"] == rule["id"])
    assert fired["fired"] == 2 and fired["matched"] == 3
    log = [r for r in emulator.requests() if r["path"] == "/v1.0/users"]
    assert [r["status"] for r in log] == [429, 429, 200]
    assert [bool(r["fault"]) for r in log] == [True, True, False]


def test_retry_after_http_date_and_5xx(graph, emulator, error_of):
    emulator.add_fault("status", route="/v1.0/users*", status=503, retry_after=30, retry_after_format="http-date")
    response = graph.get("users")
    assert response.status_code == 503 and error_of(response)["code"] == "serviceNotAvailable"
    moment = email.utils.parsedate_to_datetime(response.headers["Retry-After"]).timestamp()
    assert 20 < moment - time.time() <= 31
    emulator.add_fault("status", route="/v1.0/users/*", status=504)
    assert graph.get("users/x").status_code == 504


def test_skip_query_match_and_method(graph, emulator):
    emulator.add_fault("status", route="/v1.0/users", query_contains="$skiptoken", status=500, count=None)
    first = graph.get("users")
    assert first.status_code == 200
    assert graph.get(first.json()["@odata.nextLink"]).status_code == 500
    emulator.clear_faults()
    emulator.add_fault("status", route="/v1.0/users/*", method="PATCH", status=500, skip=1)
    ceo = emulator.registrations["users"]["samples"]["ceo"]["id"]
    assert graph.patch(f"users/{ceo}", json={"jobTitle": "a"}).status_code == 204
    assert graph.get(f"users/{ceo}").status_code == 200
    assert graph.patch(f"users/{ceo}", json={"jobTitle": "b"}).status_code == 500


def test_probability_is_seeded(graph, emulator):
    def pattern():
        emulator.reset()
        emulator.add_fault("status", route="/v1.0/users", status=503, probability=0.5, count=None, seed=42)
        return [graph.get("users", params={"$top": "1"}).status_code for _ in range(12)]

    first = pattern()
    assert first == pattern()
    assert set(first) == {200, 503}


def test_latency(graph, emulator):
    emulator.add_fault("latency", route="/v1.0/users", latency_ms=300)
    began = time.perf_counter()
    assert graph.get("users", params={"$top": "1"}).status_code == 200
    assert time.perf_counter() - began >= 0.3


def test_drop_connection(graph, emulator):
    emulator.add_fault("drop", route="/v1.0/users")
    with pytest.raises(requests.exceptions.ConnectionError):
        graph.get("users")
    assert graph.get("users").status_code == 200


def test_malformed_json(graph, emulator):
    emulator.add_fault("malformed", route="/v1.0/users")
    response = graph.get("users")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    # Graph names every answer, a broken one too: the request-id is what a user reports it by.
    assert response.headers["request-id"] == emulator.requests()[-1]["request_id"]


def test_token_endpoint_and_imds_faults(emulator):
    emulator.add_fault("status", route="*/oauth2/v2.0/token", status=429, retry_after=2)
    app = emulator.registrations["apps"]["default"]
    response = requests.post(emulator.token_url(), verify=emulator.ca_bundle, timeout=10, data={
        "client_id": app["client_id"], "client_secret": app["client_secret"], "grant_type": "client_credentials",
        "scope": emulator.registrations["scope"]})
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()["error_codes"] == [90033]
    emulator.add_fault("status", server="imds", route="/metadata/*", status=410)
    imds = requests.get(f"{emulator.imds_url}/metadata/identity/oauth2/token", headers={"Metadata": "true"},
                        params={"api-version": "2018-02-01", "resource": emulator.base_url}, timeout=10)
    assert imds.status_code == 410 and "error" in imds.json()


def test_expire_tokens_knob_fires_on_a_route(graph, emulator):
    emulator.add_fault("expire_tokens", route="/v1.0/users/*")
    assert graph.get("users").status_code == 200
    assert graph.get("users/x").status_code == 401  # expired at the moment this request arrived
    assert graph.get("users").status_code == 401


def test_request_log_masks_secrets(graph, emulator):
    graph.get("users", params={"$top": "1"}, headers={"client-request-id": "abc"})
    entry = emulator.requests()[-1]
    assert entry["headers"]["Authorization"] == "Bearer <redacted>"
    assert entry["headers"]["Client-Request-Id"] == "abc"
    assert entry["query"] == "%24top=1" and entry["method"] == "GET" and entry["status"] == 200
    token_post = next(r for r in emulator.requests() if r["path"].endswith("/oauth2/v2.0/token"))
    assert token_post["body"]["client_secret"] == "<redacted>"
    assert token_post["body"]["grant_type"] == "client_credentials"
    since = entry["seq"]
    graph.get("users", params={"$top": "1"})
    assert len(emulator.requests(since=since)) == 1


def test_bad_rules_are_rejected(emulator):
    for bad in ({"kind": "status", "status": 200}, {"kind": "status", "probability": 2},
                {"kind": "status", "count": 0}, {"kind": "status", "colour": "red"}):
        with pytest.raises((ValueError, TypeError)):
            emulator.add_fault(**bad)
