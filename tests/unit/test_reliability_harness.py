"""The oracles of `make reliability` (reliability/): a scan that misses a secret or a template check that accepts any
URL would report zeros that mean nothing, so their own behaviour is pinned here."""
from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

import MicrosoftApiModule
from reliability.killing_runner import new_delta_link, new_refresh_token
from reliability.scenarios.hostile_input import Checker, templatize
from reliability.secrets_book import SecretBook

CLOUD = MicrosoftApiModule.AZURE_CLOUDS['Worldwide']


def test_the_scan_finds_a_secret_in_every_form_it_leaves_in() -> None:
    book = SecretBook()
    token = 'eyJ0eXAi.token+with/specials=='
    book.add('token', token)
    book.add('key', '-----BEGIN PRIVATE KEY-----\n' + 'A' * 64 + '\n-----END PRIVATE KEY-----\n')
    for text in (f'Bearer {token}', urllib.parse.quote(token, safe=''), urllib.parse.quote_plus(token),
                 json.dumps({'t': token}), base64.b64encode(token.encode()).decode(), 'A' * 64):
        assert book.scan('probe', f'...{text}...'), text
    assert book.scan('probe', 'nothing here') == []


@dataclass
class FakeRequest:
    method: str
    url: str

    def json(self) -> Any:
        raise ValueError('no body')


class NoBulk:
    """An integration without `user_list_arg`: every value is one user."""


def test_the_template_check_wants_the_value_encoded_in_its_own_segment() -> None:
    checker = Checker(NoBulk())
    graph = f'{CLOUD.graph_host}/v1.0'
    checker.learn('get', [FakeRequest('GET', f'{graph}/users/mkuserx?$select=id')], [('user', 'mkuserx')], CLOUD)

    def problem(url: str, user: str) -> str | None:
        return checker.problem('get', FakeRequest('GET', url), {'user': user}, CLOUD)

    assert templatize(('', 'v1.0', 'users', 'mkuserx'), [('user', 'mkuserx')])[-1] == '{user|plain}'
    assert problem(f'{graph}/users/a%2F..%2Fb?$select=id', 'a/../b') is None
    assert problem(f'{graph}/users/a/../b?$select=id', 'a/../b') is not None  # not encoded
    assert problem(f'{graph}/groups/x?$select=id', 'x') is not None  # another resource
    assert problem(f'{graph}/users/x?$select=id&$expand=manager', 'x') is not None  # a query it never sends
    assert problem('https://evil.example/v1.0/users/x?$select=id', 'x') is not None  # another host


def test_the_kill_triggers_fire_only_on_a_new_token_or_delta_link() -> None:
    old = {'ms_auth': {'k': {'access_token': 'a', 'refresh_token': 'r1'}}, 'graph_user_delta': {'p': 'l1'}}
    assert new_refresh_token(old, {**old, 'ms_auth': {'k': {'access_token': 'b', 'refresh_token': 'r2'}}})
    assert not new_refresh_token(old, {**old, 'ms_auth': {'k': {'access_token': 'b', 'refresh_token': 'r1'}}})
    assert new_delta_link(old, {**old, 'graph_user_delta': {'p': 'l2'}})
    assert not new_delta_link(old, dict(old))
