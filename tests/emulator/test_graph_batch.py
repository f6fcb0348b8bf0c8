"""JSON batching."""

from __future__ import annotations


def step(step_id, url, method="GET", **extra):
    return {"id": step_id, "method": method, "url": url, **extra}


def test_batch_answers_every_id(graph, samples):
    steps = [step("1", f"/users/{samples['admin']['id']}"), step("2", "/users?$top=2&$select=id"),
             step("3", f"users/{samples['ceo']['id']}", "PATCH", body={"accountEnabled": False},
                  headers={"Content-Type": "application/json"}),
             step("4", "/users/ghost@emulator.onmicrosoft.com")]
    response = graph.post("$batch", json={"requests": steps})
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert set(by_id) == {"1", "2", "3", "4"}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["id"] == samples["admin"]["id"]
    assert len(by_id["2"]["body"]["value"]) == 2
    assert by_id["3"]["status"] == 204 and "body" not in by_id["3"]
    assert by_id["4"]["status"] == 404 and by_id["4"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert graph.get(f"users/{samples['ceo']['id']}", params={"$select": "accountEnabled"}).json()[
        "accountEnabled"] is False


def test_batch_order_is_shuffled(graph):
    steps = [step(str(n), f"/users?$top=1&$select=id&n={n}") for n in range(20)]
    orders = [[r["id"] for r in graph.post("$batch", json={"requests": steps}).json()["responses"]]
              for _ in range(2)]
    assert sorted(orders[0], key=int) == [str(n) for n in range(20)]
    assert orders[0] != [str(n) for n in range(20)] or orders[1] != [str(n) for n in range(20)]


def test_batch_limits_and_validation(graph, error_of):
    too_many = [step(str(n), "/users") for n in range(21)]
    assert "maximum of 20" in error_of(graph.post("$batch", json={"requests": too_many}))["message"]
    duplicate = [step("1", "/users"), step("1", "/users")]
    assert graph.post("$batch", json={"requests": duplicate}).status_code == 400
    assert graph.post("$batch", json={"requests": [step("1", "/users", dependsOn=["9"])]}).status_code == 400
    assert graph.post("$batch", json={}).status_code == 400
    no_type = graph.post("$batch", json={"requests": [step("1", "/users", "POST", body={})]}).json()
    assert no_type["responses"][0]["status"] == 400


def test_depends_on_failure_gives_424(graph, samples):
    steps = [step("a", "/users/ghost@emulator.onmicrosoft.com"),
             step("b", f"/users/{samples['admin']['id']}", dependsOn=["a"]),
             step("c", f"/users/{samples['admin']['id']}", dependsOn=["d"]),
             step("d", "/users?$top=1")]
    by_id = {r["id"]: r for r in graph.post("$batch", json={"requests": steps}).json()["responses"]}
    assert by_id["a"]["status"] == 404 and by_id["b"]["status"] == 424 and by_id["c"]["status"] == 200


def test_inner_throttling_from_a_fault_rule(graph, emulator, samples):
    emulator.add_fault("status", route="/v1.0/users/*", status=429, retry_after=7, count=2)
    steps = [step(str(n), f"/users/{samples['admin']['id']}?n={n}") for n in range(4)]
    response = graph.post("$batch", json={"requests": steps})
    assert response.status_code == 200
    statuses = sorted(r["status"] for r in response.json()["responses"])
    assert statuses == [200, 200, 429, 429]
    throttled = [r for r in response.json()["responses"] if r["status"] == 429]
    assert all(r["headers"]["Retry-After"] == "7" for r in throttled)
    assert throttled[0]["body"]["error"]["code"] == "TooManyRequests"
    http_only = emulator.requests()
    assert [r["path"] for r in http_only if "users" in r["path"]] == []
    inner = [r for r in emulator.requests(include_batch=True) if r["via"] == "batch"]
    assert len(inner) == 4 and sum(1 for r in inner if r["fault"]) == 2
