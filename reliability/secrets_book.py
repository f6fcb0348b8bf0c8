"""The secrets a scenario knows about, and a scan of what users and administrators can see for any of them.

A secret is looked for as given and in the forms it takes on the way out: URL-encoded (query strings, form bodies),
JSON-escaped and base64 (CommonServerPython masks `identifier:password` in that form). A PEM private key is looked
for line by line, so a key that was re-wrapped or cut still counts.
"""
from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field

# Shorter values would match by accident (a 4-character "password" is somewhere in every log).
MIN_SECRET_LENGTH = 8
PEM_LINE_MIN = 40
# Up to this many distinct form prefixes a scan runs str.find per form; above, one pass with a window.
FIND_LIMIT = 60


@dataclass(frozen=True)
class Finding:
    label: str
    where: str
    excerpt: str


@dataclass
class SecretBook:
    """Named secret values; `scan` reports every place one of them shows up.

    Scanning slides an 8-character window over the text and looks it up in an index of every form's first 8
    characters, so thousands of tokens cost no more than a few.
    """

    secrets: dict[str, str] = field(default_factory=dict)  # value -> label
    _by_prefix: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # prefix -> [(form, value, label)]

    def add(self, label: str, value: object) -> None:
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        if '-----BEGIN' in value:  # a PEM key: every full base64 line is a secret of its own
            for line in value.splitlines():
                line = line.strip()
                if len(line) >= PEM_LINE_MIN and not line.startswith('-----'):
                    self._index(line, f'{label} (PEM line)')
            return
        self._index(value, label)

    def _index(self, value: str, label: str) -> None:
        if value in self.secrets:
            return
        self.secrets[value] = label
        for form in forms(value):
            self._by_prefix.setdefault(form[:MIN_SECRET_LENGTH], []).append((form, value, label))

    def add_from_json(self, document: object, keys: Iterable[str], label_prefix: str = '') -> None:
        """Adds the value of every `keys` member found anywhere in a JSON document."""
        wanted = set(keys)
        stack = [document]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                for key, value in item.items():
                    if key in wanted:
                        self.add(f'{label_prefix}{key}', value)
                    stack.append(value)
            elif isinstance(item, list):
                stack.extend(item)

    def scan(self, where: str, text: object) -> list[Finding]:
        """Every secret (in any of its forms) inside `text`; `where` names what was scanned."""
        haystack = text if isinstance(text, str) else json.dumps(text, default=str)
        findings: list[Finding] = []
        seen: set[str] = set()
        index = self._by_prefix
        if len(index) <= FIND_LIMIT:  # few secrets: str.find per form beats a window over a long text
            for prefix_forms in index.values():
                for form, value, label in prefix_forms:
                    position = haystack.find(form)
                    if position != -1 and value not in seen:
                        seen.add(value)
                        findings.append(_finding(label, where, haystack, form, position))
            return findings
        for position in range(len(haystack) - MIN_SECRET_LENGTH + 1):
            candidates = index.get(haystack[position:position + MIN_SECRET_LENGTH])
            if not candidates:
                continue
            for form, value, label in candidates:
                if value not in seen and haystack.startswith(form, position):
                    seen.add(value)
                    findings.append(_finding(label, where, haystack, form, position))
        return findings


def _finding(label: str, where: str, haystack: str, form: str, position: int) -> Finding:
    start = max(0, position - 60)
    return Finding(label, where, haystack[start:position + len(form) + 20].replace(form, f'<<{label}>>'))


def forms(value: str) -> set[str]:
    """`value` as given, URL-encoded (both ways), JSON-escaped and base64-encoded."""
    found = {value, urllib.parse.quote(value, safe=''), urllib.parse.quote_plus(value), json.dumps(value)[1:-1],
             base64.b64encode(value.encode()).decode()}
    return {form for form in found if len(form) >= MIN_SECRET_LENGTH}
