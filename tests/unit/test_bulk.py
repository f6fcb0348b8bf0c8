"""Bulk containment: `user` names one user (exactly the old behaviour) or several (JSON batching, one row per user).

`MicrosoftClient.batch` is tested on its own first (chunks, dependsOn, retries of inner throttling), then the
commands that accept a list: get, account-disable (with revoke_sessions), unblock, session-revoke,
force-reset-password and delete.
"""
import json
import re
import urllib.parse
from typing import Any

import pytest
from CommonServerPython import EntryType
from requests_mock import ANY

import MicrosoftApiModule
import MicrosoftGraphUser as integration
from tests.unit.batch_double import GRAPH_BATCH_URL, BatchDouble, graph_error, ok
from tests.unit.yml_contract import assert_outputs_declared

GRAPH = 'https://graph.microsoft.com/v1.0'
BULK_KEY = 'MSGraphUser.BulkResult(val.User && val.User == obj.User)'
USER_KEY = 'MSGraphUser(val.ID && val.ID == obj.ID)'
ACCOUNT_KEY = 'Account(val.ID && val.ID == obj.ID)'
NOT_FOUND = graph_error(404, 'Request_ResourceNotFound', "Resource 'x' does not exist.")
FORBIDDEN = graph_error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.')
GUEST = 'jane.doe_fabrikam.example#EXT#@contoso.onmicrosoft.com'
DOLLAR = '$svc.backup@contoso.com'
APOSTROPHE = "conor.o'brien@contoso.com"


# `sleeps`, `fresh_runtime` and `client` are the shared fixtures of the root conftest.py.
pytestmark = pytest.mark.usefixtures('sleeps', 'fresh_runtime')


def run(command: str, client: Any, args: dict) -> Any:
    return integration.COMMANDS[command](client, args)


def entry_of(command: str, result: Any) -> dict:
    return assert_outputs_declared(command, result, open_objects=['MSGraphUser'])


def answer_by_user(answers: dict[str, Any]) -> Any:
    """An `answer` that looks the user segment of the url up in `answers` (else success)."""
    def answer(sub: dict, attempt: int) -> Any:
        segment = urllib.parse.unquote(sub['url'].split('?')[0].split('/')[2])
        found = answers.get(segment)
        return found(sub, attempt) if callable(found) else found or ok(sub, attempt)
    return answer


# ---------------------------------------------------------------------------------------------------------------
# MicrosoftClient.batch
# ---------------------------------------------------------------------------------------------------------------

def test_batch_sends_chunks_of_20_relative_urls_and_content_type_only_with_a_body(client, requests_mock):
    double = BatchDouble(requests_mock)
    requests = [{'id': str(n), 'method': 'patch' if n % 2 else 'GET', 'url': f'users/u{n}',
                 **({'body': {'accountEnabled': False}} if n % 2 else {})} for n in range(45)]

    answers = client.batch(requests)

    assert [len(body) for body in double.bodies] == [20, 20, 5]
    assert set(answers) == {str(n) for n in range(45)}
    first, second = double.bodies[0][:2]
    assert first == {'id': '0', 'method': 'GET', 'url': '/users/u0'}
    assert second == {'id': '1', 'method': 'PATCH', 'url': '/users/u1', 'body': {'accountEnabled': False},
                      'headers': {'Content-Type': 'application/json'}}
    assert answers['1']['status'] == 204 and answers['0']['body']['id'] == 'id-of-u0'
    assert requests_mock.request_history[0].headers['Content-Type'] == 'application/json'


def test_batch_never_splits_a_request_from_the_one_it_depends_on(client, requests_mock):
    double = BatchDouble(requests_mock)
    singles = [{'id': f's{n}', 'method': 'GET', 'url': f'/users/s{n}'} for n in range(19)]
    pair = [{'id': 'p0', 'method': 'PATCH', 'url': '/users/p', 'body': {}},
            {'id': 'p1', 'method': 'POST', 'url': '/users/p/revokeSignInSessions', 'dependsOn': ['p0']}]

    client.batch(singles + pair)

    assert [[sub['id'] for sub in body] for body in double.bodies] == [[f's{n}' for n in range(19)], ['p0', 'p1']]


@pytest.mark.parametrize('requests, message', [
    ([{'id': '1', 'method': 'GET', 'url': '/users/a'}, {'id': '1', 'method': 'GET', 'url': '/users/b'}], 'unique'),
    ([{'id': '1', 'method': 'GET', 'url': '/users/a', 'dependsOn': ['9']}], 'not sent'),
    ([{'id': '1', 'method': 'GET', 'url': 'https://attacker.example/v1.0/users/a'}], 'relative'),
    ([{'id': '1', 'method': 'GET'}], 'url'),
    ([{'id': str(n), 'method': 'GET', 'url': '/users/a', **({'dependsOn': [str(n - 1)]} if n else {})}
      for n in range(21)], 'at most 20'),
])
def test_batch_refuses_malformed_requests_before_sending_anything(client, requests_mock, requests, message):
    with pytest.raises(ValueError, match=message):
        client.batch(requests)
    assert requests_mock.call_count == 0


def test_batch_resends_only_the_throttled_ids_after_the_largest_retry_after(client, requests_mock, sleeps):
    throttling = {'a': graph_error(429, 'TooManyRequests', 'Slow down.', '3'),
                  'b': graph_error(503, 'ServiceUnavailable', 'Busy.', '5'),
                  'd': NOT_FOUND}

    def answer(sub: dict, attempt: int) -> Any:
        key = sub['url'].rsplit('/', 1)[-1]
        return throttling[key] if key in throttling and (attempt == 0 or key == 'd') else ok(sub, attempt)

    double = BatchDouble(requests_mock, answer)
    requests = [{'id': key, 'method': 'GET', 'url': f'/users/{key}'} for key in 'abcd']

    answers = client.batch(requests)

    assert [[sub['id'] for sub in body] for body in double.bodies] == [['a', 'b', 'c', 'd'], ['a', 'b']]
    assert sleeps == [5.0]
    assert {key: answers[key]['status'] for key in 'abcd'} == {'a': 200, 'b': 200, 'c': 200, 'd': 404}


def test_batch_resends_the_requests_that_failed_because_of_a_throttled_one(client, requests_mock, sleeps):
    def answer(sub: dict, attempt: int) -> Any:
        if attempt == 0 and sub['url'] == '/users/x':  # the disable of x is throttled, its revoke fails 424
            return graph_error(429, 'TooManyRequests', 'Slow down.', '2')
        if attempt == 0 and sub['url'] == '/users/y/revokeSignInSessions':  # y: disabled, the revoke throttled
            return graph_error(429, 'TooManyRequests', 'Slow down.', '1')
        return ok(sub, attempt)

    double = BatchDouble(requests_mock, answer)
    requests = [{'id': 'x0', 'method': 'PATCH', 'url': '/users/x', 'body': {'accountEnabled': False}},
                {'id': 'x1', 'method': 'POST', 'url': '/users/x/revokeSignInSessions', 'dependsOn': ['x0']},
                {'id': 'y0', 'method': 'PATCH', 'url': '/users/y', 'body': {'accountEnabled': False}},
                {'id': 'y1', 'method': 'POST', 'url': '/users/y/revokeSignInSessions', 'dependsOn': ['y0']}]

    answers = client.batch(requests)

    resent = double.bodies[1]
    assert [sub['id'] for sub in resent] == ['x0', 'x1', 'y1']
    assert resent[1]['dependsOn'] == ['x0'] and 'dependsOn' not in resent[2]
    assert sleeps == [2.0]
    assert all(200 <= answer['status'] < 300 for answer in answers.values())


def test_batch_stops_retrying_within_the_retry_budget_and_returns_the_last_answer(client, requests_mock, sleeps):
    double = BatchDouble(requests_mock, lambda sub, attempt: graph_error(429, 'TooManyRequests', 'No.', '100'))

    answers = client.batch([{'id': '1', 'method': 'GET', 'url': '/users/a'}])

    assert len(double.bodies) == 2 and sleeps == [100.0]  # a second wait of 100 s would pass the 120 s budget
    assert answers['1']['status'] == 429


def test_batch_retries_at_most_the_client_retry_count(client, requests_mock, sleeps):
    double = BatchDouble(requests_mock, lambda sub, attempt: graph_error(503, 'ServiceUnavailable', 'No.', '1'))

    answers = client.batch([{'id': '1', 'method': 'DELETE', 'url': '/users/a'}])

    assert len(double.bodies) == MicrosoftApiModule.MS_MAX_RETRIES + 1
    assert sleeps == [1.0] * MicrosoftApiModule.MS_MAX_RETRIES and answers['1']['status'] == 503


def test_batch_without_retry_after_backs_off(client, requests_mock, sleeps):
    BatchDouble(requests_mock, lambda sub, attempt: graph_error(503, 'ServiceUnavailable', 'No.') if not attempt
                else ok(sub, attempt))

    client.batch([{'id': '1', 'method': 'GET', 'url': '/users/a'}])

    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.5


def test_batch_a_refused_batch_is_the_answer_of_each_of_its_requests(client, requests_mock):
    requests_mock.post(GRAPH_BATCH_URL, status_code=403, json={'error': {
        'code': 'Authorization_RequestDenied', 'message': 'Insufficient privileges to complete the operation.'}})

    answers = client.batch([{'id': str(n), 'method': 'GET', 'url': f'/users/{n}'} for n in range(3)])

    assert requests_mock.call_count == 1
    assert {answer['status'] for answer in answers.values()} == {403}
    assert MicrosoftApiModule.ms_batch_error_fields(answers['0']) == (
        'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.')


def test_batch_a_missing_answer_is_reported_not_dropped(client, requests_mock):
    requests_mock.post(GRAPH_BATCH_URL, json={'responses': [{'id': '0', 'status': 204}]})

    answers = client.batch([{'id': '0', 'method': 'DELETE', 'url': '/users/a'},
                            {'id': '1', 'method': 'DELETE', 'url': '/users/b'}])

    assert answers['0']['status'] == 204 and answers['1']['status'] == 502


# ---------------------------------------------------------------------------------------------------------------
# One user: exactly the old request, text and not-found handling
# ---------------------------------------------------------------------------------------------------------------

SINGLE_USER_COMMANDS = [
    ('msgraph-user-account-disable', 'PATCH', '', {'accountEnabled': False},
     'user: "{user}" account has been disabled successfully.'),
    ('msgraph-user-terminate-session', 'PATCH', '', {'accountEnabled': False},
     'user: "{user}" account has been disabled successfully.'),
    ('msgraph-user-unblock', 'PATCH', '', {'accountEnabled': True},
     '"{user}" unblocked. It might take several minutes for the changes to take effect across all applications.'),
    ('msgraph-user-force-reset-password', 'PATCH', '', {'passwordProfile': {'forceChangePasswordNextSignIn': True}},
     'User {user} will be required to change his password.'),
    ('msgraph-user-session-revoke', 'POST', '/revokeSignInSessions', None,
     'User: "{user}" sessions have been revoked successfully.'),
    ('msgraph-user-delete', 'DELETE', '', None, 'user: "{user}" was deleted successfully.'),
]


@pytest.mark.parametrize('command, method, suffix, body, text', SINGLE_USER_COMMANDS)
@pytest.mark.parametrize('given', [GUEST, f' {GUEST} ', f'["{GUEST}"]', f'{GUEST},', f'{GUEST},{GUEST.upper()}'])
def test_one_user_sends_the_single_old_request_and_text(client, requests_mock, command, method, suffix, body, text,
                                                        given):
    path = f'/v1.0/users/{urllib.parse.quote(GUEST, safe="")}{suffix}'
    requests_mock.register_uri(method, f'https://graph.microsoft.com{path}', status_code=204 if body else 200,
                               json=None if body or method == 'DELETE' else {'value': True})

    result = run(command, client, {'user': given})

    assert requests_mock.call_count == 1
    sent = requests_mock.last_request
    assert (sent.method, urllib.parse.urlsplit(sent.url).path) == (method, path)
    assert (sent.json() if body else None) == body
    assert result.readable_output == text.format(user=GUEST)
    assert result.outputs is None


@pytest.mark.parametrize('command', [name for name, *_ in SINGLE_USER_COMMANDS])
def test_one_user_not_found_keeps_the_old_note(client, requests_mock, command):
    requests_mock.register_uri(ANY, re.compile(r'^https://graph\.microsoft\.com/v1\.0/users/'), status_code=404,
                               json={'error': {'code': 'Request_ResourceNotFound', 'message': 'gone'}})

    result = run(command, client, {'user': 'nobody@contoso.com'})

    assert result.readable_output == '#### User -> nobody@contoso.com does not exist'


def test_one_user_get_is_unchanged(client, requests_mock):
    requests_mock.get(f'{GRAPH}/users(%27%24svc.backup%40contoso.com%27)', json={'id': 'i1', 'displayName': 'Backup'})

    entry = entry_of('msgraph-user-get', run('msgraph-user-get', client, {'user': DOLLAR,
                                                                          'properties': 'displayName'}))

    assert requests_mock.call_count == 1
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(requests_mock.last_request.url).query) == {
        '$select': ['displayName,id']}
    assert entry['HumanReadable'].startswith(f'### {DOLLAR} data')
    assert entry['EntryContext'][USER_KEY] == {'ID': 'i1', 'DisplayName': 'Backup'}
    assert BULK_KEY not in entry['EntryContext']


def test_one_user_disable_with_revoke_sessions_revokes_after_the_disable(client, requests_mock):
    requests_mock.patch(f'{GRAPH}/users/a%40contoso.com', status_code=204)
    requests_mock.post(f'{GRAPH}/users/a%40contoso.com/revokeSignInSessions', json={'value': True})

    result = run('msgraph-user-account-disable', client, {'user': 'a@contoso.com', 'revoke_sessions': 'true'})

    assert [request.method for request in requests_mock.request_history] == ['PATCH', 'POST']
    assert result.readable_output == ('user: "a@contoso.com" account has been disabled successfully.\n'
                                      'User: "a@contoso.com" sessions have been revoked successfully.')


def test_one_user_disable_with_revoke_sessions_not_found_revokes_nothing(client, requests_mock):
    requests_mock.patch(f'{GRAPH}/users/a%40contoso.com', status_code=404,
                        json={'error': {'code': 'Request_ResourceNotFound', 'message': 'gone'}})

    result = run('msgraph-user-account-disable', client, {'user': 'a@contoso.com', 'revoke_sessions': 'true'})

    assert requests_mock.call_count == 1
    assert result.readable_output == '#### User -> a@contoso.com does not exist'


# ---------------------------------------------------------------------------------------------------------------
# Several users: one $batch per 20 sub-requests, one row per user
# ---------------------------------------------------------------------------------------------------------------

def test_disable_with_revoke_sends_both_requests_of_a_user_in_one_batch(client, requests_mock):
    double = BatchDouble(requests_mock)

    entry = entry_of('msgraph-user-account-disable', run('msgraph-user-account-disable', client, {
        'user': json.dumps([GUEST, DOLLAR, APOSTROPHE]), 'revoke_sessions': 'true'}))

    assert requests_mock.call_count == 1
    assert double.bodies[0] == [
        {'id': '0.0', 'method': 'PATCH', 'url': '/users/jane.doe_fabrikam.example%23EXT%23%40contoso.onmicrosoft.com',
         'body': {'accountEnabled': False}, 'headers': {'Content-Type': 'application/json'}},
        {'id': '0.1', 'method': 'POST',
         'url': '/users/jane.doe_fabrikam.example%23EXT%23%40contoso.onmicrosoft.com/revokeSignInSessions',
         'dependsOn': ['0.0']},
        {'id': '1.0', 'method': 'PATCH', 'url': '/users(%27%24svc.backup%40contoso.com%27)',
         'body': {'accountEnabled': False}, 'headers': {'Content-Type': 'application/json'}},
        {'id': '1.1', 'method': 'POST', 'url': '/users(%27%24svc.backup%40contoso.com%27)/revokeSignInSessions',
         'dependsOn': ['1.0']},
        {'id': '2.0', 'method': 'PATCH', 'url': '/users/conor.o%27brien%40contoso.com',
         'body': {'accountEnabled': False}, 'headers': {'Content-Type': 'application/json'}},
        {'id': '2.1', 'method': 'POST', 'url': '/users/conor.o%27brien%40contoso.com/revokeSignInSessions',
         'dependsOn': ['2.0']},
    ]
    assert entry['Type'] == EntryType.NOTE
    assert entry['EntryContext'][BULK_KEY] == [
        {'User': user, 'Success': True, 'Status': 200, 'Error': None} for user in (GUEST, DOLLAR, APOSTROPHE)]
    assert entry['HumanReadable'].startswith(
        '### Disable user accounts and revoke their sessions: 3 of 3 users succeeded\n|User|Status|Result|\n')
    assert f'| {GUEST} | 200 | account disabled, sessions revoked |' in entry['HumanReadable']


@pytest.mark.parametrize('command, method, suffix, body, done', [
    ('msgraph-user-account-disable', 'PATCH', '', {'accountEnabled': False}, 'account disabled'),
    ('msgraph-user-terminate-session', 'PATCH', '', {'accountEnabled': False}, 'account disabled'),
    ('msgraph-user-unblock', 'PATCH', '', {'accountEnabled': True}, 'unblocked'),
    ('msgraph-user-force-reset-password', 'PATCH', '', {'passwordProfile': {'forceChangePasswordNextSignIn': True}},
     'must change the password at the next sign-in'),
    ('msgraph-user-session-revoke', 'POST', '/revokeSignInSessions', None, 'sessions revoked'),
    ('msgraph-user-delete', 'DELETE', '', None, 'deleted'),
])
def test_each_bulk_command_reports_every_user_and_goes_on_after_a_failure(client, requests_mock, command, method,
                                                                          suffix, body, done):
    failing = {'missing@contoso.com': NOT_FOUND, 'vip@contoso.com': FORBIDDEN}
    double = BatchDouble(requests_mock, answer_by_user(failing))

    entry = entry_of(command, run(command, client, {'user': 'a@contoso.com, missing@contoso.com,vip@contoso.com'}))

    assert [(sub['method'], sub['url'], sub.get('body')) for sub in double.sub_requests] == [
        (method, f'/users/{user}%40contoso.com{suffix}', body) for user in ('a', 'missing', 'vip')]
    assert entry['Type'] == EntryType.NOTE  # one user succeeded
    assert entry['EntryContext'][BULK_KEY] == [
        {'User': 'a@contoso.com', 'Success': True, 'Status': 204 if body or method == 'DELETE' else 200,
         'Error': None},
        {'User': 'missing@contoso.com', 'Success': False, 'Status': 404,
         'Error': "Request_ResourceNotFound: Resource 'x' does not exist."},
        {'User': 'vip@contoso.com', 'Success': False, 'Status': 403,
         'Error': 'Authorization_RequestDenied: Insufficient privileges to complete the operation.'}]
    assert ': 1 of 3 users succeeded\n' in entry['HumanReadable']
    assert f'| a@contoso.com | {entry["EntryContext"][BULK_KEY][0]["Status"]} | {done} |' in entry['HumanReadable']
    assert ('| vip@contoso.com | 403 | Authorization_RequestDenied: Insufficient privileges to complete the '
            'operation. |') in entry['HumanReadable']


def test_bulk_is_an_error_entry_only_when_no_user_succeeded(client, requests_mock):
    BatchDouble(requests_mock, lambda sub, attempt: FORBIDDEN)

    entry = run('msgraph-user-delete', client, {'user': 'a@contoso.com,b@contoso.com'}).to_context()

    assert entry['Type'] == EntryType.ERROR
    assert [row['Status'] for row in entry['EntryContext'][BULK_KEY]] == [403, 403]


@pytest.mark.parametrize('handle_error, entry_type', [(True, EntryType.NOTE), (False, EntryType.ERROR)])
def test_bulk_users_that_do_not_exist_follow_suppress_errors(client, requests_mock, handle_error, entry_type):
    client.handle_error = handle_error
    BatchDouble(requests_mock, lambda sub, attempt: NOT_FOUND)

    entry = run('msgraph-user-unblock', client, {'user': 'a@contoso.com,b@contoso.com'}).to_context()

    assert entry['Type'] == entry_type
    assert 'Unblock users: 0 of 2 users succeeded' in entry['HumanReadable']


def test_bulk_get_returns_the_users_found_and_a_row_for_each(client, requests_mock):
    double = BatchDouble(requests_mock, answer_by_user({'missing@contoso.com': NOT_FOUND}))

    entry = entry_of('msgraph-user-get', run('msgraph-user-get', client, {
        'user': 'a@contoso.com,missing@contoso.com,b@contoso.com', 'properties': 'displayName'}))

    assert [sub['url'] for sub in double.sub_requests] == [
        f'/users/{user}%40contoso.com?$select=displayName%2Cid' for user in ('a', 'missing', 'b')]
    context = entry['EntryContext']
    assert context[USER_KEY] == [{'ID': 'id-of-a%40contoso.com', 'DisplayName': 'Name a%40contoso.com'},
                                 {'ID': 'id-of-b%40contoso.com', 'DisplayName': 'Name b%40contoso.com'}]
    assert [account['ID'] for account in context[ACCOUNT_KEY]] == ['id-of-a%40contoso.com', 'id-of-b%40contoso.com']
    assert [row['Success'] for row in context[BULK_KEY]] == [True, False, True]
    assert '### Get users: 2 of 3 users succeeded' in entry['HumanReadable']
    assert '### Users data\n' in entry['HumanReadable']


def test_bulk_repeated_users_are_sent_once(client, requests_mock):
    double = BatchDouble(requests_mock)

    run('msgraph-user-session-revoke', client, {'user': 'a@contoso.com,A@CONTOSO.COM, ,b@contoso.com'})

    assert [sub['url'] for sub in double.sub_requests] == ['/users/a%40contoso.com/revokeSignInSessions',
                                                           '/users/b%40contoso.com/revokeSignInSessions']


@pytest.mark.parametrize('args, name', [
    ({'user': 'a@contoso.com,..'}, 'user'),
    ({'user': '["a@contoso.com", "b\\nc"]'}, 'user'),
    ({'user': 'a@contoso.com,b@contoso.com', 'revoke_sessions': 'maybe'}, 'revoke_sessions'),
])
def test_bulk_bad_input_is_refused_before_any_request(client, requests_mock, args, name):
    with pytest.raises(ValueError, match=name):
        run('msgraph-user-account-disable', client, args)
    assert requests_mock.call_count == 0


def test_bulk_inner_throttling_is_retried_for_the_throttled_users_only(client, requests_mock, sleeps):
    double = BatchDouble(requests_mock, answer_by_user({
        'b@contoso.com': lambda sub, attempt: graph_error(429, 'TooManyRequests', 'Later.', '4') if not attempt
        else ok(sub, attempt)}))

    entry = run('msgraph-user-account-disable', client, {'user': 'a@contoso.com,b@contoso.com,c@contoso.com',
                                                         'revoke_sessions': 'true'}).to_context()

    assert [[sub['id'] for sub in body] for body in double.bodies] == [
        ['0.0', '0.1', '1.0', '1.1', '2.0', '2.1'], ['1.0', '1.1']]
    assert sleeps == [4.0]
    assert all(row['Success'] for row in entry['EntryContext'][BULK_KEY])
