"""/users/delta rounds: initial sync, changes only, @removed, expiry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def run_round(graph, url, **kwargs):
    """Follow nextLinks to the deltaLink; returns (items, pages, deltaLink)."""
    items, pages = [], 0
    response = graph.get(url, **kwargs)
    kwargs.pop("params", None)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
        pages += 1
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, pages, body["@odata.deltaLink"]
        response = graph.get(body["@odata.nextLink"], **kwargs)


def test_rounds(graph, emulator, samples):
    items, pages, delta_link = run_round(graph, "users/delta", params={"$select": "displayName,jobTitle"})
    assert len(items) == 200 and pages == 2
    assert set(items[0]) == {"displayName", "jobTitle", "id"}
    assert "$deltatoken=" in delta_link and urlsplit(delta_link).path == "/v1.0/users/delta"

    nothing, _, delta_link = run_round(graph, delta_link)
    assert nothing == []

    ceo, loner, guest = samples["ceo"]["id"], samples["loner"]["id"], samples["guest"]["id"]
    assert graph.patch(f"users/{ceo}", json={"jobTitle": "Chair"}).status_code == 204
    emulator.update_user(loner, displayName="Lone Ranger")  # an out-of-band change (another admin)
    assert graph.delete(f"users/{guest}").status_code == 204
    changes, _, delta_link = run_round(graph, delta_link)
    by_id = {item["id"]: item for item in changes}
    assert set(by_id) == {ceo, loner, guest}
    assert by_id[ceo] == {"displayName": "Patti Fernandez", "jobTitle": "Chair", "id": ceo}
    assert by_id[guest]["@removed"] == {"reason": "changed"}

    emulator.delete_user(guest, permanent=True)
    purged, _, _ = run_round(graph, delta_link)
    assert purged == [{"@odata.type": "#microsoft.graph.user", "id": guest, "@removed": {"reason": "deleted"}}]


def test_minimal_and_manager_changes(graph, emulator, samples):
    prefer = {"Prefer": "return=minimal"}
    _, _, delta_link = run_round(graph, "users/delta", params={"$select": "displayName,jobTitle,manager"},
                                 headers=prefer)
    loner = samples["loner"]["id"]
    assert graph.patch(f"users/{loner}", json={"jobTitle": "Scout"}).status_code == 204
    assert graph.put(f"users/{loner}/manager/$ref",
                     json={"@odata.id": f"{emulator.base_url}/v1.0/users/{samples['ceo']['id']}"}).status_code == 204
    changes, _, _ = run_round(graph, delta_link, headers=prefer)
    assert changes == [{"jobTitle": "Scout", "id": loner,
                        "manager@delta": [{"@odata.type": "#microsoft.graph.user", "id": samples["ceo"]["id"]}]}]


def test_page_size_preference_and_id_filter(graph, samples):
    items, pages, _ = run_round(graph, "users/delta", headers={"Prefer": "odata.maxpagesize=50"})
    assert len(items) == 200 and pages == 4
    ids = [samples["ceo"]["id"], samples["admin"]["id"]]
    expression = " or ".join(f"id eq '{i}'" for i in ids)
    filtered, _, _ = run_round(graph, "users/delta", params={"$filter": expression})
    assert sorted(i["id"] for i in filtered) == sorted(ids)
    assert graph.get("users/delta", params={"$filter": "displayName eq 'x'"}).status_code == 400


def test_latest_and_expired_tokens(graph, emulator, error_of, samples):
    latest = graph.get("users/delta", params={"$deltatoken": "latest"}).json()
    assert latest["value"] == [] and "@odata.deltaLink" in latest
    graph.patch(f"users/{samples['ceo']['id']}", json={"jobTitle": "Chair"})
    changes, _, delta_link = run_round(graph, latest["@odata.deltaLink"])
    assert [c["id"] for c in changes] == [samples["ceo"]["id"]]
    emulator.expire_delta_tokens()
    expired = graph.get(delta_link)
    assert expired.status_code == 400 and error_of(expired)["code"] == "syncStateNotFound"
    unknown = graph.get("users/delta", params={"$deltatoken": "bogus"})
    assert error_of(unknown)["code"] == "syncStateNotFound"
    assert error_of(graph.get("users/delta", params={"$skiptoken": "bogus"}))["code"] == "syncStateNotFound"


def test_delta_function_form_and_beta(beta):
    body = beta.get("users/delta()", params={"$top": "5"}).json()
    assert "@odata.nextLink" in body and parse_qs(urlsplit(body["@odata.nextLink"]).query)["$skiptoken"]
    assert body["@odata.nextLink"].startswith(beta.instance.base_url + "/beta/users/delta?")
