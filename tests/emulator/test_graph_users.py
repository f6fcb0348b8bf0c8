"""Graph /users: paging, query options, advanced-query rules, addressing, writes, error bodies."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, quote, urlsplit

import pytest

DEFAULT_PROPERTIES = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                      "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"]
EVENTUAL = {"ConsistencyLevel": "eventual"}


def test_default_page_and_properties(graph):
    response = graph.get("users")
    body = response.json()
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert body["@odata.context"].endswith("/v1.0/$metadata#users")
    assert len(body["value"]) == 100
    assert list(body["value"][0]) == DEFAULT_PROPERTIES
    assert "@odata.count" not in body


@pytest.mark.parametrize(("top", "pages"), [(None, 2), (999, 1), (7, 29), (200, 1), (199, 2)])
def test_paging_visits_every_user_once(graph, top, pages):
    params = {"$top": top} if top else {}
    users, seen_pages = graph.get_all("users", params=params)
    assert seen_pages == pages
    assert len(users) == 200 and len({u["id"] for u in users}) == 200


def test_next_link_preserves_select_filter_and_top(graph):
    params = {"$select": "id,displayName", "$filter": "startswith(displayName,'a')", "$top": "2"}
    first = graph.get("users", params=params).json()
    link = first["@odata.nextLink"]
    query = parse_qs(urlsplit(link).query)
    assert query["$select"] == ["id,displayName"] and query["$top"] == ["2"]
    assert query["$filter"] == ["startswith(displayName,'a')"] and "$skiptoken" in query
    assert " " not in link and "+" not in link
    users, _ = graph.get_all("users", params=params)
    assert users and all(set(u) == {"id", "displayName"} for u in users)
    assert all(u["displayName"].lower().startswith("a") for u in users)


def test_top_limits(graph, error_of):
    assert error_of(graph.get("users", params={"$top": "1000"}))["code"] == "Request_BadRequest"
    assert graph.get("users", params={"$top": "0"}).status_code == 400
    assert graph.get("users", params={"$top": "abc"}).status_code == 400


def test_count_needs_consistency_level(graph):
    ignored = graph.get("users", params={"$count": "true"}).json()
    assert "@odata.count" not in ignored
    counted = graph.get("users", params={"$count": "true", "$filter": "accountEnabled eq false"},
                        headers=EVENTUAL).json()
    assert counted["@odata.count"] == len(counted["value"]) >= 1
    second_page = graph.get("users", params={"$count": "true", "$top": "150"}, headers=EVENTUAL).json()
    assert second_page["@odata.count"] == 200
    assert "@odata.count" not in graph.get(second_page["@odata.nextLink"], headers=EVENTUAL).json()


@pytest.mark.parametrize(("expression", "check"), [
    ("accountEnabled eq false", lambda u: u["userPrincipalName"].startswith("disabled.user")),
    ("userPrincipalName eq 'ADMIN@EMULATOR.ONMICROSOFT.COM'", lambda u: u["displayName"] == "MOD Administrator"),
    ("startswith(displayName,'Conor O''Brien')", lambda u: u["surname"] == "O'Brien"),
    ("userPrincipalName in ('ceo@emulator.onmicrosoft.com', 'loner@emulator.onmicrosoft.com')",
     lambda u: u["userPrincipalName"] in ("ceo@emulator.onmicrosoft.com", "loner@emulator.onmicrosoft.com")),
    ("department eq 'IT' and (jobTitle eq 'IT Admin' or startsWith(jobTitle, 'IT '))",
     lambda u: u["department"] == "IT"),
    ("mobilePhone eq null and userType eq 'Member'", lambda u: u["mobilePhone"] is None),
    ("proxyAddresses/any(p:startswith(p, 'SMTP:admin'))", lambda u: u["userPrincipalName"].startswith("admin@")),
    ("createdDateTime ge 2019-03-05T00:00:00Z and createdDateTime lt 2019-03-06T00:00:00Z",
     lambda u: u["createdDateTime"].startswith("2019-03-05")),
])
def test_filter_operators(graph, expression, check):
    select = "id,displayName,surname,department,jobTitle,mobilePhone,userType,userPrincipalName,createdDateTime"
    users, _ = graph.get_all("users", params={"$filter": expression, "$select": select})
    assert users, expression
    assert all(check(u) for u in users), expression


@pytest.mark.parametrize("expression", ["displayName ne 'x'", "not(startswith(displayName,'A'))",
                                        "endswith(mail,'@emulator.onmicrosoft.com')"])
def test_advanced_operators_need_header_and_count(graph, error_of, expression):
    no_header = error_of(graph.get("users", params={"$filter": expression}))
    assert no_header["code"] == "Request_UnsupportedQuery"
    assert "'ConsistencyLevel:eventual' header is missing" in no_header["message"]
    no_count = error_of(graph.get("users", params={"$filter": expression}, headers=EVENTUAL))
    assert "$count=true" in no_count["message"]
    ok = graph.get("users", params={"$filter": expression, "$count": "true"}, headers=EVENTUAL)
    assert ok.status_code == 200 and ok.json()["@odata.count"] > 0


def test_ne_and_not_results(graph):
    params = {"$filter": "userType ne 'Member'", "$count": "true", "$select": "userType"}
    guests, _ = graph.get_all("users", params=params, headers=EVENTUAL)
    assert [u["userType"] for u in guests] == ["Guest"]
    everyone_else, _ = graph.get_all("users", params={"$filter": "not(userType eq 'Guest')", "$count": "true"},
                                     headers=EVENTUAL)
    assert len(everyone_else) == 199


@pytest.mark.parametrize(("expression", "code"), [
    ("endswith(displayName,'x')", "Request_UnsupportedQuery"),
    ("contains(displayName,'x')", "Request_UnsupportedQuery"),
    ("nosuch eq 'x'", "Request_BadRequest"),
    ("accountEnabled eq 'true'", "BadRequest"),
    ("displayName eq", "BadRequest"),
    ("displayName eq 'unterminated", "BadRequest"),
])
def test_filter_errors(graph, error_of, expression, code):
    response = graph.get("users", params={"$filter": expression, "$count": "true"}, headers=EVENTUAL)
    assert response.status_code == 400
    assert error_of(response)["code"] == code


def test_select_rules(graph, error_of):
    assert graph.get("users", params={"$select": "displayName"}).json()["value"][0] == {"displayName":
                                                                                         "MOD Administrator"}
    everything = graph.get("users", params={"$select": "*", "$top": "1"}).json()["value"][0]
    assert "accountEnabled" in everything and everything["passwordProfile"] is None
    assert error_of(graph.get("users", params={"$select": "displayName,bogus"}))["message"] == \
        "Could not find a property named 'bogus' on type 'microsoft.graph.user'."


def test_search_needs_consistency_level(graph, error_of):
    params = {"$search": '"displayName:lone"'}
    assert error_of(graph.get("users", params=params))["code"] == "Request_UnsupportedQuery"
    found = graph.get("users", params=params, headers=EVENTUAL).json()["value"]
    assert [u["userPrincipalName"] for u in found] == ["loner@emulator.onmicrosoft.com"]


def test_orderby(graph, error_of):
    ordered = graph.get("users", params={"$orderby": "displayName", "$top": "50"}).json()
    names = [u["displayName"].casefold() for u in ordered["value"]]
    assert names == sorted(names)
    users, _ = graph.get_all("users", params={"$orderby": "displayName desc", "$top": "50"})
    assert len(users) == 200
    refused = graph.get("users", params={"$orderby": "displayName", "$filter": "accountEnabled eq true"})
    assert error_of(refused)["code"] == "Request_UnsupportedQuery"


def test_get_by_id_upn_encoded_keys(graph, samples, error_of):
    admin = samples["admin"]
    assert graph.get(f"users/{admin['id']}").json()["userPrincipalName"] == admin["userPrincipalName"]
    assert graph.get(f"users/{admin['id'].upper()}").status_code == 200
    assert graph.get(f"users/{admin['userPrincipalName'].upper()}").json()["id"] == admin["id"]
    guest = samples["guest"]["userPrincipalName"]
    assert "#EXT#" in guest
    assert graph.get(f"users/{quote(guest, safe='')}").json()["id"] == samples["guest"]["id"]
    dollar = samples["dollar"]["userPrincipalName"]
    assert graph.get(f"users('{quote(dollar, safe='@')}')").json()["id"] == samples["dollar"]["id"]
    apostrophe = samples["apostrophe"]["userPrincipalName"].replace("'", "''")
    assert graph.get(f"users('{quote(apostrophe, safe='@')}')").json()["id"] == samples["apostrophe"]["id"]
    single = graph.get(f"users/{admin['id']}", params={"$select": "id,accountEnabled"}).json()
    assert single["@odata.context"].endswith("$metadata#users(id,accountEnabled)/$entity")
    missing = graph.get("users/a%2Fb@emulator.onmicrosoft.com")
    assert missing.status_code == 404
    assert error_of(missing)["message"] == ("Resource 'a/b@emulator.onmicrosoft.com' does not exist or one of its "
                                            "queried reference-property objects are not present.")


def test_client_request_id_is_echoed(graph):
    client_request_id = str(uuid.uuid4())
    response = graph.get("users/nobody@emulator.onmicrosoft.com", headers={"client-request-id": client_request_id})
    assert response.headers["client-request-id"] == client_request_id
    assert response.json()["error"]["innerError"]["client-request-id"] == client_request_id
    assert response.headers["request-id"] != client_request_id


def new_user(**overrides):
    body = {"accountEnabled": True, "displayName": "New Person", "mailNickname": "new.person",
            "userPrincipalName": "new.person@emulator.onmicrosoft.com",
            "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": "Str0ng!Passw0rd"}}
    body.update(overrides)
    return body


def test_create_then_read(graph, emulator):
    created = graph.post("users", json=new_user())
    assert created.status_code == 201
    body = created.json()
    assert body["userPrincipalName"] == "new.person@emulator.onmicrosoft.com" and body["id"]
    assert graph.get("users/new.person@emulator.onmicrosoft.com").json()["id"] == body["id"]
    assert emulator.user(body["id"])["_password"] == "Str0ng!Passw0rd"
    assert emulator.requests()[-2]["body"]["passwordProfile"]["password"] == "<redacted>"
    users, _ = graph.get_all("users", params={"$top": "999"})
    assert len(users) == 201


@pytest.mark.parametrize(("overrides", "message"), [
    ({"userPrincipalName": "admin@emulator.onmicrosoft.com"},
     "Another object with the same value for property userPrincipalName already exists."),
    ({"userPrincipalName": "x@contoso.com"}, "The domain portion of the userPrincipalName property is invalid."),
    ({"passwordProfile": {"password": "short"}}, "password complexity"),
    ({"accountEnabled": "true"}, "Cannot convert the literal 'true' to the expected type 'Edm.Boolean'."),
    ({"displayName": None}, "Invalid value specified for property 'displayName'"),
    ({"favouriteColour": "blue"}, "does not exist on type 'microsoft.graph.user'"),
])
def test_create_validation(graph, error_of, overrides, message):
    response = graph.post("users", json=new_user(**overrides))
    assert response.status_code == 400
    assert message in error_of(response)["message"]


def test_create_needs_json(graph, error_of):
    response = graph.post("users", data="not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "Unable to read JSON request payload" in error_of(response)["message"]


def test_patch_delete_revoke(graph, samples, error_of):
    ceo = samples["ceo"]["id"]
    patched = graph.patch(f"users/{ceo}", json={"jobTitle": "Chair", "accountEnabled": False})
    assert patched.status_code == 204 and patched.content == b""
    body = graph.get(f"users/{ceo}", params={"$select": "jobTitle,accountEnabled"}).json()
    assert body["jobTitle"] == "Chair" and body["accountEnabled"] is False
    assert graph.patch(f"users/{ceo}", json={"passwordProfile": {"forceChangePasswordNextSignIn": "true"}}
                       ).status_code == 400
    assert graph.patch(f"users/{ceo}", json={"passwordProfile": {"forceChangePasswordNextSignIn": True}}
                       ).status_code == 204
    hybrid = samples["hybrid"]["id"]
    refused = graph.patch(f"users/{hybrid}", json={"displayName": "Renamed"})
    assert "on-premises mastered" in error_of(refused)["message"]
    revoked = graph.post(f"users/{ceo}/revokeSignInSessions")
    assert revoked.status_code == 200 and revoked.json()["value"] is True
    assert graph.delete(f"users/{ceo}").status_code == 204
    assert graph.get(f"users/{ceo}").status_code == 404
    assert graph.delete(f"users/{ceo}").status_code == 404


def test_unknown_segment_and_method(graph, error_of):
    assert error_of(graph.get("users/x/nonsense"))["message"] == "Resource not found for the segment 'nonsense'."
    assert graph.put("users").status_code == 405


def test_replication_delay_knob(graph, emulator):
    emulator.configure(replication_delay_ms=60_000)
    created = graph.post("users", json=new_user())
    assert created.status_code == 201
    assert graph.get(f"users/{created.json()['id']}").status_code == 404
