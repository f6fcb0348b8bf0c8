"""Round trips, pinned as request counts (never timings): a warm command is one request and imports nothing heavy, a
cold one adds one token request, 50,000 users list in 51 pages, delta picks up changes in one request, and bulk
containment of 200 users is 20 $batch requests. `make bench` measures the same against the emulator.
"""
import importlib.abc
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import demistomock as demisto
import pytest

import MicrosoftApiModule
import MicrosoftGraphUser as integration
from tests.common import CLIENT_CREDENTIALS_PARAMS, run_entry_point
from tests.unit.batch_double import BatchDouble, graph_error, ok

GRAPH = 'https://graph.microsoft.com/v1.0'
AUTHORITY = 'https://login.microsoftonline.com/66666666-7777-8888-9999-000000000000'
TOKEN_URL = f'{AUTHORITY}/oauth2/v2.0/token'
DISCOVERY_URL = f'{AUTHORITY}/v2.0/.well-known/openid-configuration'
HEAVY_MODULES = ('msal', 'cryptography', 'pyzipper')
USER_KEY = 'MSGraphUser(val.ID && val.ID == obj.ID)'
BULK_KEY = 'MSGraphUser.BulkResult(val.User && val.User == obj.User)'
DELTA_STATE_KEY = 'displayname,userprincipalname'


class HeavyImportRecorder(importlib.abc.MetaPathFinder):
    """Refuses (and records) every import of msal, cryptography or pyzipper."""

    def __init__(self, refused: tuple[str, ...]) -> None:
        self.refused = refused
        self.attempts: list[str] = []

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.split('.', 1)[0] in self.refused:
            self.attempts.append(name)
            raise ImportError(f'{name} must not be imported here')
        return None


def forbid_imports(monkeypatch: pytest.MonkeyPatch, refused: tuple[str, ...] = HEAVY_MODULES) -> list[str]:
    """Forget the already imported `refused` packages (restored after the test) and record any new import of them."""
    for name in list(sys.modules):
        if name.split('.', 1)[0] in refused:
            monkeypatch.delitem(sys.modules, name)
    recorder = HeavyImportRecorder(refused)
    monkeypatch.setattr(sys, 'meta_path', [recorder, *sys.meta_path])
    return recorder.attempts


@pytest.fixture(autouse=True)
def fresh_runtime(monkeypatch):
    demisto.reset()
    monkeypatch.setattr(MicrosoftApiModule, 'ms_sleep', lambda seconds: None)
    yield
    demisto.reset()


def cache_key() -> str:
    return MicrosoftApiModule.AuthSettings.from_params(CLIENT_CREDENTIALS_PARAMS).cache_key()


def seed_context(context: dict | None = None, token_valid_for: float = 3000) -> None:
    """An instance that already holds a token (valid for `token_valid_for` more seconds) and `context`."""
    auth = {'ms_auth': {cache_key(): {'access_token': 'cached-token', 'valid_until': time.time() + token_valid_for}}}
    demisto.set_context_store(demisto.MemoryContextStore({**auth, **(context or {})}))


def run(command: str, args: dict) -> list[dict]:
    """One command through the entry point, as the server runs it; its entries."""
    return run_entry_point(command, args)


def only_entry(entries: list[dict]) -> dict:
    assert len(entries) == 1 and entries[0]['Type'] != 4, entries
    return entries[0]


# ---------------------------------------------------------------------------------------------------------------
# Warm and cold commands
# ---------------------------------------------------------------------------------------------------------------

WARM_COMMANDS = [
    ('msgraph-user-get', {'user': 'a@contoso.com'}, 'GET', f'{GRAPH}/users/a%40contoso.com', {'id': '1'}),
    ('msgraph-user-list', {}, 'GET', f'{GRAPH}/users', {'value': [{'id': '1'}]}),
    ('msgraph-user-account-disable', {'user': 'a@contoso.com'}, 'PATCH', f'{GRAPH}/users/a%40contoso.com', None),
    ('msgraph-user-session-revoke', {'user': 'a@contoso.com,b@contoso.com'}, 'POST', f'{GRAPH}/$batch', None),
    ('msgraph-user-get-delta', {}, 'GET', f'{GRAPH}/users/delta',
     {'value': [], '@odata.deltaLink': f'{GRAPH}/users/delta?$deltatoken=t'}),
]


@pytest.mark.parametrize('command, args, method, url, body', WARM_COMMANDS)
def test_a_warm_command_is_one_request_and_imports_nothing_heavy(monkeypatch, requests_mock, command, args, method,
                                                                 url, body):
    seed_context()
    attempts = forbid_imports(monkeypatch)
    if url.endswith('$batch'):
        BatchDouble(requests_mock)
    else:
        requests_mock.register_uri(method, url, json=body, status_code=200 if body else 204)

    only_entry(run(command, args))

    assert requests_mock.call_count == 1
    assert requests_mock.last_request.headers['Authorization'] == 'Bearer cached-token'
    assert attempts == []


def test_importing_the_integration_imports_nothing_heavy():
    # A fresh process, so what other tests imported does not hide a module-level import.
    root = Path(__file__).resolve().parents[2]
    probe = ('import sys; import MicrosoftGraphUser; '
             f'print(sorted({{name.split(".")[0] for name in sys.modules}} & {set(HEAVY_MODULES)!r}))')
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(str(root / part) for part in ('xsoar_runtime',
                                                                                     'MicrosoftApiModule', ''))}
    completed = subprocess.run([sys.executable, '-c', probe], cwd=root, env=env, capture_output=True, text=True,
                               check=True, timeout=60)
    assert completed.stdout.strip() == '[]'


def mock_entra(requests_mock: Any) -> None:
    requests_mock.get(DISCOVERY_URL, json={'token_endpoint': TOKEN_URL,
                                           'authorization_endpoint': f'{AUTHORITY}/oauth2/v2.0/authorize',
                                           'issuer': f'{AUTHORITY}/v2.0'})
    requests_mock.post(TOKEN_URL, json={'token_type': 'Bearer', 'expires_in': 3599, 'access_token': 'new-token'})


def expire_cached_token() -> None:
    store = demisto.get_context_store()
    context, version = store.read()
    for entry in context['ms_auth'].values():
        if isinstance(entry, dict) and 'valid_until' in entry:
            entry['valid_until'] = 0
    store.write(context, version)


def test_a_cold_command_is_one_token_request_and_the_call(monkeypatch, requests_mock):
    mock_entra(requests_mock)
    requests_mock.get(f'{GRAPH}/users/a%40contoso.com', json={'id': '1'})
    only_entry(run('msgraph-user-get', {'user': 'a@contoso.com'}))  # the very first run also reads the discovery
    assert [request.url for request in requests_mock.request_history] == [
        DISCOVERY_URL, TOKEN_URL, f'{GRAPH}/users/a%40contoso.com?$select=%2A']
    expire_cached_token()  # an hour later
    requests_mock.reset_mock()
    attempts = forbid_imports(monkeypatch, ('cryptography', 'pyzipper'))  # a client secret needs msal only

    only_entry(run('msgraph-user-get', {'user': 'a@contoso.com'}))

    assert [(request.method, request.url) for request in requests_mock.request_history] == [
        ('POST', TOKEN_URL), ('GET', f'{GRAPH}/users/a%40contoso.com?$select=%2A')]
    assert requests_mock.last_request.headers['Authorization'] == 'Bearer new-token'
    assert attempts == []


# ---------------------------------------------------------------------------------------------------------------
# Whole-tenant paging
# ---------------------------------------------------------------------------------------------------------------

def users_collection(total: int) -> Any:
    """A requests-mock callback serving `total` users in pages of `$top`, with Graph-like nextLinks."""
    def page(request: Any, context: Any) -> dict:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        top, start = int(query['$top'][0]), int(query.get('$skiptoken', ['0'])[0])
        body: dict[str, Any] = {'value': [{'id': f'u{n}'} for n in range(start, min(start + top, total))]}
        if start + top < total:
            body['@odata.nextLink'] = f'{GRAPH}/users?$select=id&$top={top}&$skiptoken={start + top}'
        return body
    return page


def test_all_50000_users_are_listed_in_51_requests_of_999(requests_mock):
    seed_context()
    requests_mock.get(f'{GRAPH}/users', json=users_collection(50_000))

    entry = only_entry(run('msgraph-user-list', {'all_results': 'true', 'properties': 'id'}))

    assert requests_mock.call_count == 51
    for request in requests_mock.request_history:
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)['$top'] == ['999']
        assert request.headers['ConsistencyLevel'] == 'eventual'
    assert len(entry['EntryContext'][USER_KEY]) == 50_000


def test_all_results_stops_at_the_hard_cap(requests_mock, monkeypatch):
    seed_context()
    monkeypatch.setattr(integration, 'ALL_RESULTS_CAP', 2_500)
    requests_mock.get(f'{GRAPH}/users', json=users_collection(50_000))

    entry = only_entry(run('msgraph-user-list', {'all_results': 'true', 'properties': 'id'}))

    assert requests_mock.call_count == 3 and len(entry['EntryContext'][USER_KEY]) == 2_500
    assert entry['EntryContext']['MSGraphUser(val.NextPage !== undefined)']['NextPage'].endswith('$skiptoken=2997')


def test_the_module_and_the_integration_share_one_cap_that_lists_50000_users():
    assert integration.ALL_RESULTS_CAP == MicrosoftApiModule.MAX_PAGED_ITEMS >= 50_000
    assert MicrosoftApiModule.MS_MAX_PAGES * 100 >= MicrosoftApiModule.MAX_PAGED_ITEMS


def test_sign_in_activity_pages_are_120(requests_mock):
    seed_context()
    requests_mock.get(f'{GRAPH}/users', json=users_collection(1_000))

    run('msgraph-user-list', {'properties': 'signInActivity', 'limit': '240'})

    assert requests_mock.call_count == 2
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(requests_mock.request_history[0].url).query)['$top'] == ['120']


# ---------------------------------------------------------------------------------------------------------------
# Incremental delta
# ---------------------------------------------------------------------------------------------------------------

def delta_service(total: int, changes: int) -> Any:
    """users/delta: a full round of `total` users in pages of the preferred size, then rounds of `changes` users."""
    def answer(request: Any, context: Any) -> dict:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        size = int(request.headers['Prefer'].split('=')[1])
        if '$deltatoken' in query:
            return {'value': [{'id': f'u{n}', 'displayName': f'Changed {n}'} for n in range(changes)],
                    '@odata.deltaLink': f'{GRAPH}/users/delta?$deltatoken=next'}
        start = int(query.get('$skiptoken', ['0'])[0])
        body: dict[str, Any] = {'value': [{'id': f'u{n}'} for n in range(start, min(start + size, total))]}
        if start + size < total:
            body['@odata.nextLink'] = f'{GRAPH}/users/delta?$skiptoken={start + size}'
        else:
            body['@odata.deltaLink'] = f'{GRAPH}/users/delta?$deltatoken=first'
        return body
    return answer


def test_delta_full_sync_asks_for_the_largest_pages_then_10_changes_take_one_request(requests_mock):
    seed_context()
    requests_mock.get(f'{GRAPH}/users/delta', json=delta_service(5_000, 10))

    full = only_entry(run('msgraph-user-get-delta', {'properties': 'displayName'}))

    assert requests_mock.call_count == 6  # 5,000 users in pages of 999
    assert {request.headers['Prefer'] for request in requests_mock.request_history} == {'odata.maxpagesize=999'}
    assert len(full['EntryContext'][USER_KEY]) == 5_000
    requests_mock.reset_mock()

    changes = only_entry(run('msgraph-user-get-delta', {'properties': 'displayName'}))

    assert requests_mock.call_count == 1  # the budget is 2
    assert requests_mock.last_request.url == f'{GRAPH}/users/delta?$deltatoken=first'
    assert len(changes['EntryContext'][USER_KEY]) == 10
    kept = demisto.get_context_store().read()[0]['graph_user_delta'][DELTA_STATE_KEY]
    assert kept['link'] == f'{GRAPH}/users/delta?$deltatoken=next' and time.time() - kept['saved_at'] < 60


@pytest.mark.parametrize('age_days, first_url', [
    (8, f'{GRAPH}/users/delta?$select=displayName%2CuserPrincipalName'),
    (6, f'{GRAPH}/users/delta?$deltatoken=kept'),
])
def test_delta_link_older_than_7_days_is_not_tried(requests_mock, age_days, first_url):
    kept = {'link': f'{GRAPH}/users/delta?$deltatoken=kept', 'saved_at': time.time() - age_days * 24 * 3600}
    seed_context({'graph_user_delta': {DELTA_STATE_KEY: kept}})
    requests_mock.get(f'{GRAPH}/users/delta', json=delta_service(10, 2))

    entry = only_entry(run('msgraph-user-get-delta', {'properties': 'displayName'}))

    assert requests_mock.request_history[0].url == first_url
    note = 'The saved delta link was older than 7 days, so every user was read again.'
    assert (note in entry['HumanReadable']) == (age_days > 7)


@pytest.mark.parametrize('expired', [graph_error(400, 'syncStateNotFound', 'Please resync.'),
                                     graph_error(410, 'resyncRequired', 'Gone.')])
def test_delta_resyncs_by_itself_when_graph_says_the_link_expired(requests_mock, expired):
    status, body, _ = expired
    seed_context({'graph_user_delta': {DELTA_STATE_KEY: {'link': f'{GRAPH}/users/delta?$deltatoken=old',
                                                         'saved_at': time.time()}}})
    requests_mock.get(f'{GRAPH}/users/delta', json=delta_service(10, 2))
    requests_mock.get(f'{GRAPH}/users/delta?$deltatoken=old', status_code=status, json=body)

    entry = only_entry(run('msgraph-user-get-delta', {'properties': 'displayName'}))

    assert requests_mock.call_count == 2 and len(entry['EntryContext'][USER_KEY]) == 10
    assert 'The saved delta link had expired, so every user was read again.' in entry['HumanReadable']


# ---------------------------------------------------------------------------------------------------------------
# Bulk containment
# ---------------------------------------------------------------------------------------------------------------

USERS_200 = [f'user{n}@contoso.com' for n in range(200)]


def test_disable_and_revoke_200_users_is_20_requests(requests_mock):
    seed_context()
    double = BatchDouble(requests_mock)

    entry = only_entry(run('msgraph-user-account-disable', {'user': ','.join(USERS_200), 'revoke_sessions': 'true'}))

    assert requests_mock.call_count == 20 and [len(body) for body in double.bodies] == [20] * 20
    for body in double.bodies:
        ids = {sub['id'] for sub in body}
        assert all(sub['dependsOn'][0] in ids for sub in body if sub['method'] == 'POST')
    assert len(entry['EntryContext'][BULK_KEY]) == 200 and all(row['Success'] for row in
                                                                entry['EntryContext'][BULK_KEY])


def test_inner_throttling_resubmits_only_the_failed_ids(requests_mock):
    seed_context()
    throttled = {f'user{n}%40contoso.com' for n in (3, 77, 150)}

    def answer(sub: dict, attempt: int) -> Any:
        if attempt == 0 and sub['url'].split('/')[2] in throttled and sub['method'] == 'PATCH':
            return graph_error(429, 'TooManyRequests', 'Later.', '2')
        return ok(sub, attempt)

    double = BatchDouble(requests_mock, answer)

    entry = only_entry(run('msgraph-user-account-disable', {'user': ','.join(USERS_200), 'revoke_sessions': 'true'}))

    assert requests_mock.call_count == 21
    assert [sub['id'] for sub in double.bodies[-1]] == ['3.0', '3.1', '77.0', '77.1', '150.0', '150.1']
    assert all(row['Success'] for row in entry['EntryContext'][BULK_KEY])


def test_one_user_is_still_one_request(requests_mock):
    seed_context()
    requests_mock.patch(f'{GRAPH}/users/a%40contoso.com', status_code=204)

    entry = only_entry(run('msgraph-user-account-disable', {'user': 'a@contoso.com'}))

    assert requests_mock.call_count == 1
    assert entry['HumanReadable'] == 'user: "a@contoso.com" account has been disabled successfully.'
