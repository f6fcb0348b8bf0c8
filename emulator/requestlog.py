"""A log of every request the emulator served, for tests that count or inspect requests.

Secrets are masked: the value of ``Authorization`` and ``X-IDENTITY-HEADER``, and form or JSON fields that hold
credentials (client secret, assertion, code, refresh token, passwords, the oproxy blob).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

MASK = "<redacted>"
_SECRET_HEADERS = {"authorization", "x-identity-header", "x-emulator-admin-token", "secret"}
_SECRET_FIELDS = {"client_secret", "client_assertion", "code", "refresh_token", "password", "newPassword",
                  "encrypted_token", "code_verifier", "assertion", "secretText", "temporaryAccessPass"}


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    masked = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if name.lower() == "authorization" and " " in value else ""
            masked[name] = f"{scheme} {MASK}".strip()
        else:
            masked[name] = value
    return masked


def mask_fields(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: (MASK if k in _SECRET_FIELDS and v not in (None, "") else mask_fields(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_fields(item) for item in data]
    return data


class RequestLog:
    def __init__(self, capacity: int = 20000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._counter = 0

    def add(self, *, server: str, via: str, method: str, path: str, query: str, headers: dict[str, str],
            body: Any = None, request_id: str = "") -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            entry: dict[str, Any] = {
                "seq": self._counter,
                "time": time.time(),
                "server": server,
                "via": via,
                "method": method,
                "path": path,
                "query": query,
                "headers": mask_headers(headers),
                "body": mask_fields(body),
                "request_id": request_id,
                "status": None,
                "fault": None,
            }
            self._entries.append(entry)
            return entry

    def entries(self, *, since: int = 0, include_batch: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > since and (include_batch or e["via"] != "batch")]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
