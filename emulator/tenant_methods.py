"""Authentication methods of the emulated users, generated on first access from the user's generator index."""

from __future__ import annotations

import base64
import datetime as dt
import random
import secrets
import uuid
from typing import Any

from .errors import iso_z, utc_now
from .tenant import ADMIN, LONER, User

PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"
EMAIL_METHOD_ID = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"
PHONE_METHOD_IDS = {
    "mobile": "3179e48a-750b-4051-897c-87b9720928f7",
    "alternateMobile": "b6332ec1-7057-4abe-9331-3d72feddfe41",
    "office": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
}

# URL segment -> (method kind, @odata.type)
COLLECTIONS: dict[str, tuple[str, str]] = {
    "passwordMethods": ("password", "#microsoft.graph.passwordAuthenticationMethod"),
    "emailMethods": ("email", "#microsoft.graph.emailAuthenticationMethod"),
    "phoneMethods": ("phone", "#microsoft.graph.phoneAuthenticationMethod"),
    "microsoftAuthenticatorMethods": ("microsoftAuthenticator",
                                      "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"),
    "fido2Methods": ("fido2", "#microsoft.graph.fido2AuthenticationMethod"),
    "softwareOathMethods": ("softwareOath", "#microsoft.graph.softwareOathAuthenticationMethod"),
    "windowsHelloForBusinessMethods": ("windowsHelloForBusiness",
                                       "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod"),
    "temporaryAccessPassMethods": ("temporaryAccessPass",
                                   "#microsoft.graph.temporaryAccessPassAuthenticationMethod"),
}
KIND_TYPES = {kind: odata_type for kind, odata_type in COLLECTIONS.values()}
KINDS = tuple(KIND_TYPES)
_EPOCH = dt.datetime(2021, 6, 1, 9, 0, 0, tzinfo=dt.UTC)


def _key_id(rng: random.Random) -> str:
    """An id shaped like the base64url key ids Graph uses for FIDO2 and Windows Hello methods."""
    return base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("=") + "2"


def methods_of(user: User, seed: int) -> dict[str, list[dict[str, Any]]]:
    """The user's methods by kind (generated once, then kept on the user record)."""
    if "_methods" not in user:
        user["_methods"] = _generate(user, seed)
    methods: dict[str, list[dict[str, Any]]] = user["_methods"]
    return methods


def _generate(user: User, seed: int) -> dict[str, list[dict[str, Any]]]:
    index = user.get("_idx")
    created = user.get("createdDateTime") or iso_z(_EPOCH)
    methods: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    methods["password"].append({"id": PASSWORD_METHOD_ID, "password": None, "createdDateTime": created})
    if index is None or index == LONER:
        return methods
    rng = random.Random(f"{seed}:methods:{index}")
    everything = index == ADMIN

    def when() -> str:
        return iso_z(_EPOCH + dt.timedelta(days=rng.randrange(900), minutes=rng.randrange(1440)))

    if everything or rng.random() < 0.6:
        methods["email"].append({"id": EMAIL_METHOD_ID, "emailAddress": f"{user['mailNickname']}@fabrikam.example"})
    if everything or rng.random() < 0.7:
        methods["phone"].append({"id": PHONE_METHOD_IDS["mobile"], "phoneNumber": f"+1 206555{index % 10000:04d}",
                                 "phoneType": "mobile", "smsSignInState": "notAllowedByPolicy"})
    if everything or rng.random() < 0.15:
        methods["phone"].append({"id": PHONE_METHOD_IDS["office"], "phoneNumber": f"+1 425555{index % 10000:04d}",
                                 "phoneType": "office", "smsSignInState": "notSupported"})
    for number in range(3 if everything else rng.choice((0, 0, 1, 1, 2))):
        methods["microsoftAuthenticator"].append(
            {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
             "displayName": ("iPhone 15", "Pixel 8", "Galaxy S24")[number % 3],
             "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.8.7", "createdDateTime": when()})
    if everything or rng.random() < 0.15:
        methods["fido2"].append(
            {"id": _key_id(rng), "displayName": "Security key", "createdDateTime": when(),
             "aaGuid": "ee882879-721c-4913-9775-3dfcce97072a", "model": "YubiKey 5 Series",
             "attestationCertificates": [rng.randbytes(20).hex()], "attestationLevel": "attested"})
    if everything or rng.random() < 0.1:
        methods["softwareOath"].append({"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                        "secretKey": None})
    if everything or rng.random() < 0.2:
        methods["windowsHelloForBusiness"].append(
            {"id": _key_id(rng), "displayName": f"WIN-{index:05d}", "createdDateTime": when(),
             "keyStrength": "normal"})
    if everything or rng.random() < 0.05:
        start = utc_now() - dt.timedelta(minutes=5)
        methods["temporaryAccessPass"].append(
            {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "createdDateTime": iso_z(start),
             "startDateTime": iso_z(start), "lifetimeInMinutes": 480, "isUsableOnce": False})
    return methods


def render(kind: str, method: dict[str, Any]) -> dict[str, Any]:
    """A method as Graph shows it (the TAP value itself is never shown after creation)."""
    body: dict[str, Any] = {"@odata.type": KIND_TYPES[kind]}
    body.update({k: v for k, v in method.items() if not k.startswith("_")})
    if kind == "temporaryAccessPass":
        body["temporaryAccessPass"] = None
        usable, reason = tap_usability(method)
        body["isUsable"] = usable
        body["methodUsabilityReason"] = reason
    return body


def tap_usability(method: dict[str, Any]) -> tuple[bool, str]:
    start = dt.datetime.fromisoformat(method["startDateTime"].replace("Z", "+00:00"))
    now = utc_now()
    if now < start:
        return False, "NotYetValid"
    if now >= start + dt.timedelta(minutes=method["lifetimeInMinutes"]):
        return False, "Expired"
    if method.get("_used"):
        return False, "OneTimeUsed"
    return True, "EnabledByPolicy"


def find(user: User, seed: int, method_id: str, kind: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """(kind, method) for ``method_id`` among the user's methods (of ``kind`` only, when given)."""
    for method_kind, items in methods_of(user, seed).items():
        if kind is not None and method_kind != kind:
            continue
        for method in items:
            if method["id"] == method_id:
                return method_kind, method
    return None


def remove(user: User, seed: int, kind: str, method_id: str) -> bool:
    items = methods_of(user, seed)[kind]
    for position, method in enumerate(items):
        if method["id"] == method_id:
            del items[position]
            return True
    return False


def create_tap(user: User, seed: int, lifetime: int, usable_once: bool, start: dt.datetime | None
               ) -> tuple[dict[str, Any], str]:
    """Create a Temporary Access Pass, replacing any existing one. Returns (method, pass)."""
    now = utc_now()
    code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789#%+@") for _ in range(8))
    method = {"id": str(uuid.uuid4()), "createdDateTime": iso_z(now, millis=True),
              "startDateTime": iso_z(start or now, millis=True), "lifetimeInMinutes": lifetime,
              "isUsableOnce": usable_once, "_pass": code}
    methods_of(user, seed)["temporaryAccessPass"][:] = [method]
    return method, code
