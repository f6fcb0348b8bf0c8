"""The oproxy token broker with hand-made AES-GCM blobs (auth.md §2)."""

from __future__ import annotations

import base64
import json
import os
import time

import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def blob(key_b64: str, content: str, stamp: int | None = None) -> str:
    nonce = os.urandom(12)
    plaintext = f"{int(time.time()) if stamp is None else stamp}:{content}".encode()
    sealed = AESGCM(base64.b64decode(key_b64)).encrypt(nonce, plaintext, None)  # ciphertext || tag
    return base64.b64encode(nonce + sealed).decode()


def obtain(emulator, encrypted: str, **overrides):
    oproxy = emulator.registrations["oproxy"]
    body = {"app_name": oproxy["app_name"], "registration_id": oproxy["registration_id"],
            "encrypted_token": encrypted, "scope": None, "resource": "", **overrides}
    return requests.post(oproxy["url"], json=body, verify=emulator.ca_bundle, timeout=10,
                         headers={"X-Content-Name": "Microsoft Graph User"})


def test_token_then_refresh_token_rotation(emulator, graph):
    oproxy = emulator.registrations["oproxy"]
    first = obtain(emulator, blob(oproxy["key"], oproxy["token"]))
    assert first.status_code == 200 and first.headers["Function-Execution-Id"]
    body = first.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token"}
    graph.token = body["access_token"]
    assert graph.get("users").status_code == 200
    second = obtain(emulator, blob(oproxy["key"], body["refresh_token"]))
    assert second.status_code == 200
    replay = obtain(emulator, blob(oproxy["key"], body["refresh_token"]))
    assert replay.status_code == 401
    detail = replay.json()["detail"]
    assert detail.startswith("Error: failed to get access token with err: {")
    embedded = json.loads(detail[detail.index("{"):])
    assert embedded["error"] == "invalid_grant" and embedded["error_codes"] == [70008]
    assert emulator.requests()[-1]["body"]["encrypted_token"] == "<redacted>"


def test_stale_timestamp_wrong_key_wrong_token(emulator):
    oproxy = emulator.registrations["oproxy"]
    stale = obtain(emulator, blob(oproxy["key"], oproxy["token"], stamp=int(time.time()) - 400))
    assert stale.status_code == 401 and "5 minutes" in stale.json()["detail"]
    future = obtain(emulator, blob(oproxy["key"], oproxy["token"], stamp=int(time.time()) + 400))
    assert future.status_code == 401
    wrong_key = obtain(emulator, blob(base64.b64encode(os.urandom(32)).decode(), oproxy["token"]))
    assert wrong_key.status_code == 401 and "decrypt" in wrong_key.json()["detail"]
    wrong_token = obtain(emulator, blob(oproxy["key"], "not-the-token"))
    assert wrong_token.status_code == 401
    assert '"error_codes": [70000]' in wrong_token.json()["detail"]
    assert set(wrong_token.json()) == {"title", "detail", "status"}


def test_unknown_registration_and_app_name(emulator):
    oproxy = emulator.registrations["oproxy"]
    encrypted = blob(oproxy["key"], oproxy["token"])
    assert obtain(emulator, encrypted, registration_id="nope").status_code == 401
    assert obtain(emulator, encrypted, app_name="ms-graph-mail").status_code == 400
    assert obtain(emulator, "%%%").status_code == 400


def test_revoked_refresh_token_is_wrapped_entra_error(emulator):
    oproxy = emulator.registrations["oproxy"]
    refresh = obtain(emulator, blob(oproxy["key"], oproxy["token"])).json()["refresh_token"]
    emulator.revoke_refresh_tokens()
    revoked = obtain(emulator, blob(oproxy["key"], refresh))
    assert revoked.status_code == 401 and '"error_codes": [50173]' in revoked.json()["detail"]
