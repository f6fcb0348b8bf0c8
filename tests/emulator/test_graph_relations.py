"""Manager, direct reports, memberOf, ownedDevices."""

from __future__ import annotations


def test_manager_read_and_missing(graph, samples, error_of):
    ceo = samples["ceo"]
    manager = graph.get(f"users/{samples['dollar']['id']}/manager").json()
    assert manager["id"] == ceo["id"] and manager["@odata.type"] == "#microsoft.graph.user"
    assert manager["@odata.context"].endswith("$metadata#directoryObjects/$entity")
    none = graph.get(f"users/{samples['loner']['id']}/manager")
    assert none.status_code == 404
    assert error_of(none)["message"].startswith("Resource 'manager' does not exist")
    assert graph.get("users/nobody@emulator.onmicrosoft.com/manager").status_code == 404


def test_assign_manager_by_ref(graph, emulator, samples, error_of):
    loner, admin = samples["loner"], samples["admin"]
    body = {"@odata.id": f"{emulator.base_url}/v1.0/users/{admin['id']}"}
    assert graph.put(f"users/{loner['userPrincipalName']}/manager/$ref", json=body).status_code == 204
    assert graph.get(f"users/{loner['id']}/manager").json()["id"] == admin["id"]
    reports, _ = graph.get_all(f"users/{admin['id']}/directReports")
    assert loner["id"] in [r["id"] for r in reports]
    by_upn = {"@odata.id": f"{emulator.base_url}/v1.0/users/{samples['ceo']['userPrincipalName']}"}
    assert graph.put(f"users/{loner['id']}/manager/$ref", json=by_upn).status_code == 204
    missing = {"@odata.id": f"{emulator.base_url}/v1.0/users/ghost@emulator.onmicrosoft.com"}
    response = graph.put(f"users/{loner['id']}/manager/$ref", json=missing)
    assert response.status_code == 404 and "ghost@emulator.onmicrosoft.com" in error_of(response)["message"]
    assert graph.put(f"users/{loner['id']}/manager/$ref", json={}).status_code == 400
    assert graph.delete(f"users/{loner['id']}/manager/$ref").status_code == 204
    assert graph.get(f"users/{loner['id']}/manager").status_code == 404


def test_direct_reports_paging(graph, samples):
    ceo = samples["ceo"]["id"]
    everyone, pages = graph.get_all(f"users/{ceo}/directReports", params={"$top": "2"})
    assert len(everyone) >= 5 and pages == (len(everyone) + 1) // 2
    assert all(r["@odata.type"] == "#microsoft.graph.user" for r in everyone)
    assert graph.get(f"users/{samples['loner']['id']}/directReports").json()["value"] == []


def test_member_of_types(graph, samples):
    admin = samples["admin"]["id"]
    items, _ = graph.get_all(f"users/{admin}/memberOf", params={"$top": "1"})
    types = {item["@odata.type"] for item in items}
    assert types == {"#microsoft.graph.group", "#microsoft.graph.directoryRole",
                     "#microsoft.graph.administrativeUnit"}
    role = next(i for i in items if i["@odata.type"] == "#microsoft.graph.directoryRole")
    assert role["displayName"] == "Global Administrator"
    group = next(i for i in items if i["@odata.type"] == "#microsoft.graph.group")
    assert {"securityEnabled", "mailEnabled", "groupTypes", "visibility"} <= set(group)


def test_owned_devices_the_way_the_integration_asks(graph, samples):
    admin = samples["admin"]["id"]
    response = graph.get(f"users/{admin}/ownedDevices", params={"$filter": "", "$count": "true", "$top": "2"},
                         headers={"ConsistencyLevel": "eventual"})
    body = response.json()
    assert body["@odata.count"] == 3 and len(body["value"]) == 2 and "@odata.nextLink" in body
    device = body["value"][0]
    assert device["@odata.type"] == "#microsoft.graph.device" and {"deviceId", "displayName", "trustType"} <= set(
        device)
    rest = graph.get(body["@odata.nextLink"], headers={"ConsistencyLevel": "eventual"}).json()
    assert len(rest["value"]) == 1 and "@odata.count" not in rest
    windows = graph.get(f"users/{admin}/ownedDevices", params={"$filter": "operatingSystem eq 'Windows'"}).json()
    assert all(d["operatingSystem"] == "Windows" for d in windows["value"])
    assert graph.get(f"users/{samples['loner']['id']}/ownedDevices").json()["value"] == []
