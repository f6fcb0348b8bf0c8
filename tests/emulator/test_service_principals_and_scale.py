"""servicePrincipals + addPassword, and the 50,000-user tenant."""

from __future__ import annotations

import time

import emulator as emulator_package


def test_service_principal_lookup_and_add_password(graph, emulator):
    mfa_app = emulator.registrations["mfa_app_id"]
    found = graph.get(f"servicePrincipals?$filter=appId eq '{mfa_app}'&$select=id").json()
    assert found["value"] == [{"id": emulator.registrations["mfa_service_principal_id"]}]
    assert graph.get("servicePrincipals", params={"$filter": "appId eq 'nope'"}).json()["value"] == []
    sp_id = found["value"][0]["id"]
    created = graph.post(f"servicePrincipals/{sp_id}/addPassword",
                         json={"passwordCredential": {"displayName": "MFA App Secret"}})
    assert created.status_code == 200
    body = created.json()
    assert body["secretText"] and body["displayName"] == "MFA App Secret" and body["endDateTime"].endswith("Z")
    listed = graph.get(f"servicePrincipals/{sp_id}").json()["passwordCredentials"]
    assert listed[0]["keyId"] == body["keyId"] and "secretText" not in listed[0]
    assert graph.post("servicePrincipals/nope/addPassword", json={}).status_code == 404


def test_fifty_thousand_users(clients):
    began = time.perf_counter()
    with emulator_package.start(users=50_000) as big:
        elapsed = time.perf_counter() - began
        print(f"\n50,000-user emulator ready in {elapsed:.2f}s (tenant + TLS + listeners)")
        graph = clients.graph(big)
        first = graph.get("users", params={"$top": "999", "$count": "true"},
                          headers={"ConsistencyLevel": "eventual"}).json()
        assert first["@odata.count"] == 50_000 and len(first["value"]) == 999
        last_page = graph.get("users", params={"$filter": "startswith(userPrincipalName,'zainab')",
                                               "$top": "999"}).json()
        assert last_page["value"]
        began = time.perf_counter()
        pages = 0
        body = first
        while "@odata.nextLink" in body and pages < 10:
            body = graph.get(body["@odata.nextLink"], headers={"ConsistencyLevel": "eventual"}).json()
            pages += 1
        print(f"10 further pages of 999 in {time.perf_counter() - began:.2f}s")
        big_user = big.tenant.users[big.tenant.order[49_999]]
        assert graph.get(f"users/{big_user['userPrincipalName']}/authentication/methods").status_code == 200
