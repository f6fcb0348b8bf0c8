"""Fault injection: rules that make matching requests fail, stall, drop or corrupt their answer.

A rule (JSON, see README "Fault knobs") matches on server (``https`` / ``imds``), method, a glob over the path and
optionally a substring of the query. ``skip`` lets that many matching requests through first; then the rule fires
``count`` times (``null`` = forever), each time with ``probability`` drawn from a RNG seeded by ``seed``.
"""

from __future__ import annotations

import email.utils
import fnmatch
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

KINDS = ("status", "latency", "drop", "malformed", "expire_tokens", "revoke")


@dataclass
class FaultRule:
    kind: str
    route: str = "*"
    method: str = "*"
    server: str = "https"
    query_contains: str | None = None
    status: int = 429
    retry_after: float | None = None
    retry_after_format: str = "seconds"  # seconds | http-date
    latency_ms: int = 0
    count: int | None = 1
    probability: float = 1.0
    seed: int = 0
    skip: int = 0
    code: str | None = None
    message: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    matched: int = 0
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        """Build a rule from the admin API's JSON; raises ValueError naming the bad field."""
        allowed = {f for f in cls.__dataclass_fields__ if not f.startswith("_")} - {"id", "matched", "fired"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        rule = cls(**data)
        if rule.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if rule.kind == "status" and not 400 <= int(rule.status) <= 599:
            raise ValueError("status must be between 400 and 599")
        if rule.server not in ("https", "imds", "*"):
            raise ValueError("server must be 'https', 'imds' or '*'")
        if rule.retry_after_format not in ("seconds", "http-date"):
            raise ValueError("retry_after_format must be 'seconds' or 'http-date'")
        if not 0.0 <= float(rule.probability) <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if rule.count is not None and int(rule.count) < 1:
            raise ValueError("count must be a positive integer or null")
        rule.method = rule.method.upper()
        rule._rng = random.Random(rule.seed)
        return rule

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if not name.startswith("_")}

    def matches(self, server: str, method: str, path: str, query: str) -> bool:
        return (
            self.server in ("*", server)
            and self.method in ("*", method.upper())
            and fnmatch.fnmatchcase(path, self.route)
            and (self.query_contains is None or self.query_contains in query)
        )

    def retry_after_header(self) -> str | None:
        if self.retry_after is None:
            return None
        if self.retry_after_format == "http-date":
            return email.utils.formatdate(time.time() + float(self.retry_after), usegmt=True)
        seconds = float(self.retry_after)
        return str(int(seconds)) if seconds == int(seconds) else str(seconds)


class FaultEngine:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_json() for r in self._rules]

    def pick(self, server: str, method: str, path: str, query: str = "") -> FaultRule | None:
        """The first rule that fires for this request (counters are updated), or None."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(server, method, path, query):
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.probability < 1.0 and rule._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule
        return None


GRAPH_STATUS_CODES = {
    429: ("TooManyRequests", "Too many requests."),
    500: ("generalException", "General exception while processing."),
    502: ("BadGateway", "Bad gateway."),
    503: ("serviceNotAvailable", "Service unavailable."),
    504: ("GatewayTimeout", "The gateway did not receive a response in time."),
    509: ("BandwidthLimitExceeded", "Bandwidth limit exceeded."),
}


def graph_code(rule: FaultRule) -> tuple[str, str]:
    code, message = GRAPH_STATUS_CODES.get(rule.status, ("UnknownError", "An error occurred."))
    return rule.code or code, rule.message or message


MALFORMED_JSON = b'{"@odata.context": "truncated", "value": [{"id": "'
