"""Authentication methods, Temporary Access Pass, resetPassword operations, beta signInPreferences."""

from __future__ import annotations

import datetime as dt

import pytest

PASSWORD_METHOD = "28c10230-6103-485e-b985-444c60001490"
COLLECTIONS = ["fido2Methods", "emailMethods", "microsoftAuthenticatorMethods", "phoneMethods",
               "softwareOathMethods", "windowsHelloForBusinessMethods", "temporaryAccessPassMethods",
               "passwordMethods"]


def test_all_methods_of_the_admin(graph, samples):
    methods, _ = graph.get_all(f"users/{samples['admin']['id']}/authentication/methods")
    types = {m["@odata.type"].rsplit(".", 1)[1] for m in methods}
    assert types == {"passwordAuthenticationMethod", "emailAuthenticationMethod", "phoneAuthenticationMethod",
                     "microsoftAuthenticatorAuthenticationMethod", "fido2AuthenticationMethod",
                     "softwareOathAuthenticationMethod", "windowsHelloForBusinessAuthenticationMethod",
                     "temporaryAccessPassAuthenticationMethod"}
    one = graph.get(f"users/{samples['admin']['id']}/authentication/methods/{PASSWORD_METHOD}").json()
    assert one["@odata.type"] == "#microsoft.graph.passwordAuthenticationMethod" and one["password"] is None


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_list_get_delete_each_kind(graph, samples, error_of, collection):
    base = f"users/{samples['admin']['userPrincipalName']}/authentication/{collection}"
    items, _ = graph.get_all(base, params={"$top": "1"})
    assert items
    first = items[0]
    assert graph.get(f"{base}/{first['id']}").json()["id"] == first["id"]
    missing = graph.get(f"{base}/no-such-method")
    assert missing.status_code == 404
    assert error_of(missing)["message"] == "A key with identifier 'no-such-method' was not found."
    if collection == "passwordMethods":
        assert graph.delete(f"{base}/{first['id']}").status_code == 405
        return
    assert graph.delete(f"{base}/{first['id']}").status_code == 204
    assert graph.get(f"{base}/{first['id']}").status_code == 404
    assert graph.delete(f"{base}/{first['id']}").status_code == 404


def test_unknown_users(graph, error_of):
    tap = graph.get("users/ghost@emulator.onmicrosoft.com/authentication/temporaryAccessPassMethods")
    assert tap.status_code == 404 and error_of(tap)["message"] == "The specified user could not be found."
    fido = graph.get("users/ghost@emulator.onmicrosoft.com/authentication/fido2Methods")
    assert fido.status_code == 404 and error_of(fido)["code"] == "Request_ResourceNotFound"
    assert graph.get(f"users/{'x'}/authentication/bogusMethods").status_code == 400


def test_temporary_access_pass(graph, emulator, samples):
    base = f"users/{samples['ceo']['id']}/authentication/temporaryAccessPassMethods"
    created = graph.post(base, json={"lifetimeInMinutes": 60, "isUsableOnce": False})
    assert created.status_code == 201
    body = created.json()
    assert len(body["temporaryAccessPass"]) == 8 and body["isUsable"] is True
    assert body["methodUsabilityReason"] == "EnabledByPolicy"
    assert emulator.requests()[-1]["status"] == 201
    listed = graph.get(base).json()["value"]
    assert [m["id"] for m in listed] == [body["id"]] and listed[0]["temporaryAccessPass"] is None
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    replacement = graph.post(base, json={"lifetimeInMinutes": 10, "isUsableOnce": True, "startDateTime": later})
    assert replacement.status_code == 201
    listed = graph.get(base).json()["value"]
    assert [m["id"] for m in listed] == [replacement.json()["id"]]  # one TAP per user: the old one is gone
    assert listed[0]["isUsable"] is False and listed[0]["methodUsabilityReason"] == "NotYetValid"


@pytest.mark.parametrize("body", [{"lifetimeInMinutes": 9}, {"lifetimeInMinutes": 43201},
                                  {"lifetimeInMinutes": "60"}, {"isUsableOnce": "false"},
                                  {"startDateTime": "2001-01-01T00:00:00Z"}, {"temporaryAccessPass": "mine"}])
def test_temporary_access_pass_validation(graph, samples, body):
    response = graph.post(f"users/{samples['ceo']['id']}/authentication/temporaryAccessPassMethods", json=body)
    assert response.status_code == 400


def test_tap_policy_knob(graph, emulator, samples):
    emulator.configure(tap_policy={"isEnabled": False})
    response = graph.post(f"users/{samples['ceo']['id']}/authentication/temporaryAccessPassMethods", json={})
    assert response.status_code == 400 and "Converged UserCredentialPolicy" in response.text


def test_reset_password_operation(graph, emulator, samples):
    user = samples["hybrid"]["id"]
    started = graph.post(f"users/{user}/authentication/methods/{PASSWORD_METHOD}/resetPassword",
                         json={"newPassword": "N3w!Password"})
    assert started.status_code == 202 and started.content == b""
    location = started.headers["Location"]
    assert location.startswith(f"{emulator.base_url}/v1.0/users/{user}/authentication/operations/")
    statuses = [graph.get(location).json()["status"] for _ in range(4)]
    assert statuses == ["notStarted", "running", "succeeded", "succeeded"]
    assert emulator.user(user)["_password"] == "N3w!Password"


def test_reset_password_can_fail_and_needs_the_password_method(graph, samples, error_of):
    user = samples["hybrid"]["id"]
    started = graph.post(f"users/{user}/authentication/methods/{PASSWORD_METHOD}/resetPassword",
                         json={"newPassword": "weak"})
    statuses = [graph.get(started.headers["Location"]).json() for _ in range(3)]
    assert statuses[-1]["status"] == "failed" and statuses[-1]["statusDetail"]
    wrong = graph.post(f"users/{user}/authentication/methods/3ddfcfc8-9383-446f-83cc-3ab9be4be18f/resetPassword",
                       json={"newPassword": "N3w!Password"})
    assert wrong.status_code == 404 and error_of(wrong)["message"].startswith("A key with identifier")


def test_sign_in_preferences_is_beta_only(graph, beta, samples):
    admin = samples["admin"]["id"]
    body = beta.get(f"users/{admin}/authentication/signInPreferences").json()
    assert body["isSystemPreferredAuthenticationMethodEnabled"] is True
    assert body["userPreferredMethodForSecondaryAuthentication"] == "push"
    assert body["systemPreferredAuthenticationMethod"] == "Fido2"
    assert graph.get(f"users/{admin}/authentication/signInPreferences").status_code == 400
    assert beta.patch(f"users/{admin}/authentication/signInPreferences",
                      json={"userPreferredMethodForSecondaryAuthentication": "sms"}).status_code == 204
    assert beta.get(f"users/{admin}/authentication/signInPreferences").json()[
        "userPreferredMethodForSecondaryAuthentication"] == "sms"
