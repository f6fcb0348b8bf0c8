"""Deterministic identifiers and secrets derived from the emulator seed."""

from __future__ import annotations

import base64
import hashlib
import uuid


def det_bytes(seed: int, label: str, length: int = 32) -> bytes:
    """``length`` pseudo-random bytes that depend only on (seed, label)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{seed}:{label}:{counter}".encode()).digest()
        counter += 1
    return out[:length]


def det_uuid(seed: int, label: str) -> str:
    """A version-4-shaped GUID that depends only on (seed, label)."""
    return str(uuid.UUID(bytes=det_bytes(seed, label, 16), version=4))


def det_token(seed: int, label: str, length: int = 40) -> str:
    """A URL-safe token (letters, digits, ``-`` and ``_``) that depends only on (seed, label)."""
    raw = base64.urlsafe_b64encode(det_bytes(seed, label, length)).decode().rstrip("=")
    return raw[:length]


def det_client_secret(seed: int, label: str) -> str:
    """A client secret shaped like Entra's (three characters, ``8Q~``, then 34 characters)."""
    body = det_token(seed, label, 37).replace("-", ".").replace("_", "~")
    return f"{body[:3]}8Q~{body[3:]}"
