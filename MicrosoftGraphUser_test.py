"""Unit tests of the user, relationship and password commands (commands.md §2.2-§2.4).

Each test asserts what a user sees: the exact Graph requests (method, URL with its encoded segments, query,
headers, JSON body) and the war-room entry (HumanReadable, EntryContext). Graph is requests-mock with responses
from test_data/; `ms_sleep` is patched, so throttling costs no time and every wait is recorded.
"""
import json
import urllib.parse
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import demistomock as demisto
import pytest
from CommonServerPython import CommandResults, EntryType

import MicrosoftGraphUser as integration
from MicrosoftApiModule import GraphError
from tests.unit.yml_contract import assert_outputs_declared

GRAPH = 'https://graph.microsoft.com/v1.0'
TEST_DATA = Path(__file__).parent / 'test_data'
ADELE_ID = '87d349ed-44d7-43e1-9a83-5f2406dee5bd'
ADELE = 'AdeleV@contoso.com'
USER_KEY = 'MSGraphUser(val.ID && val.ID == obj.ID)'
ACCOUNT_KEY = 'Account(val.ID && val.ID == obj.ID)'
CURSOR_KEY = 'MSGraphUser(val.NextPage !== undefined)'
USER_COMMANDS_WITH_USER_OBJECTS = ('msgraph-user-get', 'msgraph-user-list', 'msgraph-user-create',
                                   'msgraph-user-update', 'msgraph-user-get-delta')


def load(name: str) -> Any:
    return json.loads((TEST_DATA / name).read_text())


def graph_error(status: int, name: str, retry_after: str | None = None) -> dict:
    """A requests-mock response of a Graph error with one of the stored error bodies."""
    response: dict[str, Any] = {'status_code': status, 'json': load(name)}
    if retry_after:
        response['headers'] = {'Retry-After': retry_after}
    return response


NOT_FOUND = graph_error(404, 'error_user_not_found.json')
THROTTLED = graph_error(429, 'error_throttled.json', retry_after='2')


def path_of(request: Any) -> str:
    """The request path exactly as sent (percent-encoding kept)."""
    return urllib.parse.urlsplit(request.url).path


def query_of(request: Any) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query, keep_blank_values=True))


def entry_of(command: str, result: CommandResults) -> dict:
    """The war-room entry of `result`, after checking every context path it writes is declared in the yml."""
    open_objects = ['MSGraphUser'] if command in USER_COMMANDS_WITH_USER_OBJECTS else [
        'MSGraphUserDirectReports.Reports', 'MSGraphUserGroups.Groups', 'MSGraphUserManager.Manager']
    return assert_outputs_declared(command, result, open_objects)


# `sleeps`, `fresh_runtime` and `client` are the shared fixtures of the root conftest.py.
pytestmark = pytest.mark.usefixtures('sleeps', 'fresh_runtime')


@pytest.fixture
def strict_client(graph_client):
    """The instance with "Suppress Errors for Non Found Users" unchecked."""
    graph_client.handle_error = False
    return graph_client


def run(command: str, client: Any, args: dict) -> CommandResults:
    return integration.COMMANDS[command](client, args)


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('true', True), ('false', False), ('null', None), ('["a", "b"]', ['a', 'b']), ('{"k": 1}', {'k': 1}),
    ('12345', '12345'), ('0042', '0042'), ('-1.5', '-1.5'), ('[not json', '[not json'), ('True', 'True'),
])
def test_parse_json_literal_types_only_literals_arrays_and_objects(text, expected):
    # D3: only true/false/null and JSON arrays/objects become JSON values; numbers stay strings (employeeId etc.).
    assert integration.parse_json_literal(text) == expected


def test_parse_key_value_pairs_splits_each_pair_on_its_first_equals_sign():
    # D3: the previous release failed with an unpacking error on a value containing '='.
    assert integration.parse_key_value_pairs('a=b=c, d=true ,e=', ',', 'updated_fields') == {
        'a': 'b=c', 'd': True, 'e': ''}


@pytest.mark.parametrize('user, expected', [
    ('userName@contoso.com', set()), (None, set()), ('', set()),
    ('%&*+/=?`{|}', set('%&*+/=?`{|}')),
])
def test_unsupported_user_chars(user, expected):
    assert integration.unsupported_user_chars(user) == expected


@pytest.mark.parametrize('limit, page_max, expected', [
    (None, 999, 999), (1, 999, 1), (50, 999, 50), (999, 999, 999), (1000, 999, 500), (1500, 999, 750),
    (200, 120, 100), (None, 120, 120),
])
def test_page_size_reads_the_limit_in_the_fewest_even_pages(limit, page_max, expected):
    assert integration.page_size(limit, page_max) == expected


@pytest.mark.parametrize('properties, always, expected', [
    (None, ('id',), ['id']), ('', ('userPrincipalName',), ['userPrincipalName']),
    (' displayName,,jobTitle ,', ('id',), ['displayName', 'jobTitle', 'id']),
    ('ID,displayName', ('id',), ['ID', 'displayName']), ('*', ('id',), ['*']),
])
def test_select_list_drops_empty_items_and_duplicates(properties, always, expected):
    assert integration.select_list(properties, *always) == expected


@pytest.mark.parametrize('link', [
    'https://evil.example/v1.0/users?$skiptoken=x', 'https://graph.microsoft.com.evil.example/v1.0/users',
    'https://graph.microsoft.com@evil.example/v1.0/users', 'http://graph.microsoft.com/v1.0/users',
    'https://graph.microsoft.com/beta/users', 'https://graph.microsoft.com/v1.0/users\n?x',
    '/v1.0/users?$skiptoken=x',
])
def test_graph_link_arg_refuses_links_off_the_graph_root(link):
    with pytest.raises(ValueError, match='"next_page"'):
        integration.graph_link_arg({'next_page': link}, 'next_page', (f'{GRAPH}/',))


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-get
# ---------------------------------------------------------------------------------------------------------------

def test_get_user_reads_every_property_by_default(client, requests_mock):
    requests_mock.get(f'{GRAPH}/users/{urllib.parse.quote(ADELE)}', json=load('user_get.json'))

    entry = entry_of('msgraph-user-get', run('msgraph-user-get', client, {'user': ADELE}))

    request = requests_mock.request_history[0]
    assert (request.method, path_of(request), query_of(request)) == ('GET', '/v1.0/users/AdeleV%40contoso.com',
                                                                     {'$select': '*'})
    assert request.headers['Authorization'] == 'Bearer test-access-token-value'
    assert entry['HumanReadable'].startswith(f'### {ADELE} data\n')
    assert '| Adele Vance |' in entry['HumanReadable'] and 'Odata' not in entry['HumanReadable']
    assert set(entry['EntryContext']) == {USER_KEY, ACCOUNT_KEY}
    user = entry['EntryContext'][USER_KEY]
    assert user['ID'] == ADELE_ID and user['BusinessPhones'] == ['+1 425 555 0109'] and user['AccountEnabled'] is True
    assert '@Odata.Context' not in user
    assert entry['EntryContext'][ACCOUNT_KEY] == {
        'Type': 'Azure AD', 'ID': ADELE_ID, 'DisplayName': 'Adele Vance', 'Username': ADELE,
        'JobTitle': 'Retail Manager', 'Email': {'Address': ADELE}, 'TelephoneNumber': '+1 425 555 0110',
        'Office': '18/2111'}


def test_get_user_selects_the_given_properties_plus_id(client, requests_mock):
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}', json=load('user_get_selected.json'))

    entry = entry_of('msgraph-user-get', run('msgraph-user-get', client,
                                             {'user': ADELE_ID, 'properties': 'displayName, jobTitle,,'}))

    assert query_of(requests_mock.last_request) == {'$select': 'displayName,jobTitle,id'}
    assert entry['EntryContext'][USER_KEY] == {'DisplayName': 'Adele Vance', 'JobTitle': 'Retail Manager',
                                               'ID': ADELE_ID}


def test_get_user_not_found_keeps_its_note_when_errors_are_suppressed(client, requests_mock):
    requests_mock.get(f'{GRAPH}/users/NotExistingUser', **NOT_FOUND)

    entry = run('msgraph-user-get', client, {'user': 'NotExistingUser'}).to_context()

    assert entry['HumanReadable'] == (
        '### User NotExistingUser was not found.\nMicrosoft Graph Response: 404 Request_ResourceNotFound: Resource '
        "'NotExistingUser' does not exist or one of its queried reference-property objects are not present. "
        '(request-id a1b2c3d4-0000-4000-8000-1234567890ab, date 2024-05-02T10:20:30)')
    assert entry['EntryContext'] == {}
    assert requests_mock.call_count == 1


def test_get_user_not_found_is_an_error_when_errors_are_not_suppressed(strict_client, requests_mock):
    # D10: the previous release ignored handle_error here and never reported an error.
    requests_mock.get(f'{GRAPH}/users/NotExistingUser', **NOT_FOUND)

    with pytest.raises(GraphError) as error:
        run('msgraph-user-get', strict_client, {'user': 'NotExistingUser'})

    assert error.value.status == 404 and error.value.code == 'Request_ResourceNotFound'


def test_get_user_bad_request_names_the_unsupported_characters(client, requests_mock):
    requests_mock.get(requests_mock_any(), **graph_error(400, 'error_bad_request.json'))

    entry = run('msgraph-user-get', client, {'user': 'a=b{c'}).to_context()

    assert entry['HumanReadable'].startswith(
        "Request failed because the user contains unsupported characters: {'=', '{'}\n400 Request_BadRequest:")
    assert path_of(requests_mock.last_request) == '/v1.0/users/a%3Db%7Bc'


def test_get_user_other_errors_propagate(client, requests_mock):
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}', **graph_error(403, 'error_forbidden.json'))

    with pytest.raises(GraphError, match='403 Authorization_RequestDenied'):
        run('msgraph-user-get', client, {'user': ADELE_ID})


def test_get_user_retries_after_throttling(client, requests_mock, sleeps):
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}', [THROTTLED, {'json': load('user_get.json')}])

    entry = run('msgraph-user-get', client, {'user': ADELE_ID}).to_context()

    assert requests_mock.call_count == 2 and sleeps == [2.0]
    assert entry['EntryContext'][USER_KEY]['ID'] == ADELE_ID


def requests_mock_any() -> Any:
    import requests_mock as rm
    return rm.ANY


# ---------------------------------------------------------------------------------------------------------------
# Bad and hostile input for every command that addresses a user
# ---------------------------------------------------------------------------------------------------------------

USER_ADDRESSING = [
    ('msgraph-user-get', {}),
    ('msgraph-user-update', {'updated_fields': 'jobTitle=x'}),
    ('msgraph-user-delete', {}),
    ('msgraph-user-account-disable', {}),
    ('msgraph-user-terminate-session', {}),
    ('msgraph-user-unblock', {}),
    ('msgraph-user-force-reset-password', {}),
    ('msgraph-user-session-revoke', {}),
    ('msgraph-user-change-password', {'password': 'N3w-Passw0rd!'}),
    ('msgraph-user-change-password-on-premise', {'password': 'N3w-Passw0rd!'}),
    ('msgraph-direct-reports', {}),
    ('msgraph-user-get-manager', {}),
    ('msgraph-user-assign-manager', {'manager': ADELE_ID}),
    ('msgraph-user-get-groups', {}),
]


@pytest.mark.parametrize('command, args', USER_ADDRESSING)
@pytest.mark.parametrize('user, problem', [(None, 'is required'), ('', 'is required'), ('  ', 'is required'),
                                           ('adele\n@contoso.com', 'control characters'),
                                           ('adele\x00', 'control characters'),
                                           ('..', 'dots only'), ('.', 'dots only')])
def test_bad_user_is_refused_before_any_request(client, requests_mock, command, args, user, problem):
    with pytest.raises(ValueError, match=f'"user" argument.*{problem}|"user" argument must not be empty'):
        run(command, client, {**args, 'user': user})
    assert requests_mock.call_count == 0


HOSTILE_USERS = [
    ('a/b@contoso.com', 'a%2Fb%40contoso.com'),
    ('../groups', '..%2Fgroups'),
    ('x?$select=passwordProfile', 'x%3F%24select%3DpasswordProfile'),
    ('guest_outlook.com#EXT#@contoso.onmicrosoft.com', 'guest_outlook.com%23EXT%23%40contoso.onmicrosoft.com'),
    ('%2F..%2Fdirectory', '%252F..%252Fdirectory'),
    ("o'brien@contoso.com", 'o%27brien%40contoso.com'),
    ('"quoted"@contoso.com', '%22quoted%22%40contoso.com'),
    ('jürgen@contoso.com', 'j%C3%BCrgen%40contoso.com'),
    ('$admin@contoso.com', None),  # the key form users('...') of graph.md §1
]


@pytest.mark.parametrize('user, encoded', HOSTILE_USERS)
@pytest.mark.parametrize('command, args', [pair for pair in USER_ADDRESSING
                                           if pair[0] != 'msgraph-user-change-password-on-premise'])
def test_hostile_user_never_changes_the_endpoint(client, requests_mock, command, args, user, encoded):
    requests_mock.register_uri(requests_mock_any(), requests_mock_any(), json={'id': ADELE_ID, 'value': []})
    expected = (f'/v1.0/users/{encoded}' if encoded
                else "/v1.0/users(%27%24admin%40contoso.com%27)")

    run(command, client, {**args, 'user': user})

    first = requests_mock.request_history[0]
    assert urllib.parse.urlsplit(first.url).netloc == 'graph.microsoft.com'
    assert path_of(first) == expected or path_of(first).startswith(f'{expected}/'), path_of(first)


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-list
# ---------------------------------------------------------------------------------------------------------------

def test_list_users_returns_one_graph_page_by_default(client, requests_mock):
    page1 = load('users_list_page1.json')
    requests_mock.get(f'{GRAPH}/users', json=page1)

    entry = entry_of('msgraph-user-list', run('msgraph-user-list', client, {}))

    assert requests_mock.call_count == 1
    request = requests_mock.last_request
    assert query_of(request) == {'$select': 'id,displayName,jobTitle,mobilePhone,mail', '$count': 'true'}
    assert request.headers['ConsistencyLevel'] == 'eventual'
    context = entry['EntryContext']
    assert set(context) == {USER_KEY, ACCOUNT_KEY, CURSOR_KEY}
    assert [user['ID'] for user in context[USER_KEY]] == [ADELE_ID, '5bde3e51-d13b-4db1-9948-fe4b109d11a7']
    assert [account['ID'] for account in context[ACCOUNT_KEY]] == [user['ID'] for user in context[USER_KEY]]
    assert context[CURSOR_KEY] == {'NextPage': page1['@odata.nextLink']}
    assert entry['HumanReadable'].startswith(
        '### All Graph Users\nTo get further results, enter this to the next_page parameter:\n'
        f'{page1["@odata.nextLink"]}\n')


def test_list_users_keeps_the_cursor_out_of_the_user_list(client, requests_mock):
    # D8: the previous release inserted {NextPage} as the first element of the MSGraphUser list, and left a stale
    # cursor behind when the last page was read. Now the cursor is its own element, replaced on every run.
    requests_mock.get(f'{GRAPH}/users', json=load('users_list_page2.json'))

    context = run('msgraph-user-list', client, {}).to_context()['EntryContext']

    assert all('NextPage' not in user for user in context[USER_KEY])
    assert context[CURSOR_KEY] == {'NextPage': None}


def test_list_users_next_page_is_followed_verbatim_with_the_advanced_query_header(client, requests_mock):
    # D9: the previous release dropped ConsistencyLevel on the follow-up request.
    next_link = load('users_list_page1.json')['@odata.nextLink']
    requests_mock.get(next_link, json=load('users_list_page2.json'))

    entry = run('msgraph-user-list', client, {'next_page': next_link}).to_context()

    assert requests_mock.last_request.url == next_link
    assert requests_mock.last_request.headers['ConsistencyLevel'] == 'eventual'
    assert entry['EntryContext'][USER_KEY][0]['DisplayName'] == 'Diego Siciliani'


def test_list_users_limit_pages_up_to_the_limit(client, requests_mock):
    # D9: the previous release had no limit.
    page1 = load('users_list_page1.json')
    requests_mock.get(f'{GRAPH}/users', json=page1)
    requests_mock.get(page1['@odata.nextLink'], json=load('users_list_page2.json'))

    entry = run('msgraph-user-list', client, {'limit': '3', 'filter': "startsWith(displayName,'A D')"}).to_context()

    first, second = requests_mock.request_history
    assert query_of(first) == {'$select': 'id,displayName,jobTitle,mobilePhone,mail', '$count': 'true',
                               '$filter': "startsWith(displayName,'A D')", '$top': '3'}
    assert '%20' in first.url and '+' not in first.url
    assert second.url == page1['@odata.nextLink']
    assert first.headers['ConsistencyLevel'] == second.headers['ConsistencyLevel'] == 'eventual'
    assert len(entry['EntryContext'][USER_KEY]) == 3
    assert entry['EntryContext'][CURSOR_KEY] == {'NextPage': None}


@pytest.mark.parametrize('args, top', [
    ({'all_results': 'true'}, '999'),
    ({'limit': '20'}, '20'),
    ({'limit': '1500'}, '750'),
    ({'all_results': 'true', 'properties': 'id,signInActivity'}, '120'),
    ({'limit': '500', 'filter': 'signInActivity/lastSignInDateTime le 2024-01-01T00:00:00Z'}, '100'),
])
def test_list_users_page_size(client, requests_mock, args, top):
    requests_mock.get(f'{GRAPH}/users', json={'value': []})

    run('msgraph-user-list', client, args)

    assert query_of(requests_mock.last_request)['$top'] == top


def test_list_users_with_properties_always_selects_id(client, requests_mock):
    requests_mock.get(f'{GRAPH}/users', json={'value': []})

    run('msgraph-user-list', client, {'properties': 'displayName,mail'})

    assert query_of(requests_mock.last_request)['$select'] == 'displayName,mail,id'


def test_list_users_retries_a_throttled_page(client, requests_mock, sleeps):
    page1 = load('users_list_page1.json')
    requests_mock.get(f'{GRAPH}/users', json=page1)
    requests_mock.get(page1['@odata.nextLink'], [THROTTLED, {'json': load('users_list_page2.json')}])

    entry = run('msgraph-user-list', client, {'all_results': 'true'}).to_context()

    assert len(entry['EntryContext'][USER_KEY]) == 3 and sleeps == [2.0] and requests_mock.call_count == 3


@pytest.mark.parametrize('args, name', [
    ({'limit': '0'}, 'limit'), ({'limit': '-5'}, 'limit'), ({'limit': 'many'}, 'limit'),
    ({'all_results': 'maybe'}, 'all_results'),
    ({'next_page': 'https://attacker.example/v1.0/users?$skiptoken=x'}, 'next_page'),
    ({'next_page': 'https://graph.microsoft.com.attacker.example/v1.0/users'}, 'next_page'),
])
def test_list_users_bad_paging_arguments_are_refused_before_any_request(client, requests_mock, args, name):
    with pytest.raises(ValueError, match=f'"{name}"|{name}'):
        run('msgraph-user-list', client, args)
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-create
# ---------------------------------------------------------------------------------------------------------------

CREATE_ARGS = {'display_name': 'Megan Bowen', 'mail_nickname': 'MeganB', 'password': 'Sup3r-Secr3t!',
               'user_principal_name': 'MeganB@contoso.com'}


def test_create_user_posts_json_booleans_and_shows_the_201_body(client, requests_mock):
    # D4: booleans were sent as strings, the password was not secret and the user was re-read (replication 404).
    requests_mock.post(f'{GRAPH}/users', status_code=201, json=load('user_create_201.json'))

    entry = entry_of('msgraph-user-create', run('msgraph-user-create', client, dict(CREATE_ARGS)))

    assert requests_mock.call_count == 1
    request = requests_mock.last_request
    assert request.method == 'POST' and path_of(request) == '/v1.0/users'
    assert request.headers['Content-Type'] == 'application/json'
    assert request.json() == {
        'accountEnabled': True, 'displayName': 'Megan Bowen', 'mailNickname': 'MeganB',
        'userPrincipalName': 'MeganB@contoso.com',
        'passwordProfile': {'forceChangePasswordNextSignIn': True, 'password': 'Sup3r-Secr3t!'}}
    assert entry['HumanReadable'].startswith('### MeganB@contoso.com was created successfully:\n')
    assert entry['EntryContext'][USER_KEY]['ID'] == 'c8fd2a27-4c4e-4a83-9c8b-4b7a6c3f9b10'
    assert entry['EntryContext'][ACCOUNT_KEY]['Username'] == 'MeganB@contoso.com'
    assert 'Sup3r-Secr3t!' not in json.dumps(entry)


def test_create_user_other_properties_are_typed_and_split_with_the_delimiter(client, requests_mock):
    requests_mock.post(f'{GRAPH}/users', status_code=201, json=load('user_create_201.json'))

    run('msgraph-user-create', client, {
        **CREATE_ARGS, 'account_enabled': 'False', 'force_change_password_next_sign_in': 'no',
        'on_premises_immutable_id': 'AbCdEf==', 'other_properties_delimiter': ';',
        'other_properties': 'jobTitle=Sales, EMEA;employeeId=0042;showInAddressList=false;department=R=D',
        'other_properties_json': '{"businessPhones": ["+1 555 0100"], "ageGroup": null}'})

    body = requests_mock.last_request.json()
    assert body['accountEnabled'] is False
    assert body['passwordProfile'] == {'forceChangePasswordNextSignIn': False, 'password': 'Sup3r-Secr3t!'}
    assert body['onPremisesImmutableId'] == 'AbCdEf=='
    assert {key: body[key] for key in ('jobTitle', 'employeeId', 'showInAddressList', 'department',
                                       'businessPhones', 'ageGroup')} == {
        'jobTitle': 'Sales, EMEA', 'employeeId': '0042', 'showInAddressList': False, 'department': 'R=D',
        'businessPhones': ['+1 555 0100'], 'ageGroup': None}


@pytest.mark.parametrize('args, message', [
    ({'other_properties': 'passwordProfile={"password": "x"}'}, '"passwordProfile" .* "password" argument'),
    ({'other_properties': 'DisplayName=Other'}, '"DisplayName" .* "display_name" argument'),
    ({'other_properties_json': '{"accountEnabled": false}'}, '"accountEnabled" .* "account_enabled" argument'),
    ({'other_properties': 'jobTitle=a', 'other_properties_json': '{"jobTitle": "b"}'}, 'jobTitle .* both'),
    ({'other_properties': 'no-equals-sign'}, '"other_properties"'),
    ({'other_properties_json': '[1, 2]'}, '"other_properties_json"'),
    ({'other_properties_json': '{broken'}, '"other_properties_json"'),
    ({'account_enabled': 'maybe'}, '"account_enabled"'),
    ({'force_change_password_next_sign_in': 'sometimes'}, '"force_change_password_next_sign_in"'),
    ({'password': ''}, '"password" argument is required'),
    ({'display_name': ' '}, '"display_name" argument is required'),
    ({'user_principal_name': None}, '"user_principal_name" argument is required'),
])
def test_create_user_bad_input_is_refused_before_any_request(client, requests_mock, args, message):
    with pytest.raises(ValueError, match=message) as error:
        run('msgraph-user-create', client, {**CREATE_ARGS, **args})
    assert requests_mock.call_count == 0
    assert 'Sup3r-Secr3t!' not in str(error.value)


def test_create_user_retries_a_throttled_post_once_and_creates_one_user(client, requests_mock, sleeps):
    requests_mock.post(f'{GRAPH}/users', [THROTTLED, {'status_code': 201, 'json': load('user_create_201.json')}])

    run('msgraph-user-create', client, dict(CREATE_ARGS))

    assert requests_mock.call_count == 2 and sleeps == [2.0]


def test_create_user_errors_propagate_whatever_handle_error(client, requests_mock):
    # create addresses no existing user, so a Graph error is always an error entry.
    requests_mock.post(f'{GRAPH}/users', **graph_error(400, 'error_bad_request.json'))
    with pytest.raises(GraphError, match='400 Request_BadRequest'):
        run('msgraph-user-create', client, dict(CREATE_ARGS))


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-update
# ---------------------------------------------------------------------------------------------------------------

def test_update_user_patches_typed_values_then_shows_the_user(client, requests_mock):
    url = f'{GRAPH}/users/{ADELE_ID}'
    requests_mock.patch(url, status_code=204)
    requests_mock.get(url, json=load('user_get.json'))

    entry = entry_of('msgraph-user-update', run('msgraph-user-update', client, {
        'user': ADELE_ID, 'updated_fields': 'accountEnabled=false,jobTitle=Lead=Ops,employeeId=0042'}))

    patch, get = requests_mock.request_history
    assert patch.method == 'PATCH' and path_of(patch) == f'/v1.0/users/{ADELE_ID}'
    # D3: typed booleans, a value containing '=', numbers-as-text kept.
    assert patch.json() == {'accountEnabled': False, 'jobTitle': 'Lead=Ops', 'employeeId': '0042'}
    assert get.method == 'GET' and query_of(get) == {'$select': '*'}
    assert entry['HumanReadable'].startswith(f'### {ADELE_ID} data\n')
    assert entry['EntryContext'][USER_KEY]['ID'] == ADELE_ID


def test_update_user_json_fields_and_custom_delimiter(client, requests_mock):
    url = f'{GRAPH}/users/{ADELE_ID}'
    requests_mock.patch(url, status_code=204)
    requests_mock.get(url, json=load('user_get.json'))

    run('msgraph-user-update', client, {
        'user': ADELE_ID, 'updated_fields': 'city=Paris, France;usageLocation=FR', 'updated_fields_delimiter': ';',
        'updated_fields_json': '{"businessPhones": ["+33 1 23 45 67 89"], "officeLocation": "12"}'})

    assert requests_mock.request_history[0].json() == {
        'city': 'Paris, France', 'usageLocation': 'FR', 'businessPhones': ['+33 1 23 45 67 89'],
        'officeLocation': '12'}


def test_update_user_rename_reads_the_user_back_by_its_new_name(client, requests_mock):
    requests_mock.patch(f'{GRAPH}/users/{urllib.parse.quote(ADELE)}', status_code=204)
    requests_mock.get(f'{GRAPH}/users/AdeleVance%40contoso.com', json=load('user_get.json'))

    run('msgraph-user-update', client, {'user': ADELE, 'updated_fields': 'userPrincipalName=AdeleVance@contoso.com'})

    assert path_of(requests_mock.last_request) == '/v1.0/users/AdeleVance%40contoso.com'


def test_update_user_waits_out_replication_instead_of_reporting_not_found(client, requests_mock, sleeps):
    # D10: the previous release reported "does not exist" after a successful PATCH.
    url = f'{GRAPH}/users/{ADELE_ID}'
    requests_mock.patch(url, status_code=204)
    requests_mock.get(url, [NOT_FOUND, NOT_FOUND, {'json': load('user_get.json')}])

    entry = run('msgraph-user-update', client, {'user': ADELE_ID, 'updated_fields': 'jobTitle=Lead'}).to_context()

    assert sleeps == [1.0, 2.0]
    assert entry['EntryContext'][USER_KEY]['ID'] == ADELE_ID


def test_update_user_not_yet_readable_says_so(client, requests_mock, sleeps):
    url = f'{GRAPH}/users/{ADELE_ID}'
    requests_mock.patch(url, status_code=204)
    requests_mock.get(url, **NOT_FOUND)

    entry = run('msgraph-user-update', client, {'user': ADELE_ID, 'updated_fields': 'jobTitle=Lead'}).to_context()

    assert entry['HumanReadable'].startswith(f'User {ADELE_ID} was updated, but Graph does not return it yet')
    assert 'does not exist' not in entry['HumanReadable'] and entry['EntryContext'] == {}
    assert sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize('args, message', [
    ({}, '"updated_fields" argument'),
    ({'updated_fields': ' , '}, '"updated_fields" argument'),
    ({'updated_fields': 'jobTitle'}, 'Invalid pair "jobTitle" in "updated_fields"'),
    ({'updated_fields': 'jobTitle=a', 'updated_fields_json': '{"jobTitle": "b"}'}, 'jobTitle .* both'),
    ({'updated_fields_json': 'not json'}, '"updated_fields_json" argument must be a JSON object'),
    ({'updated_fields': 'userPrincipalName=a\nb@contoso.com'}, '"updated_fields" argument must not contain'),
])
def test_update_user_bad_fields_are_refused_before_any_request(client, requests_mock, args, message):
    with pytest.raises(ValueError, match=message):
        run('msgraph-user-update', client, {'user': ADELE_ID, **args})
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# Commands that change one user and answer with a sentence
# ---------------------------------------------------------------------------------------------------------------

SIMPLE_COMMANDS = [
    ('msgraph-user-account-disable', {}, 'PATCH', '', {'accountEnabled': False},
     'user: "{user}" account has been disabled successfully.'),
    ('msgraph-user-terminate-session', {}, 'PATCH', '', {'accountEnabled': False},
     'user: "{user}" account has been disabled successfully.'),
    ('msgraph-user-unblock', {}, 'PATCH', '', {'accountEnabled': True},
     '"{user}" unblocked. It might take several minutes for the changes to take effect across all applications.'),
    ('msgraph-user-force-reset-password', {}, 'PATCH', '', {'passwordProfile': {'forceChangePasswordNextSignIn': True}},
     'User {user} will be required to change his password.'),
    ('msgraph-user-delete', {}, 'DELETE', '', None, 'user: "{user}" was deleted successfully.'),
    ('msgraph-user-session-revoke', {}, 'POST', '/revokeSignInSessions', None,
     'User: "{user}" sessions have been revoked successfully.'),
    ('msgraph-user-change-password', {'password': 'N3w-Passw0rd!'}, 'PATCH', '',
     {'passwordProfile': {'forceChangePasswordNextSignIn': True, 'forceChangePasswordNextSignInWithMfa': False,
                          'password': 'N3w-Passw0rd!'}},
     'User {user} password was changed successfully.'),
    ('msgraph-user-assign-manager', {'manager': 'DiegoS@contoso.com'}, 'PUT', '/manager/$ref',
     {'@odata.id': f'{GRAPH}/users/DiegoS%40contoso.com'},
     'A manager was assigned to user "{user}". It might take several minutes for the changes to take affect across '
     'all applications.'),
]


@pytest.mark.parametrize('command, args, method, suffix, body, text', SIMPLE_COMMANDS)
def test_simple_command_sends_one_request_and_answers_with_its_sentence(client, requests_mock, command, args,
                                                                        method, suffix, body, text):
    status = 200 if method == 'POST' else 204
    response = {'json': {'@odata.context': f'{GRAPH}/$metadata#Edm.Boolean', 'value': True}} if status == 200 else {}
    requests_mock.register_uri(method, f'{GRAPH}/users/{urllib.parse.quote(ADELE)}{suffix}', status_code=status,
                               **response)

    entry = entry_of(command, run(command, client, {'user': ADELE, **args}))

    assert requests_mock.call_count == 1
    request = requests_mock.last_request
    assert request.method == method
    assert path_of(request) == f'/v1.0/users/AdeleV%40contoso.com{suffix}' and query_of(request) == {}
    assert (request.json() if request.body else None) == body
    assert entry['HumanReadable'] == text.format(user=ADELE)
    assert entry['EntryContext'] == {}
    assert 'N3w-Passw0rd!' not in json.dumps(entry)


@pytest.mark.parametrize('command, args, method, suffix, body, text', SIMPLE_COMMANDS)
def test_simple_command_user_not_found(client, strict_client, requests_mock, command, args, method, suffix, body,
                                       text):
    # D10: force-reset-password was not covered; the decision is made on the Graph error code, not on substrings.
    requests_mock.register_uri(method, f'{GRAPH}/users/NotExistingUser{suffix}', **NOT_FOUND)
    requests_mock.get(f'{GRAPH}/users/NotExistingUser', **NOT_FOUND)  # the existence check of assign-manager

    strict_client.handle_error = True
    entry = run(command, strict_client, {'user': 'NotExistingUser', **args}).to_context()
    assert entry['HumanReadable'] == '#### User -> NotExistingUser does not exist'
    assert entry['EntryContext'] == {}

    strict_client.handle_error = False
    with pytest.raises(GraphError, match='404 Request_ResourceNotFound'):
        run(command, strict_client, {'user': 'NotExistingUser', **args})


@pytest.mark.parametrize('command, args, method, suffix, body, text', SIMPLE_COMMANDS)
def test_simple_command_retries_after_throttling(client, requests_mock, sleeps, command, args, method, suffix,
                                                 body, text):
    requests_mock.register_uri(method, f'{GRAPH}/users/{ADELE_ID}{suffix}', [THROTTLED, {'status_code': 204}])

    entry = run(command, client, {'user': ADELE_ID, **args}).to_context()

    assert requests_mock.call_count == 2 and sleeps == [2.0]
    assert entry['HumanReadable'] == text.format(user=ADELE_ID)


def test_not_found_is_decided_by_the_error_code_not_by_the_message_text(client, requests_mock):
    # D10: a short user value that happens to occur in an unrelated 404 message used to be reported as missing.
    requests_mock.patch(f'{GRAPH}/users/a', **graph_error(403, 'error_forbidden.json'))
    with pytest.raises(GraphError, match='403'):
        run('msgraph-user-account-disable', client, {'user': 'a'})


@pytest.mark.parametrize('flags, expected', [
    ({}, (True, False)),
    ({'force_change_password_next_sign_in': 'True', 'force_change_password_with_mfa': 'yes'}, (True, True)),
    ({'force_change_password_next_sign_in': 'FALSE', 'force_change_password_with_mfa': 'True'}, (False, True)),
    ({'force_change_password_next_sign_in': 'no', 'force_change_password_with_mfa': 'false'}, (False, False)),
])
def test_change_password_flags_accept_every_boolean_spelling(client, requests_mock, flags, expected):
    # D18: the previous release treated 'True' and 'yes' as false.
    requests_mock.patch(f'{GRAPH}/users/{ADELE_ID}', status_code=204)

    run('msgraph-user-change-password', client, {'user': ADELE_ID, 'password': 'N3w-Passw0rd!', **flags})

    profile = requests_mock.last_request.json()['passwordProfile']
    assert (profile['forceChangePasswordNextSignIn'], profile['forceChangePasswordNextSignInWithMfa']) == expected


@pytest.mark.parametrize('args, message', [
    ({'password': ''}, '"password" argument is required'),
    ({'password': None}, '"password" argument is required'),
    ({'password': 'x', 'force_change_password_with_mfa': 'maybe'}, '"force_change_password_with_mfa"'),
])
def test_change_password_bad_input_is_refused_before_any_request(client, requests_mock, args, message):
    with pytest.raises(ValueError, match=message):
        run('msgraph-user-change-password', client, {'user': ADELE_ID, **args})
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-assign-manager and msgraph-user-get-manager
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('manager, reference', [
    ('a/b@contoso.com', f'{GRAPH}/users/a%2Fb%40contoso.com'),
    ('../../groups/x', f'{GRAPH}/users/..%2F..%2Fgroups%2Fx'),
    ('$boss@contoso.com', f"{GRAPH}/users(%27%24boss%40contoso.com%27)"),
])
def test_assign_manager_encodes_the_manager_reference(client, requests_mock, manager, reference):
    # D7: the previous release put the manager into @odata.id unencoded.
    requests_mock.put(f'{GRAPH}/users/{ADELE_ID}/manager/$ref', status_code=204)

    run('msgraph-user-assign-manager', client, {'user': ADELE_ID, 'manager': manager})

    assert requests_mock.last_request.json() == {'@odata.id': reference}


def test_assign_manager_missing_manager_is_named(client, requests_mock):
    requests_mock.put(f'{GRAPH}/users/{ADELE_ID}/manager/$ref', **NOT_FOUND)
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}', json={'id': ADELE_ID})

    entry = run('msgraph-user-assign-manager', client, {'user': ADELE_ID, 'manager': 'nobody'}).to_context()

    assert entry['HumanReadable'] == '#### Manager -> nobody does not exist'
    assert query_of(requests_mock.last_request) == {'$select': 'id'}


@pytest.mark.parametrize('manager', ['', None, 'boss\r\n@contoso.com'])
def test_assign_manager_bad_manager_is_refused_before_any_request(client, requests_mock, manager):
    with pytest.raises(ValueError, match='"manager" argument'):
        run('msgraph-user-assign-manager', client, {'user': ADELE_ID, 'manager': manager})
    assert requests_mock.call_count == 0


def test_get_manager_writes_user_and_id_and_merges_on_user(client, requests_mock):
    # D8: the previous release keyed on ID, which the object did not have, and wrote only User.
    requests_mock.get(f'{GRAPH}/users/{urllib.parse.quote(ADELE)}/manager', json=load('manager.json'))

    entry = entry_of('msgraph-user-get-manager', run('msgraph-user-get-manager', client, {'user': ADELE}))

    assert path_of(requests_mock.last_request) == '/v1.0/users/AdeleV%40contoso.com/manager'
    context = entry['EntryContext']['MSGraphUserManager(val.User && val.User == obj.User)']
    assert context['User'] == context['ID'] == ADELE
    assert context['Manager']['ID'] == '4782e723-f4f4-4af3-a76e-25e3bab0d896'
    assert '@Odata.Type' not in context['Manager'] and '@Odata.Context' not in context['Manager']
    assert entry['HumanReadable'].startswith(f'### {ADELE} - manager\n')


def test_get_manager_of_a_user_without_manager_is_a_note(strict_client, requests_mock):
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}/manager', **NOT_FOUND)
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}', json={'id': ADELE_ID})

    entry = run('msgraph-user-get-manager', strict_client, {'user': ADELE_ID}).to_context()

    assert entry['HumanReadable'] == f'#### User {ADELE_ID} has no manager.'
    assert entry['EntryContext'] == {} and entry['Type'] == EntryType.NOTE


def test_get_manager_of_a_missing_user(client, requests_mock):
    requests_mock.get(f'{GRAPH}/users/NotExistingUser/manager', **NOT_FOUND)
    requests_mock.get(f'{GRAPH}/users/NotExistingUser', **NOT_FOUND)

    entry = run('msgraph-user-get-manager', client, {'user': 'NotExistingUser'}).to_context()
    assert entry['HumanReadable'] == '#### User -> NotExistingUser does not exist'

    client.handle_error = False
    with pytest.raises(GraphError, match='404'):
        run('msgraph-user-get-manager', client, {'user': 'NotExistingUser'})


def test_get_manager_retries_after_throttling(client, requests_mock, sleeps):
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}/manager', [THROTTLED, {'json': load('manager.json')}])
    run('msgraph-user-get-manager', client, {'user': ADELE_ID})
    assert sleeps == [2.0] and requests_mock.call_count == 2


# ---------------------------------------------------------------------------------------------------------------
# msgraph-direct-reports and msgraph-user-get-groups
# ---------------------------------------------------------------------------------------------------------------

def test_direct_reports_follow_pages_up_to_the_default_limit(client, requests_mock):
    # D9: the previous release returned the first page only. D8: it keyed on ID, which the object did not have.
    page1 = load('direct_reports_page1.json')
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}/directReports', json=page1)
    requests_mock.get(page1['@odata.nextLink'], json=load('direct_reports_page2.json'))

    entry = entry_of('msgraph-direct-reports', run('msgraph-direct-reports', client, {'user': ADELE_ID}))

    first, second = requests_mock.request_history
    assert path_of(first) == f'/v1.0/users/{ADELE_ID}/directReports' and query_of(first) == {'$top': '50'}
    assert second.url == page1['@odata.nextLink']
    context = entry['EntryContext']['MSGraphUserDirectReports(val.Manager && val.Manager == obj.Manager)']
    assert context['Manager'] == ADELE_ID and context['NextPage'] is None
    assert [report['DisplayName'] for report in context['Reports']] == ['Alex Wilber', 'Diego Siciliani',
                                                                        'Isaiah Langer']
    assert context['Reports'][0]['@Odata.Type'] == '#microsoft.graph.user'
    assert entry['HumanReadable'].startswith(f'### {ADELE_ID} - direct reports\n')


def test_direct_reports_limit_returns_the_cursor(client, requests_mock):
    page1 = load('direct_reports_page1.json')
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}/directReports', json=page1)

    entry = run('msgraph-direct-reports', client, {'user': ADELE_ID, 'limit': '2'}).to_context()

    assert requests_mock.call_count == 1 and query_of(requests_mock.last_request) == {'$top': '2'}
    context = entry['EntryContext']['MSGraphUserDirectReports(val.Manager && val.Manager == obj.Manager)']
    assert context['NextPage'] == page1['@odata.nextLink'] and len(context['Reports']) == 2
    assert f'To get further results, enter this to the next_page argument:\n{page1["@odata.nextLink"]}' in \
        entry['HumanReadable']


def test_direct_reports_next_page_is_followed_verbatim(client, requests_mock):
    next_link = load('direct_reports_page1.json')['@odata.nextLink']
    requests_mock.get(next_link, json=load('direct_reports_page2.json'))

    run('msgraph-direct-reports', client, {'user': ADELE_ID, 'next_page': next_link})

    assert requests_mock.call_count == 1 and requests_mock.last_request.url == next_link


def test_get_groups_keeps_roles_and_administrative_units(client, requests_mock):
    # D19: memberOf returns groups, directory roles and administrative units, told apart by @Odata.Type.
    requests_mock.get(f'{GRAPH}/users/{urllib.parse.quote(ADELE)}/memberOf', json=load('member_of.json'))

    entry = entry_of('msgraph-user-get-groups', run('msgraph-user-get-groups', client,
                                                    {'user': ADELE, 'all_results': 'true'}))

    assert query_of(requests_mock.last_request) == {'$top': '999'}
    context = entry['EntryContext']['MSGraphUserGroups(val.ID && val.ID == obj.ID)']
    assert context['ID'] == ADELE
    assert [group['@Odata.Type'] for group in context['Groups']] == [
        '#microsoft.graph.group', '#microsoft.graph.directoryRole', '#microsoft.graph.administrativeUnit']
    assert context['Groups'][0]['MailEnabled'] is True and context['Groups'][0]['SecurityEnabled'] is False
    assert entry['HumanReadable'].startswith(f'### {ADELE} group data\n')


@pytest.mark.parametrize('command, relation', [('msgraph-direct-reports', 'directReports'),
                                               ('msgraph-user-get-groups', 'memberOf')])
def test_relationship_user_not_found(client, requests_mock, command, relation):
    requests_mock.get(f'{GRAPH}/users/NotExistingUser/{relation}', **NOT_FOUND)

    entry = run(command, client, {'user': 'NotExistingUser'}).to_context()
    assert entry['HumanReadable'] == '#### User -> NotExistingUser does not exist'

    client.handle_error = False
    with pytest.raises(GraphError, match='404'):
        run(command, client, {'user': 'NotExistingUser'})


@pytest.mark.parametrize('command, relation', [('msgraph-direct-reports', 'directReports'),
                                               ('msgraph-user-get-groups', 'memberOf')])
def test_relationship_retries_after_throttling(client, requests_mock, sleeps, command, relation):
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}/{relation}', [THROTTLED, {'json': {'value': []}}])
    run(command, client, {'user': ADELE_ID})
    assert sleeps == [2.0] and requests_mock.call_count == 2


@pytest.mark.parametrize('command', ['msgraph-direct-reports', 'msgraph-user-get-groups'])
@pytest.mark.parametrize('args, name', [({'limit': '0'}, 'limit'), ({'all_results': 'perhaps'}, 'all_results'),
                                        ({'next_page': 'https://example.com/v1.0/x'}, 'next_page')])
def test_relationship_bad_paging_is_refused_before_any_request(client, requests_mock, command, args, name):
    with pytest.raises(ValueError, match=name):
        run(command, client, {'user': ADELE_ID, **args})
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-get-delta
# ---------------------------------------------------------------------------------------------------------------

DELTA_STATE_KEY = 'displayname,userprincipalname'


def kept(link: str) -> dict:
    """How get-delta keeps a link: with the time it was received (an older link than 7 days is not used)."""
    return {'link': link, 'saved_at': ANY}


def stored_context() -> dict:
    return demisto.get_context_store().read()[0]


def test_get_delta_first_run_reads_to_the_delta_link_and_keeps_it(client, requests_mock):
    # The previous release returned page 1 only and dropped both links.
    page1, page2 = load('users_delta_page1.json'), load('users_delta_page2.json')
    demisto.set_context_store(demisto.MemoryContextStore({'ms_auth': {'kept': True}}))
    requests_mock.get(f'{GRAPH}/users/delta', json=page1)
    requests_mock.get(page1['@odata.nextLink'], json=page2)

    entry = entry_of('msgraph-user-get-delta', run('msgraph-user-get-delta', client, {'properties': 'displayName'}))

    first, second = requests_mock.request_history
    assert query_of(first) == {'$select': 'displayName,userPrincipalName'}
    assert second.url == page1['@odata.nextLink']
    assert [user['ID'] for user in entry['EntryContext'][USER_KEY]] == [
        ADELE_ID, '5bde3e51-d13b-4db1-9948-fe4b109d11a7', '4782e723-f4f4-4af3-a76e-25e3bab0d896']
    assert entry['EntryContext']['MSGraphUserDelta(true)'] == {'DeltaLink': page2['@odata.deltaLink'],
                                                               'Complete': True}
    assert entry['HumanReadable'].startswith('### All Graph Users\n|Display Name|User Principal Name|ID|\n')
    assert stored_context() == {'ms_auth': {'kept': True},
                                'graph_user_delta': {DELTA_STATE_KEY: kept(page2['@odata.deltaLink'])}}


def test_get_delta_later_run_returns_only_changes_and_marks_deletions(client, requests_mock):
    saved = load('users_delta_page2.json')['@odata.deltaLink']
    changes = load('users_delta_changes.json')
    demisto.set_context_store(demisto.MemoryContextStore({'graph_user_delta': {DELTA_STATE_KEY: saved}}))
    requests_mock.get(saved, json=changes)

    entry = entry_of('msgraph-user-get-delta', run('msgraph-user-get-delta', client,
                                                   {'properties': 'userPrincipalName,displayName'}))

    assert requests_mock.call_count == 1 and requests_mock.last_request.url == saved
    users = entry['EntryContext'][USER_KEY]
    assert users[0] == {'DisplayName': 'Adele Vance-Smith', 'ID': ADELE_ID}
    assert users[1] == {'@Odata.Type': '#microsoft.graph.user', 'ID': '5bde3e51-d13b-4db1-9948-fe4b109d11a7',
                        'Status': 'deleted', 'RemovedReason': 'changed'}
    assert users[2]['RemovedReason'] == 'deleted'
    assert '|Status|RemovedReason|' in entry['HumanReadable']
    assert stored_context()['graph_user_delta'] == {DELTA_STATE_KEY: kept(changes['@odata.deltaLink'])}


def test_get_delta_without_properties_sends_no_empty_select_item(client, requests_mock):
    # D8: the previous release sent $select=,userPrincipalName.
    requests_mock.get(f'{GRAPH}/users/delta', json=load('users_delta_page2.json'))

    run('msgraph-user-get-delta', client, {})

    assert query_of(requests_mock.last_request) == {'$select': 'userPrincipalName'}
    assert list(stored_context()['graph_user_delta']) == ['userprincipalname']


@pytest.mark.parametrize('expired', [graph_error(400, 'error_sync_state_not_found.json'),
                                     {'status_code': 410, 'json': {'error': {'code': 'resyncRequired',
                                                                             'message': 'Gone'}}}])
def test_get_delta_expired_link_starts_a_full_read(client, requests_mock, expired):
    saved = load('users_delta_page2.json')['@odata.deltaLink']
    fresh = load('users_delta_page2.json')
    fresh['@odata.deltaLink'] = f'{GRAPH}/users/delta?$deltatoken=fresh-token'
    demisto.set_context_store(demisto.MemoryContextStore({'graph_user_delta': {DELTA_STATE_KEY: saved}}))
    requests_mock.get(f'{GRAPH}/users/delta', json=fresh)
    requests_mock.get(saved, **expired)  # registered last, so it is matched first

    entry = run('msgraph-user-get-delta', client, {'properties': 'displayName'}).to_context()

    first, second = requests_mock.request_history
    assert first.url == saved
    assert path_of(second) == '/v1.0/users/delta'
    assert query_of(second) == {'$select': 'displayName,userPrincipalName'}
    assert 'The saved delta link had expired, so every user was read again.' in entry['HumanReadable']
    assert stored_context()['graph_user_delta'] == {DELTA_STATE_KEY: kept(fresh['@odata.deltaLink'])}


def test_get_delta_other_errors_keep_the_link(client, requests_mock):
    saved = load('users_delta_page2.json')['@odata.deltaLink']
    demisto.set_context_store(demisto.MemoryContextStore({'graph_user_delta': {DELTA_STATE_KEY: saved}}))
    requests_mock.get(saved, **graph_error(403, 'error_forbidden.json'))

    with pytest.raises(GraphError, match='403'):
        run('msgraph-user-get-delta', client, {'properties': 'displayName'})
    assert requests_mock.call_count == 1
    assert stored_context()['graph_user_delta'] == {DELTA_STATE_KEY: saved}


def test_get_delta_given_link_is_used_and_returned_but_not_kept(client, requests_mock):
    given = f'{GRAPH}/users/delta?$deltatoken=playbook-kept-token'
    changes = load('users_delta_changes.json')
    requests_mock.get(given, json=changes)

    entry = run('msgraph-user-get-delta', client, {'delta_link': given}).to_context()

    assert requests_mock.last_request.url == given
    assert entry['EntryContext']['MSGraphUserDelta(true)'] == {'DeltaLink': changes['@odata.deltaLink'],
                                                               'Complete': True}
    assert 'graph_user_delta' not in stored_context()


def test_get_delta_limit_stops_at_a_page_end_and_the_next_run_resumes(client, requests_mock):
    page1, page2 = load('users_delta_page1.json'), load('users_delta_page2.json')
    requests_mock.get(f'{GRAPH}/users/delta', json=page1)
    requests_mock.get(page1['@odata.nextLink'], json=page2)

    first = run('msgraph-user-get-delta', client, {'properties': 'displayName', 'limit': '1'}).to_context()

    assert requests_mock.call_count == 1
    assert len(first['EntryContext'][USER_KEY]) == 2  # the whole page: a cut page would lose changes
    assert first['EntryContext']['MSGraphUserDelta(true)'] == {'DeltaLink': page1['@odata.nextLink'],
                                                               'Complete': False}
    assert 'More changes are waiting: run the command again to continue from here.' in first['HumanReadable']

    second = run('msgraph-user-get-delta', client, {'properties': 'displayName', 'limit': '1'}).to_context()

    assert requests_mock.last_request.url == page1['@odata.nextLink']
    assert second['EntryContext']['MSGraphUserDelta(true)']['Complete'] is True
    assert stored_context()['graph_user_delta'] == {DELTA_STATE_KEY: kept(page2['@odata.deltaLink'])}


def test_get_delta_full_sync_ignores_the_kept_link(client, requests_mock):
    demisto.set_context_store(demisto.MemoryContextStore({'graph_user_delta': {'userprincipalname': 'x'}}))
    requests_mock.get(f'{GRAPH}/users/delta', json=load('users_delta_page2.json'))

    run('msgraph-user-get-delta', client, {'full_sync': 'true'})

    assert path_of(requests_mock.last_request) == '/v1.0/users/delta'


def test_get_delta_retries_a_throttled_page(client, requests_mock, sleeps):
    page1 = load('users_delta_page1.json')
    requests_mock.get(f'{GRAPH}/users/delta', json=page1)
    requests_mock.get(page1['@odata.nextLink'], [THROTTLED, {'json': load('users_delta_page2.json')}])

    entry = run('msgraph-user-get-delta', client, {'properties': 'displayName'}).to_context()

    assert sleeps == [2.0] and len(entry['EntryContext'][USER_KEY]) == 3


@pytest.mark.parametrize('args, name', [
    ({'delta_link': 'https://attacker.example/v1.0/users/delta?$deltatoken=x'}, 'delta_link'),
    ({'delta_link': 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=a b'}, 'delta_link'),
    ({'full_sync': 'often'}, 'full_sync'),
    ({'limit': '0'}, 'limit'),
])
def test_get_delta_bad_input_is_refused_before_any_request(client, requests_mock, args, name):
    with pytest.raises(ValueError, match=name):
        run('msgraph-user-get-delta', client, args)
    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-change-password-on-premise (polling)
# ---------------------------------------------------------------------------------------------------------------

METHODS_URL = f'{GRAPH}/users/{ADELE_ID}/authentication/passwordMethods'
RESET_URL = f'{GRAPH}/users/{ADELE_ID}/authentication/methods/28c10230-6103-485e-b985-444c60001490/resetPassword'
OPERATION_URL = f'{GRAPH}/users/{ADELE_ID}/authentication/operations/88e7560c-9ebf-435c-8089-c3998ac1ec51'
RESET_CONTEXT_KEY = 'MSGraphUser.PasswordResetOperation(val.polling_url && val.polling_url == obj.polling_url)'


def test_on_premise_reset_starts_and_schedules_the_first_poll(client, requests_mock):
    requests_mock.get(METHODS_URL, json=load('password_methods.json'))
    requests_mock.post(RESET_URL, status_code=202, headers={'Location': OPERATION_URL})

    entry = entry_of('msgraph-user-change-password-on-premise', run(
        'msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, 'password': 'N3w-Passw0rd!'}))

    lookup, reset = requests_mock.request_history
    assert (lookup.method, reset.method) == ('GET', 'POST')
    assert reset.json() == {'newPassword': 'N3w-Passw0rd!'}
    assert entry['HumanReadable'] == f'Password reset initiated for **{ADELE_ID}**. Polling for status...'
    assert entry['PollingCommand'] == 'msgraph-user-change-password-on-premise'
    assert (entry['NextRun'], entry['Timeout']) == ('30', '600')
    # D2: the next run gets the user (not user_id) and the status URL; never the password.
    assert entry['PollingArgs'] == {'user': ADELE_ID, 'polling_url': OPERATION_URL, 'interval_in_seconds': 30,
                                    'timeout_in_seconds': 600}
    assert 'N3w-Passw0rd!' not in json.dumps(entry)


def test_on_premise_reset_uses_the_given_method_id_and_timing(client, requests_mock):
    # D2: password_method_id was declared but ignored; the timeout came from an undeclared argument.
    requests_mock.post(RESET_URL, status_code=202, headers={'Location': OPERATION_URL})

    entry = run('msgraph-user-change-password-on-premise', client, {
        'user': ADELE_ID, 'nonsensitive_password': 'N3w-Passw0rd!',
        'password_method_id': '28c10230-6103-485e-b985-444c60001490', 'interval_in_seconds': '45',
        'timeout_in_seconds': '1200'}).to_context()

    assert requests_mock.call_count == 1
    assert (entry['NextRun'], entry['Timeout']) == ('45', '1200')


def test_on_premise_reset_poll_while_running_carries_the_user_forward(client, requests_mock):
    requests_mock.get(OPERATION_URL, json=load('password_reset_running.json'))

    entry = run('msgraph-user-change-password-on-premise', client, {
        'user': ADELE_ID, 'polling_url': OPERATION_URL, 'interval_in_seconds': '30',
        'timeout_in_seconds': '600'}).to_context()

    assert requests_mock.last_request.url == OPERATION_URL
    assert entry['HumanReadable'] == f'Password reset status for **{ADELE_ID}** is **running**. Still waiting...'
    assert entry['PollingArgs']['user'] == ADELE_ID and entry['PollingArgs']['polling_url'] == OPERATION_URL


def test_on_premise_reset_success_writes_the_operation(client, requests_mock):
    requests_mock.get(OPERATION_URL, json=load('password_reset_succeeded.json'))

    entry = entry_of('msgraph-user-change-password-on-premise', run(
        'msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, 'polling_url': OPERATION_URL}))

    assert entry['HumanReadable'] == f'Password reset **succeeded** for user **{ADELE_ID}**.'
    assert entry['EntryContext'] == {RESET_CONTEXT_KEY: {'user': ADELE_ID, 'status': 'succeeded',
                                                         'polling_url': OPERATION_URL}}
    assert 'PollingCommand' not in entry


@pytest.mark.parametrize('operation, details', [
    ({'status': 'failed', 'statusDetail': 'The password does not meet the on-premises password policy.'},
     'The password does not meet the on-premises password policy.'),
    ({'status': 'canceled', 'error': {'message': 'Canceled by an administrator.'}}, 'Canceled by an administrator.'),
    ({'status': 'somethingNew'}, 'No specific error message.'),
])
def test_on_premise_reset_failure_is_an_error_entry_with_the_outputs(client, requests_mock, operation, details):
    # D2: the previous release discarded the outputs and raised.
    requests_mock.get(OPERATION_URL, json={**load('password_reset_running.json'), 'statusDetail': None, **operation})

    entry = entry_of('msgraph-user-change-password-on-premise', run(
        'msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, 'polling_url': OPERATION_URL}))

    text = f'Password reset **failed** for user **{ADELE_ID}**. Details: {details}'
    assert entry['Type'] == EntryType.ERROR and entry['HumanReadable'] == entry['Contents'] == text
    assert entry['EntryContext'][RESET_CONTEXT_KEY]['status'] == operation['status']
    assert 'PollingCommand' not in entry


@pytest.mark.parametrize('args, message', [
    ({}, "Password is required. Please provide either 'password' (sensitive) or 'nonsensitive_password' argument."),
    ({'password': 'a', 'nonsensitive_password': 'b'},
     "Conflicting passwords provided. The 'password' and 'nonsensitive_password' arguments must have the same "
     'value, or use only one of them.'),
])
def test_on_premise_reset_password_validation(client, requests_mock, args, message):
    with pytest.raises(Exception) as error:
        run('msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, **args})
    assert str(error.value) == message and requests_mock.call_count == 0


@pytest.mark.parametrize('args, name', [
    ({'polling_url': 'https://attacker.example/operations/1'}, 'polling_url'),
    ({'password': 'x', 'interval_in_seconds': '0'}, 'interval_in_seconds'),
    ({'password': 'x', 'timeout_in_seconds': 'soon'}, 'timeout_in_seconds'),
    ({'password': 'x', 'password_method_id': 'a\tb'}, 'password_method_id'),
])
def test_on_premise_reset_bad_input_is_refused_before_any_request(client, requests_mock, args, name):
    with pytest.raises(ValueError, match=name):
        run('msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, **args})
    assert requests_mock.call_count == 0


def test_on_premise_reset_refuses_a_status_url_off_graph(client, requests_mock):
    requests_mock.get(METHODS_URL, json=load('password_methods.json'))
    requests_mock.post(RESET_URL, status_code=202, headers={'Location': 'https://attacker.example/op/1'})

    with pytest.raises(ValueError, match='Location'):
        run('msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, 'password': 'x'})
    assert requests_mock.call_count == 2


def test_on_premise_reset_without_location_is_an_error(client, requests_mock):
    requests_mock.get(METHODS_URL, json=load('password_methods.json'))
    requests_mock.post(RESET_URL, status_code=202)

    with pytest.raises(ValueError, match=f'Location header.*{ADELE_ID}'):
        run('msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, 'password': 'x'})


def test_on_premise_reset_without_password_method(client, requests_mock):
    requests_mock.get(METHODS_URL, json={'value': []})
    with pytest.raises(Exception, match='^Failed getting passwordMethod id$'):
        run('msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, 'password': 'x'})


def test_on_premise_reset_start_failure_names_the_user(client, requests_mock):
    requests_mock.get(METHODS_URL, json=load('password_methods.json'))
    requests_mock.post(RESET_URL, **graph_error(403, 'error_forbidden.json'))

    with pytest.raises(Exception, match=f'^Failed to initiate password reset for {ADELE_ID}: 403 '):
        run('msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, 'password': 'x'})


def test_on_premise_reset_user_not_found(client, requests_mock):
    requests_mock.get(f'{GRAPH}/users/NotExistingUser/authentication/passwordMethods', **NOT_FOUND)

    entry = run('msgraph-user-change-password-on-premise', client,
                {'user': 'NotExistingUser', 'password': 'x'}).to_context()
    assert entry['HumanReadable'] == '#### User -> NotExistingUser does not exist'

    client.handle_error = False
    with pytest.raises(GraphError, match='404'):
        run('msgraph-user-change-password-on-premise', client, {'user': 'NotExistingUser', 'password': 'x'})


def test_on_premise_reset_unknown_method_id_is_named(client, requests_mock):
    requests_mock.post(f'{GRAPH}/users/{ADELE_ID}/authentication/methods/nope/resetPassword', **NOT_FOUND)
    requests_mock.get(f'{GRAPH}/users/{ADELE_ID}', json={'id': ADELE_ID})

    entry = run('msgraph-user-change-password-on-premise', client,
                {'user': ADELE_ID, 'password': 'x', 'password_method_id': 'nope'}).to_context()

    assert entry['HumanReadable'] == f'#### Did not find the method_id nope for user {ADELE_ID}'


def test_on_premise_reset_poll_retries_after_throttling(client, requests_mock, sleeps):
    requests_mock.get(OPERATION_URL, [THROTTLED, {'json': load('password_reset_succeeded.json')}])

    entry = run('msgraph-user-change-password-on-premise', client,
                {'user': ADELE_ID, 'polling_url': OPERATION_URL}).to_context()

    assert sleeps == [2.0] and entry['HumanReadable'].startswith('Password reset **succeeded**')


def test_on_premise_reset_poll_errors_are_not_reported_as_a_missing_user(client, requests_mock):
    requests_mock.get(OPERATION_URL, **NOT_FOUND)

    with pytest.raises(Exception, match=f'^Failed to get the password reset status for {ADELE_ID}: 404 '):
        run('msgraph-user-change-password-on-premise', client, {'user': ADELE_ID, 'polling_url': OPERATION_URL})


# ---------------------------------------------------------------------------------------------------------------
# Through the entry point: error entries and secrets
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture
def entry_point(monkeypatch, graph_client):
    """Runs a command through run_command (as main() does) with the test client; returns the entries."""
    monkeypatch.setattr(integration, 'build_client', lambda params, command: graph_client)

    def run_entry_point(command: str, args: dict) -> list[dict]:
        demisto.set_invocation(command, args)
        try:
            integration.run_command(command, {}, args)
        except SystemExit:
            pass  # return_error ends the run, as on the server
        return demisto.collected_results()
    return run_entry_point


def test_bad_input_becomes_one_error_entry_naming_the_argument(entry_point, requests_mock):
    entries = entry_point('msgraph-user-get', {'user': 'bad\nuser'})

    assert requests_mock.call_count == 0
    assert len(entries) == 1 and entries[0]['Type'] == EntryType.ERROR
    assert entries[0]['Contents'] == ('Failed to execute msgraph-user-get command.\nError:\nThe "user" argument must '
                                      'not contain control characters (such as a line break).')


def test_passwords_reach_no_entry_and_no_log(entry_point, requests_mock):
    requests_mock.post(f'{GRAPH}/users', **graph_error(400, 'error_bad_request.json'))
    requests_mock.patch(f'{GRAPH}/users/{ADELE_ID}', status_code=204)

    entries = entry_point('msgraph-user-create', dict(CREATE_ARGS))
    entries += entry_point('msgraph-user-change-password', {'user': ADELE_ID, 'password': 'Sup3r-Secr3t!'})

    assert requests_mock.request_history[0].json()['passwordProfile']['password'] == 'Sup3r-Secr3t!'
    assert entries[0]['Type'] == EntryType.ERROR and entries[1]['Type'] == EntryType.NOTE
    assert 'Sup3r-Secr3t!' not in json.dumps(entries) + '\n'.join(demisto.log_lines())


def test_list_through_the_entry_point(entry_point, requests_mock):
    requests_mock.get(f'{GRAPH}/users', json=load('users_list_page1.json'))

    entries = entry_point('msgraph-user-list', {})

    assert len(entries) == 1 and set(entries[0]['EntryContext']) == {USER_KEY, ACCOUNT_KEY, CURSOR_KEY}
