"""Unit tests of the authentication-method, Temporary Access Pass, owned-device and MFA commands.

Every test checks what a user sees: the exact HTTP requests (method, URL, headers, body) and the war-room entry
(HumanReadable, EntryContext). Graph and the MFA service are faked with requests-mock, which refuses any request
that no test registered, so nothing can reach a real host.
"""
import ast
import base64
import io
import json
import pathlib
import urllib.parse
import uuid
from typing import cast
from xml.etree import ElementTree

import demistomock as demisto
import pytest
import requests_mock as requests_mock_module
from CommonServerPython import LOG, CommandResults, DemistoException

import MicrosoftApiModule
import MicrosoftGraphUser as integration
from tests.common import CLIENT_CREDENTIALS_PARAMS, GRAPH_V1, TEST_ACCESS_TOKEN
from tests.unit.yml_contract import assert_outputs_declared

DATA = pathlib.Path(__file__).resolve().parents[2] / 'test_data' / 'auth_methods'
USER = '5f3a9c2e-8b1d-4e6f-9a2c-7d4b1e0f3a61'
UPN = 'kim.akers@fabrikam.example'
GRAPH_BETA = GRAPH_V1.replace('/v1.0', '/beta')
AUTH = f'{GRAPH_V1}/users/{USER}/authentication'
TENANT = cast(dict, CLIENT_CREDENTIALS_PARAMS['creds_tenant_id'])['password']
EXPECTED_TOKEN_URL = f'https://login.microsoftonline.com/{TENANT}/oauth2/token'
EXPECTED_MFA_URL = ('https://strongauthenticationservice.auth.microsoft.com/StrongAuthenticationService.svc/'
                    'Connector/BeginTwoWayAuthentication')
MFA_APP_ID = '981f26a1-7f43-403b-a875-f8b09b8cd720'
GATE_MESSAGE = ('"Allow secret generators commands execution" parameter is not marked, Cannot run this command.'
                'For more information please refer to the integration configuration.')
HOSTILE_VALUES = ['a/b', 'a/../../groups', 'a?b=c', 'a#frag', '%2F', '%2E%2E', "o'brien@x.example", '"quoted"',
                  'ünïcødé@例え.jp', '#EXT#guest', 'a b', 'a;b', 'a\\b']
CONTROL_VALUES = ['a\nb', 'a\rb', 'a\x00b', 'a\tb']


def load(name: str):
    text = (DATA / name).read_text()
    return json.loads(text) if name.endswith('.json') else text


# Objects whose properties come from Graph as they are (new Graph properties must not break the check).
OPEN_OBJECTS = {
    'msgraph-user-get-auth-methods': ['MSGraphUserAuthMethods.Methods'],
    'msgraph-user-owned-devices-list': ['MSGraphUser', 'MSGraphUser.OwnedDevice'],
    **{f'msgraph-user-{name}-method-list': [prefix] for name, prefix in [
        ('fido2', 'MSGraphUser.FIDO2Method'), ('email', 'MSGraphUser.EmailAuthMethod'),
        ('authenticator', 'MSGraphUser.UserAuthMethod'), ('phone', 'MSGraphUser.PhoneAuthMethod'),
        ('software-oath', 'MSGraphUser.SoftOathAuthMethod'), ('windows-hello', 'MSGraphUser.WindowsHelloAuthMethod'),
        ('temp-access-pass', 'MSGraphUser.TempAccessPassAuthMethod')]},
}


def run(client, command: str, args: dict):
    """Run a command; every context path it writes must be declared for it in the yml (with the declared type)."""
    result = integration.COMMANDS[command](client, args)
    for item in result if isinstance(result, list) else [result]:
        if isinstance(item, CommandResults):
            assert_outputs_declared(command, item, OPEN_OBJECTS.get(command, ()))
    return result


def entry(result: CommandResults) -> dict:
    return result.to_context()


def graph_error(status: int, name: str) -> dict:
    return {'status_code': status, 'json': load(name)}


def encoded(value: str) -> str:
    return urllib.parse.quote(value, safe='')


@pytest.fixture(autouse=True)
def _runtime(monkeypatch, tmp_path):
    """A blank demisto stand-in per test, files written to a private directory, and sleeps recorded, not slept."""
    demisto.reset()
    monkeypatch.chdir(tmp_path)
    sleeps: list[float] = []
    monkeypatch.setattr(MicrosoftApiModule, 'ms_sleep', sleeps.append)
    return sleeps


@pytest.fixture
def sleeps(_runtime):
    return _runtime


@pytest.fixture
def client(graph_client):
    return graph_client


@pytest.fixture
def mfa_client(graph_client):
    graph_client.allow_secret_generators = True
    return graph_client


def make_client(monkeypatch, **params):
    client = integration.build_client({**CLIENT_CREDENTIALS_PARAMS, **params}, 'test')
    monkeypatch.setattr(client, 'get_access_token', lambda *args, **kwargs: TEST_ACCESS_TOKEN)
    return client


def assert_graph_headers(request, *, body: bool = False) -> None:
    assert request.headers['Authorization'] == f'Bearer {TEST_ACCESS_TOKEN}'
    assert request.headers['Accept'] == 'application/json'
    assert uuid.UUID(request.headers['client-request-id'])
    if body:
        assert request.headers['Content-Type'] == 'application/json'
    else:
        assert request.body is None


# ---------------------------------------------------------------------------------------------------------------
# Temporary Access Pass policy commands
# ---------------------------------------------------------------------------------------------------------------

TAP_POLICY_CONTEXT = {
    'ID': 'a9f2b8c6-33b2-4f5e-9d3a-1c8d0f7e6b21', 'CreatedDateTime': '2024-05-20T13:02:11.3912452Z',
    'StartDateTime': '2024-05-20T13:02:11.3912452Z', 'LifetimeInMinutes': 60, 'IsUsableOnce': False,
    'IsUsable': True, 'MethodUsabilityReason': 'EnabledByPolicy'}


def test_tap_policy_list(client, requests_mock):
    requests_mock.get(f'{AUTH}/temporaryAccessPassMethods', json=load('tap_methods.json'))

    result = entry(run(client, 'msgraph-user-tap-policy-list', {'user_id': USER}))

    request = requests_mock.request_history[0]
    assert (request.method, request.url) == ('GET', f'{AUTH}/temporaryAccessPassMethods')
    assert_graph_headers(request)
    assert result['HumanReadable'] == (
        f'### TAP Policy for User ID {USER}:\n'
        '|Policy ID|Start Date Time|Lifetime In Minutes|Is Usable Once|Is Usable|Method Usability Reason|\n'
        '|---|---|---|---|---|---|\n'
        '| a9f2b8c6-33b2-4f5e-9d3a-1c8d0f7e6b21 | 2024-05-20T13:02:11.3912452Z | 60 | false | true '
        '| EnabledByPolicy |\n')
    assert result['EntryContext'] == {'MSGraphUser.TAPPolicy(val.ID && val.ID == obj.ID)': TAP_POLICY_CONTEXT}


def test_tap_policy_list_empty(client, requests_mock):
    requests_mock.get(f'{AUTH}/temporaryAccessPassMethods', json={'value': []})

    result = entry(run(client, 'msgraph-user-tap-policy-list', {'user_id': USER}))

    assert result['HumanReadable'] == f'Failed to get TAP policy for the user {USER}.'
    assert not result['EntryContext']


def test_tap_policy_list_without_pass_key(client, requests_mock):
    """D11: the pass is removed defensively; a response without the key still works."""
    body = load('tap_methods.json')
    del body['value'][0]['temporaryAccessPass']
    requests_mock.get(f'{AUTH}/temporaryAccessPassMethods', json=body)

    result = entry(run(client, 'msgraph-user-tap-policy-list', {'user_id': USER}))

    assert result['EntryContext'] == {'MSGraphUser.TAPPolicy(val.ID && val.ID == obj.ID)': TAP_POLICY_CONTEXT}


@pytest.mark.parametrize('error_file', ['error_user_not_found.json', 'error_tap_user_not_found.json'])
def test_tap_policy_list_user_not_found(client, requests_mock, error_file):
    """Decided from the 404 and its code, including the TAP service's 'The specified user could not be found.'."""
    requests_mock.get(f'{AUTH}/temporaryAccessPassMethods', **graph_error(404, error_file))

    result = entry(run(client, 'msgraph-user-tap-policy-list', {'user_id': USER}))

    assert result['HumanReadable'] == f'#### User -> {USER} does not exist'
    assert requests_mock.call_count == 1


def test_tap_policy_list_not_found_with_handle_error_off(client, requests_mock):
    client.handle_error = False
    requests_mock.get(f'{AUTH}/temporaryAccessPassMethods', **graph_error(404, 'error_tap_user_not_found.json'))

    with pytest.raises(MicrosoftApiModule.GraphError) as error:
        run(client, 'msgraph-user-tap-policy-list', {'user_id': USER})

    assert error.value.status == 404
    assert 'The specified user could not be found.' in str(error.value)


def test_tap_policy_list_other_errors_are_not_not_found(client, requests_mock):
    """A 403 mentioning the user is an error, not a not-found note (no substring matching)."""
    requests_mock.get(f'{AUTH}/temporaryAccessPassMethods', status_code=403, json={'error': {
        'code': 'Authorization_RequestDenied', 'message': f'The user {USER} could not be found in scope.'}})

    with pytest.raises(MicrosoftApiModule.GraphError):
        run(client, 'msgraph-user-tap-policy-list', {'user_id': USER})


def read_zip(path: pathlib.Path, password: str) -> dict[str, str]:
    import pyzipper

    with pyzipper.AESZipFile(io.BytesIO(path.read_bytes())) as archive:
        archive.setpassword(password.encode())
        return {info.filename: archive.read(info.filename).decode() for info in archive.infolist()}


def test_tap_policy_create(client, requests_mock, tmp_path):
    created = load('tap_created.json')
    the_pass = created['temporaryAccessPass']
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, json=created)

    results = run(client, 'msgraph-user-tap-policy-create',
                  {'user_id': USER, 'zip_password': 'Zip-P@ss 1', 'lifetime_in_minutes': '120',
                   'is_usable_once': 'true', 'start_time': 'now'})

    request = requests_mock.request_history[0]
    assert (request.method, request.url) == ('POST', f'{AUTH}/temporaryAccessPassMethods')
    assert_graph_headers(request, body=True)
    # D11: "now" sends no startDateTime, so Graph starts the pass on receipt.
    assert request.json() == {'lifetimeInMinutes': 120, 'isUsableOnce': True}
    command_result, file_entry = results
    result = entry(command_result)
    assert result['HumanReadable'] == (f'Temporary Access Pass Authentication methods policy for user: {USER} was '
                                       'successfully created.')
    assert result['EntryContext'] == {'MSGraphUser.TAPPolicy(val.ID && val.ID == obj.ID)': {
        'ID': 'c2e4d6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f', 'CreatedDateTime': '2024-05-21T08:00:00.1234567Z',
        'StartDateTime': '2024-05-21T08:00:00.1234567Z', 'LifetimeInMinutes': 120, 'IsUsableOnce': True,
        'IsUsable': True, 'MethodUsabilityReason': 'EnabledByPolicy'}}
    assert the_pass not in json.dumps(result)
    assert file_entry['File'] == 'TAPPolicyInfo.zip'
    assert (file_entry['Type'], file_entry['ContentsFormat']) == (3, 'text')
    zip_path = tmp_path / f"{demisto.investigation()['id']}_{file_entry['FileID']}"
    assert read_zip(zip_path, 'Zip-P@ss 1') == {'TAPPolicyPass.txt': the_pass}
    # D11: built in memory; the only file written is the encrypted zip.
    assert [path.name for path in tmp_path.iterdir()] == [zip_path.name]
    assert the_pass.encode() not in zip_path.read_bytes()


def test_tap_policy_create_zip_refuses_the_wrong_password(client, requests_mock, tmp_path):
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, json=load('tap_created.json'))

    _, file_entry = run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'right'})

    with pytest.raises(RuntimeError):
        read_zip(tmp_path / f"1_{file_entry['FileID']}", 'wrong')


def test_tap_policy_create_defaults(client, requests_mock):
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, json=load('tap_created.json'))

    run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x'})

    assert requests_mock.request_history[0].json() == {'lifetimeInMinutes': 60, 'isUsableOnce': False}


@pytest.mark.parametrize('start_time, expected', [
    ('2099-01-31T09:00:00Z', '2099-01-31T09:00:00.000Z'),
    ('2099-01-31T10:30:15+01:30', '2099-01-31T09:00:15.000Z'),
    ('2099-01-31T09:00:00', '2099-01-31T09:00:00.000Z'),  # no offset: UTC
])
def test_tap_policy_create_future_start(client, requests_mock, start_time, expected):
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, json=load('tap_created.json'))

    run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x', 'start_time': start_time})

    assert requests_mock.request_history[0].json()['startDateTime'] == expected


def test_tap_policy_create_relative_start(client, requests_mock):
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, json=load('tap_created.json'))

    run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x', 'start_time': 'in 2 days'})

    assert requests_mock.request_history[0].json()['startDateTime'].endswith('.000Z')


@pytest.mark.parametrize('args, argument', [
    ({'lifetime_in_minutes': '9'}, 'lifetime_in_minutes'),
    ({'lifetime_in_minutes': '43201'}, 'lifetime_in_minutes'),
    ({'lifetime_in_minutes': '1.5'}, 'lifetime_in_minutes'),
    ({'lifetime_in_minutes': '-60'}, 'lifetime_in_minutes'),
    ({'lifetime_in_minutes': 'an hour'}, 'lifetime_in_minutes'),
    ({'is_usable_once': 'maybe'}, 'is_usable_once'),
    ({'start_time': '2001-01-01T00:00:00Z'}, 'start_time'),
    ({'start_time': 'next blue moon'}, 'start_time'),
    ({'zip_password': ''}, 'zip_password'),
    ({'user_id': ''}, 'user_id'),
    ({'user_id': 'a\nb'}, 'user_id'),
])
def test_tap_policy_create_bad_input(client, requests_mock, args, argument):
    """D11: the lifetime bound (and every other argument) is validated before any request."""
    with pytest.raises(ValueError, match=f'"{argument}"'):
        run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x', **args})

    assert requests_mock.call_count == 0


@pytest.mark.parametrize('lifetime', ['10', '43200'])
def test_tap_policy_create_lifetime_bounds_are_inclusive(client, requests_mock, lifetime):
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, json=load('tap_created.json'))

    run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x',
                                                   'lifetime_in_minutes': lifetime})

    assert requests_mock.request_history[0].json()['lifetimeInMinutes'] == int(lifetime)


@pytest.mark.parametrize('body', [{}, None])
def test_tap_policy_create_empty_response(client, requests_mock, body):
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, text=json.dumps(body) if body else '')

    result = entry(run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x'}))

    assert result['HumanReadable'] == f'Failed to create TAP policy for user: {USER}.'


def test_tap_policy_create_without_pass_in_response(client, requests_mock, tmp_path):
    """D11: Graph omitting the pass is not a crash; no zip is produced."""
    created = load('tap_created.json')
    del created['temporaryAccessPass']
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, json=created)

    result = entry(run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x'}))

    assert result['HumanReadable'] == (f'Temporary Access Pass Authentication methods policy for user: {USER} was '
                                       'successfully created.\nMicrosoft Graph returned no pass, so no zip file was '
                                       'created.')
    assert list(tmp_path.iterdir()) == []


def test_tap_policy_create_user_not_found(client, requests_mock):
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', **graph_error(404, 'error_tap_user_not_found.json'))

    result = entry(run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x'}))

    assert result['HumanReadable'] == f'#### User -> {USER} does not exist'


def test_tap_policy_create_through_the_entry_point_leaks_the_pass_nowhere(monkeypatch, requests_mock, tmp_path):
    """The pass reaches only the encrypted zip: not an entry, the context, a log line, or a file in clear."""
    monkeypatch.setattr(integration.Client, 'get_access_token', lambda self, *args, **kwargs: TEST_ACCESS_TOKEN)
    created = load('tap_created.json')
    the_pass = created['temporaryAccessPass']
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', status_code=201, json=created)
    args = {'user_id': USER, 'zip_password': 'Zip-P@ss', 'start_time': 'now'}
    demisto.set_invocation('msgraph-user-tap-policy-create', args, CLIENT_CREDENTIALS_PARAMS, is_debug_mode=True)

    integration.run_command('msgraph-user-tap-policy-create', dict(CLIENT_CREDENTIALS_PARAMS), args)

    entries = demisto.collected_results()
    assert [item.get('File') for item in entries if item.get('File')] == ['TAPPolicyInfo.zip']
    assert all(item['Type'] != 4 for item in entries)
    assert the_pass not in json.dumps(entries)
    assert the_pass not in '\n'.join(demisto.log_lines())
    assert the_pass in LOG.replace_strs  # masked should anything ever log it
    for path in tmp_path.iterdir():
        assert the_pass.encode() not in path.read_bytes()


def test_tap_policy_create_throttled_then_created(client, requests_mock, sleeps):
    requests_mock.post(f'{AUTH}/temporaryAccessPassMethods', [
        {'status_code': 429, 'headers': {'Retry-After': '7'}, 'json': load('error_throttled.json')},
        {'status_code': 201, 'json': load('tap_created.json')}])

    command_result, _ = run(client, 'msgraph-user-tap-policy-create', {'user_id': USER, 'zip_password': 'x'})

    assert sleeps == [7.0]
    assert requests_mock.call_count == 2
    assert entry(command_result)['HumanReadable'].startswith('Temporary Access Pass Authentication methods policy')


def test_tap_policy_delete(client, requests_mock):
    requests_mock.delete(f'{AUTH}/temporaryAccessPassMethods/c2e4d6f8', status_code=204)

    result = entry(run(client, 'msgraph-user-tap-policy-delete', {'user_id': USER, 'policy_id': 'c2e4d6f8'}))

    request = requests_mock.request_history[0]
    assert (request.method, request.url) == ('DELETE', f'{AUTH}/temporaryAccessPassMethods/c2e4d6f8')
    assert_graph_headers(request)
    assert result['HumanReadable'] == ('Temporary Access Pass Authentication methods policy c2e4d6f8 was '
                                       'successfully deleted.')
    assert not result['EntryContext']


def test_tap_policy_delete_policy_not_found(client, requests_mock):
    """The user exists (one GET decides), so the missing object is the policy."""
    requests_mock.delete(f'{AUTH}/temporaryAccessPassMethods/gone', **graph_error(404, 'error_method_not_found.json'))
    requests_mock.get(f'{GRAPH_V1}/users/{USER}', json={'id': USER})

    result = entry(run(client, 'msgraph-user-tap-policy-delete', {'user_id': USER, 'policy_id': 'gone'}))

    assert result['HumanReadable'] == f'#### Did not find the method_id gone for user {USER}'
    assert requests_mock.request_history[1].url == f'{GRAPH_V1}/users/{USER}?$select=id'


def test_tap_policy_delete_user_not_found(client, requests_mock):
    requests_mock.delete(f'{AUTH}/temporaryAccessPassMethods/p1', **graph_error(404, 'error_tap_user_not_found.json'))
    requests_mock.get(f'{GRAPH_V1}/users/{USER}', **graph_error(404, 'error_user_not_found.json'))

    result = entry(run(client, 'msgraph-user-tap-policy-delete', {'user_id': USER, 'policy_id': 'p1'}))

    assert result['HumanReadable'] == f'#### User -> {USER} does not exist'


@pytest.mark.parametrize('args, argument', [({'policy_id': ''}, 'policy_id'), ({'user_id': ''}, 'user_id'),
                                            ({'policy_id': 'a\x00'}, 'policy_id')])
def test_tap_policy_delete_bad_input(client, requests_mock, args, argument):
    with pytest.raises(ValueError, match=f'"{argument}"'):
        run(client, 'msgraph-user-tap-policy-delete', {'user_id': USER, 'policy_id': 'p1', **args})

    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# Authentication-method list / delete pairs (one table drives all seven types)
# ---------------------------------------------------------------------------------------------------------------

# command, Graph collection, data file, context prefix, list title, HR header line, deleted text
METHOD_CASES = [
    ('fido2', 'fido2Methods', 'fido2_methods.json', 'MSGraphUser.FIDO2Method', 'FIDO2 Authentication Method',
     '|Authentication method ID|The display name of the key|Authenticator Attestation GUID|',
     "The user's FIDO2 Security Key Authentication Method {id} has been successfully deleted.",
     'No FIDO2 authentication methods found for user {user}.'),
    ('email', 'emailMethods', 'email_methods.json', 'MSGraphUser.EmailAuthMethod', 'Email Authentication Method',
     '|ID|Email Address|',
     "The user's Email Authentication Method object {id} has been successfully deleted.",
     'No email authentication methods found for user {user}.'),
    ('authenticator', 'microsoftAuthenticatorMethods', 'authenticator_methods_page2.json',
     'MSGraphUser.UserAuthMethod', 'Microsoft Authenticator Authentication Method',
     '|Authentication method ID|Device Name|Version of the Authenticator app|',
     'Microsoft Authenticator authentication method {id} was successfully deleted for user {user}.',
     'No Microsoft Authenticator authentication methods found for user {user}.'),
    ('phone', 'phoneMethods', 'phone_methods.json', 'MSGraphUser.PhoneAuthMethod', 'Phone Authentication Method',
     '|Phone ID|Phone Number|Phone Type|Sms SignIn State|',
     "The user's phone authentication method object id {id} has been successfully deleted.",
     'No phone authentication methods found for user {user}.'),
    ('software-oath', 'softwareOathMethods', 'software_oath_methods.json', 'MSGraphUser.SoftOathAuthMethod',
     'Software OATH Authentication Method', '|Authentication method ID|',
     "The user's Software OATH token authentication method object id {id} has been successfully deleted.",
     'No software OATH authentication methods found for user {user}.'),
    ('windows-hello', 'windowsHelloForBusinessMethods', 'windows_hello_methods.json',
     'MSGraphUser.WindowsHelloAuthMethod', 'Windows Hello for Business Authentication Method',
     '|Windows Hello Method ID|Display Name|Method Key Strength|',
     'The Windows Hello For Business Authentication Method object id {id} has been successfully deleted.',
     'No Windows Hello for Business authentication methods found for user {user}.'),
    ('temp-access-pass', 'temporaryAccessPassMethods', 'tap_methods.json', 'MSGraphUser.TempAccessPassAuthMethod',
     'Temporary Access Pass Method', '|Temporary Access Pass ID|Authentication method state|',
     "The user's Temporary Access Pass Authentication Method object id {id} has been successfully deleted.",
     'No Temporary Access Pass authentication methods found for user {user}.'),
]
METHOD_IDS = [case[0] for case in METHOD_CASES]


@pytest.mark.parametrize('name, collection, data, prefix, title, header, _deleted, _empty', METHOD_CASES,
                         ids=METHOD_IDS)
def test_method_list(client, requests_mock, name, collection, data, prefix, title, header, _deleted, _empty):
    body = load(data)
    requests_mock.get(f'{AUTH}/{collection}', json=body)

    result = entry(run(client, f'msgraph-user-{name}-method-list', {'user': USER}))

    request = requests_mock.request_history[0]
    # Only the authenticator collection takes `$top`; the others get Graph's own page size (no query options).
    query = '?$top=50' if name == 'authenticator' else ''
    assert (request.method, request.url) == ('GET', f'{AUTH}/{collection}{query}')
    assert_graph_headers(request)
    lines = result['HumanReadable'].splitlines()
    assert lines[0] == f'### {title}s for User {USER}:'
    assert lines[1] == header
    assert len(lines) == 3 + len(body['value'])
    expected = [integration.to_context({k: v for k, v in item.items() if k != 'temporaryAccessPass'})
                for item in body['value']]
    # Methods merge on ID (D8: phone too); the cursor has its own element, emptied when the listing is complete.
    assert result['EntryContext'] == {f'{prefix}(val.ID && val.ID == obj.ID)': expected,
                                      f'{prefix}(val.NextPage !== undefined)': {'NextPage': None}}


def test_method_list_rows(client, requests_mock):
    requests_mock.get(f'{GRAPH_V1}/users/kim.akers%40fabrikam.example/authentication/phoneMethods',
                      json=load('phone_methods.json'))

    result = entry(run(client, 'msgraph-user-phone-method-list', {'user': UPN}))

    assert result['HumanReadable'] == (
        f'### Phone Authentication Methods for User {UPN}:\n'
        '|Phone ID|Phone Number|Phone Type|Sms SignIn State|\n'
        '|---|---|---|---|\n'
        '| 3179e48a-750b-4051-897c-87b9720928f7 | +1 2065550123 | mobile | notAllowedByPolicy |\n'
        '| b6332ec1-7057-4abe-9331-3d72feddfe41 | +1 4255550199 | alternateMobile | notSupported |\n')
    assert requests_mock.request_history[0].url == (f'{GRAPH_V1}/users/kim.akers%40fabrikam.example/authentication/'
                                                    'phoneMethods')


@pytest.mark.parametrize('name, collection, data, prefix, title, header, _deleted, _empty', METHOD_CASES,
                         ids=METHOD_IDS)
def test_method_get_one(client, requests_mock, name, collection, data, prefix, title, header, _deleted, _empty):
    method = {'@odata.context': f'{GRAPH_V1}/$metadata#x/$entity', **load(data)['value'][0]}
    method_id = method['id']
    requests_mock.get(f'{AUTH}/{collection}/{encoded(method_id)}', json=method)

    result = entry(run(client, f'msgraph-user-{name}-method-list',
                       {'user': USER, 'method_id': method_id, 'limit': '1', 'next_page': ''}))

    request = requests_mock.request_history[0]
    assert (request.method, request.url) == ('GET', f'{AUTH}/{collection}/{encoded(method_id)}')
    # D12: the TAP title no longer starts with "WTemporary".
    assert result['HumanReadable'].splitlines()[:2] == [f'### {title} {method_id} for User {USER}:', header]
    expected = integration.to_context({k: v for k, v in method.items()
                                       if k not in ('@odata.context', 'temporaryAccessPass')})
    assert result['EntryContext'] == {f'{prefix}(val.ID && val.ID == obj.ID)': expected}


@pytest.mark.parametrize('name, collection, data, prefix, title, header, _deleted, empty', METHOD_CASES,
                         ids=METHOD_IDS)
def test_method_list_empty(client, requests_mock, name, collection, data, prefix, title, header, _deleted, empty):
    requests_mock.get(f'{AUTH}/{collection}', json={'value': []})

    result = entry(run(client, f'msgraph-user-{name}-method-list', {'user': USER}))

    # D12: the Temporary Access Pass list no longer says "Windows Hello" here.
    assert result['HumanReadable'] == empty.format(user=USER)
    assert not result['EntryContext']


def test_temp_access_pass_method_list_never_writes_the_pass(client, requests_mock):
    """D12: the TemporaryAccessPass key never reaches context, even when Graph returns a value."""
    body = load('tap_methods.json')
    body['value'][0]['temporaryAccessPass'] = 'Leaked#Pass1'
    requests_mock.get(f'{AUTH}/temporaryAccessPassMethods', json=body)

    result = entry(run(client, 'msgraph-user-temp-access-pass-method-list', {'user': USER}))

    assert 'Leaked#Pass1' not in json.dumps(result)
    assert 'TemporaryAccessPass' not in json.dumps(result['EntryContext'])
    assert 'Leaked#Pass1' in LOG.replace_strs


@pytest.mark.parametrize('name, collection, data, prefix, title, header, deleted, _empty', METHOD_CASES,
                         ids=METHOD_IDS)
def test_method_delete(client, requests_mock, name, collection, data, prefix, title, header, deleted, _empty):
    method_id = load(data)['value'][0]['id']
    requests_mock.delete(f'{AUTH}/{collection}/{encoded(method_id)}', status_code=204)

    result = entry(run(client, f'msgraph-user-{name}-method-delete', {'user': USER, 'method_id': method_id}))

    request = requests_mock.request_history[0]
    assert (request.method, request.url) == ('DELETE', f'{AUTH}/{collection}/{encoded(method_id)}')
    assert_graph_headers(request)
    assert result['HumanReadable'] == deleted.format(id=method_id, user=USER)
    assert not result['EntryContext']


def test_temp_access_pass_method_delete_uses_user(client, requests_mock):
    """D1: the command reads `user` (the old code read the absent `user_id` and failed before any request)."""
    requests_mock.delete(f'{GRAPH_V1}/users/kim.akers%40fabrikam.example/authentication/temporaryAccessPassMethods/'
                         't1', status_code=204)

    result = entry(run(client, 'msgraph-user-temp-access-pass-method-delete', {'user': UPN, 'method_id': 't1'}))

    assert requests_mock.call_count == 1
    assert result['HumanReadable'] == ("The user's Temporary Access Pass Authentication Method object id t1 has been "
                                       'successfully deleted.')


def test_email_method_delete_default_id(client, requests_mock):
    requests_mock.delete(f'{AUTH}/emailMethods/3ddfcfc8-9383-446f-83cc-3ab9be4be18f', status_code=204)

    result = entry(run(client, 'msgraph-user-email-method-delete', {'user': USER}))

    assert requests_mock.call_count == 1
    assert result['HumanReadable'] == ("The user's Email Authentication Method object "
                                       '3ddfcfc8-9383-446f-83cc-3ab9be4be18f has been successfully deleted.')


def test_email_method_delete_default_id_not_found_names_the_method(client, requests_mock):
    requests_mock.delete(f'{AUTH}/emailMethods/3ddfcfc8-9383-446f-83cc-3ab9be4be18f',
                         **graph_error(404, 'error_method_not_found.json'))
    requests_mock.get(f'{GRAPH_V1}/users/{USER}', json={'id': USER})

    result = entry(run(client, 'msgraph-user-email-method-delete', {'user': USER}))

    assert result['HumanReadable'] == ('#### Did not find the method_id 3ddfcfc8-9383-446f-83cc-3ab9be4be18f for user '
                                       f'{USER}')


@pytest.mark.parametrize('command', ['msgraph-user-fido2-method-list', 'msgraph-user-phone-method-delete'])
def test_method_not_found_when_the_user_exists(client, requests_mock, command):
    """The error text names the user too; which object is missing is decided by a GET of the user."""
    requests_mock.register_uri(requests_mock_module.ANY, requests_mock_module.ANY,
                               **graph_error(404, 'error_method_not_found.json'))
    requests_mock.get(f'{GRAPH_V1}/users/{USER}', json={'id': USER})

    result = entry(run(client, command, {'user': USER, 'method_id': 'missing-method'}))

    assert result['HumanReadable'] == f'#### Did not find the method_id missing-method for user {USER}'
    assert [request.method for request in requests_mock.request_history] == [
        'GET' if command.endswith('list') else 'DELETE', 'GET']


@pytest.mark.parametrize('command', ['msgraph-user-fido2-method-list', 'msgraph-user-phone-method-delete'])
def test_method_user_not_found(client, requests_mock, command):
    requests_mock.register_uri(requests_mock_module.ANY, requests_mock_module.ANY,
                               **graph_error(404, 'error_user_not_found.json'))

    result = entry(run(client, command, {'user': 'missing.user@contoso.example', 'method_id': 'm1'}))

    assert result['HumanReadable'] == '#### User -> missing.user@contoso.example does not exist'
    assert requests_mock.request_history[-1].url == f'{GRAPH_V1}/users/missing.user%40contoso.example?$select=id'


def test_method_list_user_not_found_without_method_id(client, requests_mock):
    requests_mock.get(f'{AUTH}/windowsHelloForBusinessMethods', **graph_error(404, 'error_user_not_found.json'))

    result = entry(run(client, 'msgraph-user-windows-hello-method-list', {'user': USER}))

    assert result['HumanReadable'] == f'#### User -> {USER} does not exist'
    assert requests_mock.call_count == 1


@pytest.mark.parametrize('command', ['msgraph-user-software-oath-method-list',
                                     'msgraph-user-software-oath-method-delete'])
def test_method_not_found_with_handle_error_off(client, requests_mock, command):
    client.handle_error = False
    requests_mock.register_uri(requests_mock_module.ANY, requests_mock_module.ANY,
                               **graph_error(404, 'error_method_not_found.json'))

    with pytest.raises(MicrosoftApiModule.GraphError, match='404 NotFound'):
        run(client, command, {'user': USER, 'method_id': 'missing-method'})

    assert requests_mock.call_count == 1


def test_authenticator_list_follows_pages_up_to_the_limit(client, requests_mock):
    page1 = load('authenticator_methods_page1.json')
    requests_mock.get(f'{AUTH}/microsoftAuthenticatorMethods', json=page1)
    requests_mock.get(page1['@odata.nextLink'], json=load('authenticator_methods_page2.json'))

    result = entry(run(client, 'msgraph-user-authenticator-method-list', {'user': USER, 'limit': '3'}))

    assert [request.url for request in requests_mock.request_history] == [
        f'{AUTH}/microsoftAuthenticatorMethods?$top=3', page1['@odata.nextLink']]
    context = result['EntryContext']
    assert [item['ID'] for item in context['MSGraphUser.UserAuthMethod(val.ID && val.ID == obj.ID)']] == [
        '6c3f8a3e-3a1b-4a4f-8d3c-9a2a39b1d7a4', 'b1e0c7d2-5f4e-4c7b-9d0a-2e8f6a1c3b59',
        '0a9d4e55-7c41-4f0e-a7b3-55e2c8f19d30']
    assert context['MSGraphUser.UserAuthMethod(val.NextPage !== undefined)'] == {'NextPage': None}
    assert 'To get further results' not in result['HumanReadable']


def test_authenticator_list_stops_at_the_limit_and_exposes_the_cursor(client, requests_mock):
    page1 = load('authenticator_methods_page1.json')
    requests_mock.get(f'{AUTH}/microsoftAuthenticatorMethods', json=page1)

    result = entry(run(client, 'msgraph-user-authenticator-method-list', {'user': USER, 'limit': '2'}))

    assert requests_mock.call_count == 1
    link = page1['@odata.nextLink']
    # D8: the cursor is its own element (MSGraphUser.UserAuthMethod.NextPage), not the first method.
    assert result['EntryContext']['MSGraphUser.UserAuthMethod(val.NextPage !== undefined)'] == {'NextPage': link}
    assert all('NextPage' not in item
               for item in result['EntryContext']['MSGraphUser.UserAuthMethod(val.ID && val.ID == obj.ID)'])
    assert result['HumanReadable'].splitlines()[1:3] == [
        'To get further results, enter this to the next_page argument:', link]


def test_method_list_next_page_is_followed_verbatim(client, requests_mock):
    link = load('authenticator_methods_page1.json')['@odata.nextLink']
    requests_mock.get(link, json=load('authenticator_methods_page2.json'))

    result = entry(run(client, 'msgraph-user-authenticator-method-list', {'user': USER, 'next_page': link}))

    assert [request.url for request in requests_mock.request_history] == [link]
    assert len(result['EntryContext']['MSGraphUser.UserAuthMethod(val.ID && val.ID == obj.ID)']) == 1


def test_method_list_all_results(client, requests_mock):
    page1 = load('authenticator_methods_page1.json')
    requests_mock.get(f'{AUTH}/microsoftAuthenticatorMethods', json=page1)
    requests_mock.get(page1['@odata.nextLink'], json=load('authenticator_methods_page2.json'))

    result = entry(run(client, 'msgraph-user-authenticator-method-list',
                       {'user': USER, 'limit': '1', 'all_results': 'true'}))

    assert requests_mock.request_history[0].url == f'{AUTH}/microsoftAuthenticatorMethods?$top=999'
    assert len(result['EntryContext']['MSGraphUser.UserAuthMethod(val.ID && val.ID == obj.ID)']) == 3


@pytest.mark.parametrize('args, argument', [
    ({'user': ''}, 'user'),
    ({'limit': '0'}, 'limit'),
    ({'limit': 'ten'}, 'limit'),
    ({'all_results': 'perhaps'}, 'all_results'),
    ({'next_page': 'https://evil.example/v1.0/users?$skiptoken=x'}, 'next_page'),
    ({'next_page': GRAPH_V1.replace('.com/', '.com.evil.example/')}, 'next_page'),
    ({'next_page': f'{GRAPH_V1}/users?$skiptoken=a b'}, 'next_page'),
    ({'method_id': 'x\ny'}, 'method_id'),
    ({'user': 'bad\x7fuser'}, 'user'),
])
def test_method_list_bad_input(client, requests_mock, args, argument):
    with pytest.raises(ValueError, match=f'"{argument}"'):
        run(client, 'msgraph-user-phone-method-list', {'user': USER, **args})

    assert requests_mock.call_count == 0


@pytest.mark.parametrize('args, argument', [({'method_id': ''}, 'method_id'), ({'user': ' '}, 'user'),
                                            ({'method_id': 'a\rb'}, 'method_id')])
def test_method_delete_bad_input(client, requests_mock, args, argument):
    with pytest.raises(ValueError, match=f'"{argument}"'):
        run(client, 'msgraph-user-fido2-method-delete', {'user': USER, 'method_id': 'm1', **args})

    assert requests_mock.call_count == 0


@pytest.mark.parametrize('command', ['msgraph-user-windows-hello-method-list',
                                     'msgraph-user-windows-hello-method-delete'])
def test_method_commands_retry_after_throttling(client, requests_mock, sleeps, command):
    method = requests_mock.get if command.endswith('list') else requests_mock.delete
    method(requests_mock_module.ANY, [
        {'status_code': 429, 'headers': {'Retry-After': '3'}, 'json': load('error_throttled.json')},
        {'status_code': 429, 'headers': {'Retry-After': '5'}, 'json': load('error_throttled.json')},
        {'status_code': 200, 'json': load('windows_hello_methods.json')} if command.endswith('list')
        else {'status_code': 204}])

    result = entry(run(client, command, {'user': USER, 'method_id': '_jpuR-TGZtk6aQCLF3BQjA2'}))

    assert sleeps == [3.0, 5.0]
    assert requests_mock.call_count == 3
    assert requests_mock.request_history[-1].headers['retry-attempt'] == '2'
    assert 'Windows Hello' in result['HumanReadable']


def test_method_commands_throttled_beyond_the_budget(client, requests_mock):
    requests_mock.get(requests_mock_module.ANY, status_code=429, headers={'Retry-After': '600'},
                      json=load('error_throttled.json'))

    with pytest.raises(MicrosoftApiModule.GraphThrottledError, match='retry after 600 s'):
        run(client, 'msgraph-user-email-method-list', {'user': USER})


@pytest.mark.parametrize('value', HOSTILE_VALUES)
def test_hostile_values_stay_in_their_path_segment(client, requests_mock, value):
    requests_mock.get(requests_mock_module.ANY, json=load('fido2_method.json'))

    run(client, 'msgraph-user-fido2-method-list', {'user': value, 'method_id': value})

    url = requests_mock.request_history[0].url
    assert url == f'{GRAPH_V1}/users/{encoded(value)}/authentication/fido2Methods/{encoded(value)}'
    assert urllib.parse.urlsplit(url).query == ''
    assert '/../' not in url


@pytest.mark.parametrize('value', HOSTILE_VALUES)
def test_hostile_values_in_deletes(client, requests_mock, value):
    requests_mock.delete(requests_mock_module.ANY, status_code=204)

    run(client, 'msgraph-user-tap-policy-delete', {'user_id': value, 'policy_id': value})
    run(client, 'msgraph-user-temp-access-pass-method-delete', {'user': value, 'method_id': value})

    expected = f'{GRAPH_V1}/users/{encoded(value)}/authentication/temporaryAccessPassMethods/{encoded(value)}'
    assert [request.url for request in requests_mock.request_history] == [expected, expected]


@pytest.mark.parametrize('value', ['.', '..', '...'])
def test_dot_segments_are_refused(client, requests_mock, value):
    """A dot-only id would be resolved as a dot segment: requests turns even `%2E%2E` back into `..`."""
    with pytest.raises(ValueError, match='"user"'):
        run(client, 'msgraph-user-fido2-method-list', {'user': value, 'method_id': 'm1'})
    with pytest.raises(ValueError, match='"method_id"'):
        run(client, 'msgraph-user-fido2-method-delete', {'user': USER, 'method_id': value})
    with pytest.raises(ValueError, match='"policy_id"'):
        run(client, 'msgraph-user-tap-policy-delete', {'user_id': USER, 'policy_id': value})

    assert requests_mock.call_count == 0


def test_user_starting_with_dollar_uses_the_key_form(client, requests_mock):
    requests_mock.get(requests_mock_module.ANY, json={'value': []})

    run(client, 'msgraph-user-email-method-list', {'user': "$adm'in@x.example"})

    assert requests_mock.request_history[0].url == (f"{GRAPH_V1}/users(%27%24adm%27%27in%40x.example%27)/"
                                                    'authentication/emailMethods')


@pytest.mark.parametrize('value', CONTROL_VALUES)
def test_control_characters_are_refused(client, requests_mock, value):
    with pytest.raises(ValueError, match='"user"'):
        run(client, 'msgraph-user-fido2-method-list', {'user': value})
    with pytest.raises(ValueError, match='"method_id"'):
        run(client, 'msgraph-user-fido2-method-delete', {'user': USER, 'method_id': value})

    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-get-auth-methods
# ---------------------------------------------------------------------------------------------------------------

def test_get_auth_methods(client, requests_mock):
    body = load('auth_methods.json')
    requests_mock.get(f'{AUTH}/methods', json=body)

    result = entry(run(client, 'msgraph-user-get-auth-methods', {'user': USER}))

    request = requests_mock.request_history[0]
    assert (request.method, request.url) == ('GET', f'{AUTH}/methods')
    assert_graph_headers(request)
    assert result['HumanReadable'].startswith(f'### {USER} - auth methods\n')
    outputs = result['EntryContext']['MSGraphUserAuthMethods(val.ID && val.ID == obj.ID)']
    assert outputs['ID'] == USER
    assert outputs['NextPage'] is None
    assert [method['@Odata.Type'] for method in outputs['Methods']] == [
        '#microsoft.graph.passwordAuthenticationMethod', '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod',
        '#microsoft.graph.temporaryAccessPassAuthenticationMethod']
    assert outputs['Methods'][0] == {'@Odata.Type': '#microsoft.graph.passwordAuthenticationMethod',
                                     'ID': '28c10230-6103-485e-b985-444c60001490', 'Password': None,
                                     'CreatedDateTime': '2022-09-01T11:20:33Z'}


def test_get_auth_methods_pages_fully(client, requests_mock):
    """D9: no longer only the first page."""
    first = load('auth_methods.json')
    first['@odata.nextLink'] = f'{AUTH}/methods?$skiptoken=abc'
    requests_mock.get(f'{AUTH}/methods', [{'json': first}, {'json': {'value': [{'id': 'last'}]}}])

    result = entry(run(client, 'msgraph-user-get-auth-methods', {'user': USER, 'all_results': 'true'}))

    assert [request.url for request in requests_mock.request_history] == [
        f'{AUTH}/methods', f'{AUTH}/methods?$skiptoken=abc']
    outputs = result['EntryContext']['MSGraphUserAuthMethods(val.ID && val.ID == obj.ID)']
    assert [method['ID'] for method in outputs['Methods']][-1] == 'last'


def test_get_auth_methods_user_not_found(client, requests_mock):
    requests_mock.get(f'{AUTH}/methods', **graph_error(404, 'error_user_not_found.json'))

    assert entry(run(client, 'msgraph-user-get-auth-methods', {'user': USER}))['HumanReadable'] == (
        f'#### User -> {USER} does not exist')

    client.handle_error = False
    with pytest.raises(MicrosoftApiModule.GraphError):
        run(client, 'msgraph-user-get-auth-methods', {'user': USER})


def test_get_auth_methods_throttled(client, requests_mock, sleeps):
    requests_mock.get(f'{AUTH}/methods', [
        {'status_code': 503, 'headers': {'Retry-After': '2'}, 'json': load('error_throttled.json')},
        {'json': load('auth_methods.json')}])

    run(client, 'msgraph-user-get-auth-methods', {'user': USER})

    assert sleeps == [2.0]


@pytest.mark.parametrize('args, argument', [({'user': ''}, 'user'), ({'limit': '-1'}, 'limit'),
                                            ({'next_page': GRAPH_V1.replace('https:', 'http:')}, 'next_page')])
def test_get_auth_methods_bad_input(client, requests_mock, args, argument):
    with pytest.raises(ValueError, match=f'"{argument}"'):
        run(client, 'msgraph-user-get-auth-methods', {'user': USER, **args})

    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-owned-devices-list
# ---------------------------------------------------------------------------------------------------------------

def test_owned_devices_list(client, requests_mock):
    body = load('owned_devices_page1.json')
    del body['@odata.nextLink']
    requests_mock.get(f'{GRAPH_V1}/users/{USER}/ownedDevices', json=body)

    result = entry(run(client, 'msgraph-user-owned-devices-list', {'user': USER}))

    request = requests_mock.request_history[0]
    # D20: no empty $filter and no advanced-query pair without a filter.
    assert (request.method, request.url) == ('GET', f'{GRAPH_V1}/users/{USER}/ownedDevices?$top=50')
    assert 'ConsistencyLevel' not in request.headers
    assert_graph_headers(request)
    assert result['HumanReadable'] == (
        f'### Owned Devices for User {USER}:\n'
        '|Device Id|Azure Device Registration Id|Device Display Name|\n'
        '|---|---|---|\n'
        '| 9c1e2a55-0b7e-4f93-8e0c-54d1a3e2b7f0 | e3b5c1f2-7d4a-4b8e-a1c9-0f2d6e8b4a17 | WIN-DESK-0142 |\n'
        '| 4f6d8b2a-91c3-4e57-b0a8-3c2e1d9f7a66 | a7c9e1b3-5d2f-4a6c-8e0b-1f3d5b7a9c2e | Pixel 8 |\n')
    owner = result['EntryContext']['MSGraphUser(val.ID && val.ID == obj.ID)']
    # D8: both the runtime key `Id` and the declared `ID`.
    assert (owner['ID'], owner['Id']) == (USER, USER)
    assert owner['OwnedDevice'][0]['DeviceId'] == 'e3b5c1f2-7d4a-4b8e-a1c9-0f2d6e8b4a17'
    assert owner['OwnedDevice'][0]['@Odata.Type'] == '#microsoft.graph.device'
    assert owner['OwnedDevice'][0]['PhysicalIds'] == ['[USER-GID]:5f3a9c2e:6825760017026364']
    assert result['EntryContext']['MSGraphUser.OwnedDevice(val.NextPage !== undefined)'] == {'NextPage': None}


def test_owned_devices_with_filter_sends_the_advanced_query_pair_on_every_page(client, requests_mock):
    first = load('owned_devices_page1.json')
    link = f"{GRAPH_V1}/users/{USER}/ownedDevices?$filter=operatingSystem%20eq%20'Windows'&$count=true&$skiptoken=x1"
    first['@odata.nextLink'] = link
    requests_mock.get(f'{GRAPH_V1}/users/{USER}/ownedDevices', [{'json': first},
                                                                {'json': load('owned_devices_page2.json')}])

    result = entry(run(client, 'msgraph-user-owned-devices-list',
                       {'user': USER, 'filter': "operatingSystem eq 'Windows'", 'limit': '3'}))

    assert [request.url for request in requests_mock.request_history] == [
        f"{GRAPH_V1}/users/{USER}/ownedDevices?$filter=operatingSystem%20eq%20%27Windows%27&$count=true&$top=3",
        link]
    assert [request.headers.get('ConsistencyLevel') for request in requests_mock.request_history] == [
        'eventual', 'eventual']
    assert len(result['EntryContext']['MSGraphUser(val.ID && val.ID == obj.ID)']['OwnedDevice']) == 3


def test_owned_devices_cursor(client, requests_mock):
    first = load('owned_devices_page1.json')
    requests_mock.get(f'{GRAPH_V1}/users/{USER}/ownedDevices', json=first)

    result = entry(run(client, 'msgraph-user-owned-devices-list', {'user': USER, 'limit': '2'}))

    link = first['@odata.nextLink']
    assert result['EntryContext']['MSGraphUser.OwnedDevice(val.NextPage !== undefined)'] == {'NextPage': link}
    assert result['HumanReadable'].splitlines()[1:3] == [
        'To get further results, enter this to the next_page argument:', link]


@pytest.mark.parametrize('link, consistency', [
    (f'{GRAPH_V1}/users/{USER}/ownedDevices?$top=2&$skiptoken=abc', None),
    (f"{GRAPH_V1}/users/{USER}/ownedDevices?%24filter=trustType%20eq%20'AzureAd'&%24count=true&$skiptoken=a",
     'eventual'),
])
def test_owned_devices_next_page(client, requests_mock, link, consistency):
    requests_mock.get(link, json=load('owned_devices_page2.json'))

    run(client, 'msgraph-user-owned-devices-list', {'user': USER, 'next_page': link})

    request = requests_mock.request_history[0]
    assert request.url == link
    assert request.headers.get('ConsistencyLevel') == consistency


def test_owned_devices_empty(client, requests_mock):
    requests_mock.get(f'{GRAPH_V1}/users/{USER}/ownedDevices', json={'value': []})

    result = entry(run(client, 'msgraph-user-owned-devices-list', {'user': USER}))

    assert result['HumanReadable'] == f'No owned devices found for user {USER}.'
    assert not result['EntryContext']


def test_owned_devices_not_found(client, requests_mock):
    requests_mock.get(f'{GRAPH_V1}/users/{USER}/ownedDevices', **graph_error(404, 'error_user_not_found.json'))

    assert entry(run(client, 'msgraph-user-owned-devices-list', {'user': USER}))['HumanReadable'] == (
        f'#### User -> {USER} does not exist')
    client.handle_error = False
    with pytest.raises(MicrosoftApiModule.GraphError):
        run(client, 'msgraph-user-owned-devices-list', {'user': USER})


def test_owned_devices_throttled(client, requests_mock, sleeps):
    requests_mock.get(f'{GRAPH_V1}/users/{USER}/ownedDevices', [
        {'status_code': 429, 'headers': {'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT'},
         'json': load('error_throttled.json')},
        {'json': {'value': []}}])

    run(client, 'msgraph-user-owned-devices-list', {'user': USER})

    assert requests_mock.call_count == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize('args, argument', [({'user': ''}, 'user'), ({'limit': 'x'}, 'limit'),
                                            ({'next_page': 'https://attacker.example/x'}, 'next_page')])
def test_owned_devices_bad_input(client, requests_mock, args, argument):
    with pytest.raises(ValueError, match=f'"{argument}"'):
        run(client, 'msgraph-user-owned-devices-list', {'user': USER, **args})

    assert requests_mock.call_count == 0


# ---------------------------------------------------------------------------------------------------------------
# msgraph-user-get-user-default-auth-method (beta, per request)
# ---------------------------------------------------------------------------------------------------------------

def test_get_user_default_auth_method(client, requests_mock):
    requests_mock.get(f'{GRAPH_BETA}/users/{USER}/authentication/signInPreferences',
                      json=load('sign_in_preferences.json'))

    result = entry(run(client, 'msgraph-user-get-user-default-auth-method', {'user': USER}))

    request = requests_mock.request_history[0]
    assert (request.method, request.url) == ('GET', f'{GRAPH_BETA}/users/{USER}/authentication/signInPreferences')
    assert_graph_headers(request)
    assert result['EntryContext'] == {'MSGraphUser.AuthMethod(val.User === obj.User)': {
        'User': USER, 'DefaultMethod': 'push', 'IsSystemPreferredAuthenticationMethodEnabled': True,
        'UserPreferredMethodForSecondaryAuthentication': 'push', 'SystemPreferredAuthenticationMethod': 'push'}}
    assert result['HumanReadable'].startswith(f'### Authentication Preferences for {USER}\n')
    assert result['HumanReadable'].endswith('\n**Default Auth Method:** push')
    # D14: the beta call does not touch the shared client.
    assert client.graph_url('users') == f'{GRAPH_V1}/users'


@pytest.mark.parametrize('preferences, default', [
    ({'userPreferredMethodForSecondaryAuthentication': None, 'systemPreferredAuthenticationMethod': 'sms'}, 'sms'),
    ({'userPreferredMethodForSecondaryAuthentication': None}, 'Unknown'),
])
def test_get_user_default_auth_method_fallbacks(client, requests_mock, preferences, default):
    requests_mock.get(f'{GRAPH_BETA}/users/{USER}/authentication/signInPreferences', json=preferences)

    result = entry(run(client, 'msgraph-user-get-user-default-auth-method', {'user': USER}))

    assert result['EntryContext']['MSGraphUser.AuthMethod(val.User === obj.User)']['DefaultMethod'] == default


def test_get_user_default_auth_method_not_found_and_bad_input(client, requests_mock):
    requests_mock.get(f'{GRAPH_BETA}/users/{USER}/authentication/signInPreferences',
                      **graph_error(404, 'error_user_not_found.json'))

    assert entry(run(client, 'msgraph-user-get-user-default-auth-method', {'user': USER}))['HumanReadable'] == (
        f'#### User -> {USER} does not exist')
    with pytest.raises(ValueError, match='"user"'):
        run(client, 'msgraph-user-get-user-default-auth-method', {'user': 'a/b\x00'})
    assert requests_mock.call_count == 1


# ---------------------------------------------------------------------------------------------------------------
# Hidden MFA commands
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('command, args', [
    ('msgraph-user-create-mfa-client-secret', {}),
    ('msgraph-user-create-mfa-client-access-token', {'client_secret': 'test-mfa-client-secret'}),
    ('msgraph-user-request-mfa', {'user_mail': UPN}),  # no access_token given and none kept: it would mint one
])
def test_mfa_commands_are_gated(client, requests_mock, command, args):
    with pytest.raises(DemistoException) as error:
        run(client, command, args)

    assert str(error.value) == GATE_MESSAGE
    assert requests_mock.call_count == 0


@pytest.mark.parametrize('command, args', [
    ('msgraph-user-create-mfa-client-secret', {}),
    ('msgraph-user-create-mfa-client-access-token', {'client_secret': 'test-mfa-client-secret'}),
    ('msgraph-user-request-mfa', {'user_mail': UPN, 'access_token': 'test-mfa-token'}),
])
def test_mfa_commands_refuse_national_clouds(monkeypatch, requests_mock, command, args):
    client = make_client(monkeypatch, azure_cloud='US GCC-High', allow_secret_generators=True)

    with pytest.raises(DemistoException, match='only on the Worldwide cloud.*US GCC-High'):
        run(client, command, args)

    assert requests_mock.call_count == 0


CUSTOM_GRAPH, CUSTOM_LOGIN = 'https://graph.private.example', 'https://login.private.example'


def test_mfa_secret_and_token_commands_use_the_hosts_of_a_custom_cloud(monkeypatch, requests_mock):
    """A Custom cloud names its own hosts (a private endpoint, a proxy): the secret and token commands use them."""
    client = make_client(monkeypatch, azure_cloud='Custom', host=CUSTOM_GRAPH, login_host=CUSTOM_LOGIN,
                         allow_secret_generators=True)
    requests_mock.get(f'{CUSTOM_GRAPH}/v1.0/servicePrincipals', json=load('service_principals.json'))
    requests_mock.post(f'{CUSTOM_GRAPH}/v1.0/servicePrincipals/7b1d9e3f-5a2c-4d8e-b6f0-9c4a2e1d3b58/addPassword',
                       json=load('add_password.json'))
    requests_mock.post(f'{CUSTOM_LOGIN}/{TENANT}/oauth2/token', json=load('mfa_token.json'))

    run(client, 'msgraph-user-create-mfa-client-secret', {})
    run(client, 'msgraph-user-create-mfa-client-access-token', {})

    assert [(request.method, request.url.split('?')[0]) for request in requests_mock.request_history] == [
        ('GET', f'{CUSTOM_GRAPH}/v1.0/servicePrincipals'),
        ('POST', f'{CUSTOM_GRAPH}/v1.0/servicePrincipals/7b1d9e3f-5a2c-4d8e-b6f0-9c4a2e1d3b58/addPassword'),
        ('POST', f'{CUSTOM_LOGIN}/{TENANT}/oauth2/token')]


def test_request_mfa_on_a_custom_cloud_needs_the_worldwide_login_host(monkeypatch, requests_mock):
    """The MFA service has one worldwide address that accepts only worldwide tokens."""
    args = {'user_mail': UPN, 'access_token': 'test-mfa-token'}
    private = make_client(monkeypatch, azure_cloud='Custom', host=CUSTOM_GRAPH, login_host=CUSTOM_LOGIN,
                          allow_secret_generators=True)

    with pytest.raises(DemistoException, match=f'accepts only tokens of https://login.microsoftonline.com, and this '
                                               f'Custom cloud signs in at {CUSTOM_LOGIN}'):
        run(private, 'msgraph-user-request-mfa', args)
    assert requests_mock.call_count == 0

    worldwide_hosts = make_client(monkeypatch, azure_cloud='Custom', host=CUSTOM_GRAPH,
                                  login_host='https://login.microsoftonline.com/', allow_secret_generators=True)
    requests_mock.post(EXPECTED_MFA_URL, text=load('mfa_approved.xml'))

    assert entry(run(worldwide_hosts, 'msgraph-user-request-mfa', args))['HumanReadable'] == \
        'Status: User Approved MFA Request'


def test_create_mfa_client_secret(mfa_client, requests_mock):
    requests_mock.get(f'{GRAPH_V1}/servicePrincipals', json=load('service_principals.json'))
    requests_mock.post(f'{GRAPH_V1}/servicePrincipals/7b1d9e3f-5a2c-4d8e-b6f0-9c4a2e1d3b58/addPassword',
                       json=load('add_password.json'))
    secret = load('add_password.json')['secretText']

    result = entry(run(mfa_client, 'msgraph-user-create-mfa-client-secret', {}))

    lookup, add = requests_mock.request_history
    # D6: $filter/$select are encoded query parameters, the app id an OData literal.
    assert (lookup.method, lookup.url) == (
        'GET', f"{GRAPH_V1}/servicePrincipals?$filter=appId%20eq%20%27{MFA_APP_ID}%27&$select=id")
    assert_graph_headers(lookup)
    assert (add.method, add.url) == ('POST', f'{GRAPH_V1}/servicePrincipals/7b1d9e3f-5a2c-4d8e-b6f0-9c4a2e1d3b58/'
                                             'addPassword')
    assert_graph_headers(add, body=True)
    assert add.json() == {'passwordCredential': {'displayName': 'MFA App Secret'}}
    assert result['HumanReadable'] == ('A new client secret has been added. Note you might need to wait 30-60 seconds '
                                       'before the secret will be activated.')
    # D5: the secret is kept in the integration context and masked, never in the entry or incident context.
    assert result['EntryContext'] == {'MSGraphUser.MFAClientSecret': {'ValidFrom': '2024-05-21T08:00:00Z',
                                                                      'ValidUntil': '2026-05-21T08:00:00Z'}}
    assert secret not in json.dumps(result)
    assert MicrosoftApiModule.get_integration_context()['mfa']['client_secret'] == secret
    assert secret in LOG.replace_strs


def test_create_mfa_client_secret_service_principal_missing(mfa_client, requests_mock):
    requests_mock.get(f'{GRAPH_V1}/servicePrincipals', json={'value': []})

    with pytest.raises(DemistoException, match=f'^Error: Service Principal with appId {MFA_APP_ID} not found.$'):
        run(mfa_client, 'msgraph-user-create-mfa-client-secret', {})

    assert requests_mock.call_count == 1


def test_create_mfa_client_secret_throttled(mfa_client, requests_mock, sleeps):
    requests_mock.get(f'{GRAPH_V1}/servicePrincipals', [
        {'status_code': 429, 'headers': {'Retry-After': '4'}, 'json': load('error_throttled.json')},
        {'json': load('service_principals.json')}])
    requests_mock.post(requests_mock_module.ANY, json=load('add_password.json'))

    run(mfa_client, 'msgraph-user-create-mfa-client-secret', {})

    assert sleeps == [4.0]
    assert [request.method for request in requests_mock.request_history] == ['GET', 'GET', 'POST']


def test_create_mfa_client_access_token(mfa_client, requests_mock):
    requests_mock.post(EXPECTED_TOKEN_URL, json=load('mfa_token.json'))
    token = load('mfa_token.json')['access_token']

    result = entry(run(mfa_client, 'msgraph-user-create-mfa-client-access-token', {'client_secret': 'sec&ret='}))

    request = requests_mock.request_history[0]
    assert (request.method, request.url) == ('POST', EXPECTED_TOKEN_URL)
    assert urllib.parse.parse_qs(request.body) == {
        'resource': ['https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector'],
        'client_id': [MFA_APP_ID], 'client_secret': ['sec&ret='], 'grant_type': ['client_credentials'],
        'scope': ['openid']}
    assert request.headers['Content-Type'] == 'application/x-www-form-urlencoded'
    assert 'Authorization' not in request.headers  # the Graph token never goes to the login host
    assert request.timeout == 60.0  # D6: the instance's timeout (and TLS/proxy settings, see below)
    assert result['HumanReadable'] == 'A new access token has been created.'
    assert result['EntryContext'] == {'MSGraphUser.MFAAccessToken': {'ValidUntil': 1893456000}}
    assert token not in json.dumps(result)
    state = MicrosoftApiModule.get_integration_context()['mfa']
    assert (state['access_token'], state['token_valid_until']) == (token, 1893456000)
    assert token in LOG.replace_strs and 'sec&ret=' in LOG.replace_strs


def test_mfa_calls_use_the_instance_tls_setting(monkeypatch, requests_mock):
    """D6: the MFA calls go through the instance's client, so "Trust any certificate" applies to them too."""
    client = make_client(monkeypatch, insecure=True, allow_secret_generators=True, timeout='17')
    requests_mock.post(EXPECTED_TOKEN_URL, json=load('mfa_token.json'))
    requests_mock.post(EXPECTED_MFA_URL, text=load('mfa_approved.xml'))

    run(client, 'msgraph-user-create-mfa-client-access-token', {'client_secret': 'test-mfa-client-secret'})
    run(client, 'msgraph-user-request-mfa', {'user_mail': UPN})

    assert [(request.verify, request.timeout) for request in requests_mock.request_history] == [
        (False, 17.0), (False, (17.0, 60))]


def test_create_mfa_client_access_token_uses_the_kept_secret(mfa_client, requests_mock):
    MicrosoftApiModule.set_integration_context({'mfa': {'client_secret': 'kept-secret'}, 'other': 1})
    requests_mock.post(EXPECTED_TOKEN_URL, json=load('mfa_token.json'))

    run(mfa_client, 'msgraph-user-create-mfa-client-access-token', {'client_secret': ''})

    assert urllib.parse.parse_qs(requests_mock.request_history[0].body)['client_secret'] == ['kept-secret']
    context = MicrosoftApiModule.get_integration_context()
    assert context['other'] == 1 and context['mfa']['client_secret'] == 'kept-secret'


def test_create_mfa_client_access_token_needs_a_secret(mfa_client, requests_mock):
    with pytest.raises(ValueError, match='"client_secret"'):
        run(mfa_client, 'msgraph-user-create-mfa-client-access-token', {})

    assert requests_mock.call_count == 0


def test_create_mfa_client_access_token_refused_in_oproxy_mode(monkeypatch, requests_mock):
    client = make_client(monkeypatch, self_deployed=False, allow_secret_generators=True,
                         creds_enc_key={'identifier': '', 'password': base64.b64encode(b'k' * 32).decode()})
    assert client.settings.mode == 'oproxy'

    with pytest.raises(DemistoException, match='oproxy'):
        run(client, 'msgraph-user-create-mfa-client-access-token', {'client_secret': 'test-mfa-client-secret'})

    assert requests_mock.call_count == 0


def test_create_mfa_client_access_token_error(mfa_client, requests_mock):
    requests_mock.post(EXPECTED_TOKEN_URL, status_code=401, json=load('mfa_token_error.json'))

    with pytest.raises(DemistoException) as error:
        run(mfa_client, 'msgraph-user-create-mfa-client-access-token', {'client_secret': 'wrong-secret'})

    assert str(error.value).startswith('Error obtaining access token: invalid_client\nResponse: AADSTS7000215:')
    assert 'wrong-secret' not in str(error.value)


def mfa_request_values(request) -> dict:
    root = ElementTree.fromstring(request.body)
    return {element.tag: element.text for element in root.iter()}


def test_request_mfa_approved(mfa_client, requests_mock):
    requests_mock.post(EXPECTED_MFA_URL, text=load('mfa_approved.xml'))

    result = entry(run(mfa_client, 'msgraph-user-request-mfa',
                       {'user_mail': UPN, 'access_token': 'given-token', 'timeout': '30'}))

    request = requests_mock.request_history[0]
    # D22: one slash before BeginTwoWayAuthentication.
    assert (request.method, request.url) == ('POST', EXPECTED_MFA_URL)
    assert request.headers['Authorization'] == 'Bearer given-token'
    assert request.headers['Content-Type'] == 'application/xml'
    assert request.timeout == (60.0, 30)
    values = mfa_request_values(request)
    ns = '{http://schemas.microsoft.com/2003/10/Serialization/Arrays}'
    assert values['UserPrincipalName'] == UPN
    assert (values['Version'], values['Lcid'], values['SyncCall'], values['RequireUserMatch'],
            values['CallerName'], values['CallerIP']) == ('1.0', 'en-us', 'true', 'true', 'radius', 'UNKNOWN:')
    assert (values[f'{ns}Key'], values[f'{ns}Value']) == ('OverrideVoiceOtp', 'false')
    assert uuid.UUID(values['ContextId'])
    assert result['HumanReadable'] == 'Status: User Approved MFA Request'
    assert not result['EntryContext']


def test_request_mfa_escapes_a_hostile_upn(mfa_client, requests_mock):
    """D6: the UPN is an escaped text node; it cannot add elements or break the document."""
    hostile = 'x</UserPrincipalName><SyncCall>false</SyncCall><a b="&amp;">"\'&<!--@evil.example'
    requests_mock.post(EXPECTED_MFA_URL, text=load('mfa_approved.xml'))

    run(mfa_client, 'msgraph-user-request-mfa', {'user_mail': hostile, 'access_token': 'test-mfa-token'})

    body = requests_mock.request_history[0].body
    assert b'<SyncCall>false' not in body
    values = mfa_request_values(requests_mock.request_history[0])
    assert values['UserPrincipalName'] == hostile
    assert values['SyncCall'] == 'true'
    root = ElementTree.fromstring(body)
    assert [child.tag for child in root] == ['Version', 'UserPrincipalName', 'Lcid', 'AuthenticationMethodProperties',
                                             'ContextId', 'SyncCall', 'RequireUserMatch', 'CallerName', 'CallerIP']


@pytest.mark.parametrize('answer, message', [
    ('mfa_denied.xml', 'Status: User Denied Request'),
    ('mfa_no_response.xml', 'Status: MFA Request Timed Out'),
    ('mfa_failed.xml', 'Status: MFA Request Failed - The user was not found in the MFA service.'),
])
def test_request_mfa_not_approved(mfa_client, requests_mock, answer, message):
    requests_mock.post(EXPECTED_MFA_URL, text=load(answer))

    with pytest.raises(DemistoException) as error:
        run(mfa_client, 'msgraph-user-request-mfa', {'user_mail': UPN, 'access_token': 'test-mfa-token'})

    assert str(error.value) == f'Failed to pop MFA request for user {UPN}: {message}'


def test_request_mfa_service_error(mfa_client, requests_mock):
    requests_mock.post(EXPECTED_MFA_URL, status_code=401, text='<Fault>Unauthorized</Fault>')

    with pytest.raises(DemistoException, match=f'^Failed to pop MFA request for user {UPN}: .*401'):
        run(mfa_client, 'msgraph-user-request-mfa', {'user_mail': UPN, 'access_token': 'expired-token'})


def test_request_mfa_obtains_and_caches_its_token(mfa_client, requests_mock, monkeypatch):
    """D5: without access_token the command gets a token from the kept secret once, then reuses it."""
    monkeypatch.setattr(integration.time, 'time', lambda: 1_800_000_000.0)
    MicrosoftApiModule.set_integration_context({'mfa': {'client_secret': 'kept-secret'}})
    requests_mock.post(EXPECTED_TOKEN_URL, json=load('mfa_token.json'))
    requests_mock.post(EXPECTED_MFA_URL, text=load('mfa_approved.xml'))
    token = load('mfa_token.json')['access_token']

    run(mfa_client, 'msgraph-user-request-mfa', {'user_mail': UPN})
    mfa_client.allow_secret_generators = False  # a kept, valid token needs no secret generation
    run(mfa_client, 'msgraph-user-request-mfa', {'user_mail': UPN, 'access_token': ''})

    assert [request.url for request in requests_mock.request_history] == [
        EXPECTED_TOKEN_URL, EXPECTED_MFA_URL, EXPECTED_MFA_URL]
    assert requests_mock.request_history[1].headers['Authorization'] == f'Bearer {token}'
    assert requests_mock.request_history[2].headers['Authorization'] == f'Bearer {token}'


def test_request_mfa_renews_an_expired_token(mfa_client, requests_mock, monkeypatch):
    monkeypatch.setattr(integration.time, 'time', lambda: 1_893_456_000.0 - 60)
    MicrosoftApiModule.set_integration_context({'mfa': {'client_secret': 'kept-secret', 'access_token': 'old',
                                                        'token_valid_until': 1_893_456_000}})
    requests_mock.post(EXPECTED_TOKEN_URL, json=load('mfa_token.json'))
    requests_mock.post(EXPECTED_MFA_URL, text=load('mfa_approved.xml'))

    run(mfa_client, 'msgraph-user-request-mfa', {'user_mail': UPN})

    assert requests_mock.request_history[0].url == EXPECTED_TOKEN_URL


def test_request_mfa_without_a_kept_secret(mfa_client, requests_mock):
    with pytest.raises(DemistoException, match='msgraph-user-create-mfa-client-secret'):
        run(mfa_client, 'msgraph-user-request-mfa', {'user_mail': UPN})

    assert requests_mock.call_count == 0


@pytest.mark.parametrize('args, argument', [
    ({'user_mail': ''}, 'user_mail'),
    ({'user_mail': 'kim\x0b@x.example'}, 'user_mail'),
    ({'user_mail': 'kim\x00@x.example'}, 'user_mail'),
    ({'timeout': '0'}, 'timeout'),
    ({'timeout': '241'}, 'timeout'),
    ({'timeout': 'soon'}, 'timeout'),
])
def test_request_mfa_bad_input(mfa_client, requests_mock, args, argument):
    with pytest.raises(ValueError, match=f'"{argument}"'):
        run(mfa_client, 'msgraph-user-request-mfa', {'user_mail': UPN, 'access_token': 'test-mfa-token', **args})

    assert requests_mock.call_count == 0


def test_mfa_secret_and_token_never_reach_entries_or_logs(monkeypatch, requests_mock):
    """Through the entry point: the minted secret and token appear in no entry and no log line."""
    monkeypatch.setattr(integration.Client, 'get_access_token', lambda self, *args, **kwargs: TEST_ACCESS_TOKEN)
    params = {**CLIENT_CREDENTIALS_PARAMS, 'allow_secret_generators': True}
    requests_mock.get(f'{GRAPH_V1}/servicePrincipals', json=load('service_principals.json'))
    requests_mock.post(requests_mock_module.ANY, json=load('add_password.json'))
    secret = load('add_password.json')['secretText']
    demisto.set_invocation('msgraph-user-create-mfa-client-secret', {}, params, is_debug_mode=True)
    integration.run_command('msgraph-user-create-mfa-client-secret', params, {})
    requests_mock.post(EXPECTED_TOKEN_URL, json=load('mfa_token.json'))
    token = load('mfa_token.json')['access_token']
    demisto.set_invocation('msgraph-user-create-mfa-client-access-token', {}, params, is_debug_mode=True)
    integration.run_command('msgraph-user-create-mfa-client-access-token', params, {})

    entries = json.dumps(demisto.collected_results())
    logs = '\n'.join(demisto.log_lines())
    assert 'A new access token has been created.' in entries
    assert urllib.parse.parse_qs(requests_mock.request_history[-1].body)['client_secret'] == [secret]
    for value in (secret, token):
        assert value not in entries and value not in logs


def test_gate_message_as_an_error_entry(monkeypatch, requests_mock):
    monkeypatch.setattr(integration.Client, 'get_access_token', lambda self, *args, **kwargs: TEST_ACCESS_TOKEN)
    demisto.set_invocation('msgraph-user-create-mfa-client-secret', {}, CLIENT_CREDENTIALS_PARAMS)

    with pytest.raises(SystemExit):
        integration.run_command('msgraph-user-create-mfa-client-secret', dict(CLIENT_CREDENTIALS_PARAMS), {})

    [error_entry] = demisto.collected_results()
    assert error_entry['Type'] == 4
    assert error_entry['Contents'].endswith(GATE_MESSAGE)


# ---------------------------------------------------------------------------------------------------------------
# Registration: dispatch table, yml and import cost
# ---------------------------------------------------------------------------------------------------------------

OWN_COMMANDS = {
    'msgraph-user-tap-policy-list', 'msgraph-user-tap-policy-create', 'msgraph-user-tap-policy-delete',
    'msgraph-user-get-auth-methods', 'msgraph-user-owned-devices-list', 'msgraph-user-request-mfa',
    'msgraph-user-get-user-default-auth-method', 'msgraph-user-create-mfa-client-secret',
    'msgraph-user-create-mfa-client-access-token',
    *(f'msgraph-user-{name}-method-{action}' for name in METHOD_IDS for action in ('list', 'delete'))}


@pytest.fixture(scope='module')
def yml_commands() -> dict[str, dict]:
    import yaml

    document = yaml.safe_load((pathlib.Path(integration.__file__).parent / 'MicrosoftGraphUser.yml').read_text())
    return {command['name']: command for command in document['script']['commands']}


def test_every_command_is_dispatched_and_declared(yml_commands):
    assert set(integration.AUTH_METHOD_COMMANDS) == OWN_COMMANDS
    assert OWN_COMMANDS <= set(integration.COMMANDS)
    assert OWN_COMMANDS <= set(yml_commands)


def test_yml_flags(yml_commands):
    hidden = {'msgraph-user-request-mfa', 'msgraph-user-get-user-default-auth-method',
              'msgraph-user-create-mfa-client-secret', 'msgraph-user-create-mfa-client-access-token'}
    execution = {name for name in OWN_COMMANDS if name.endswith('-delete')} | {
        'msgraph-user-tap-policy-create', 'msgraph-user-create-mfa-client-secret',
        'msgraph-user-create-mfa-client-access-token'}
    for name in OWN_COMMANDS:
        command = yml_commands[name]
        assert bool(command.get('hidden')) == (name in hidden), name
        assert bool(command.get('execution')) == (name in execution), name
        assert command['description'].strip(), name
        for argument in command.get('arguments') or []:
            assert argument.get('description'), (name, argument['name'])
            secret = argument['name'] in ('zip_password', 'client_secret', 'access_token')
            assert bool(argument.get('secret')) == secret, (name, argument['name'])
        for output in command.get('outputs') or []:
            assert output['type'] in ('String', 'Number', 'Boolean', 'Date', 'Unknown'), output


def test_list_commands_declare_paging(yml_commands):
    for name in OWN_COMMANDS:
        if name.endswith('-method-list') or name in ('msgraph-user-get-auth-methods',
                                                     'msgraph-user-owned-devices-list'):
            arguments = {argument['name']: argument for argument in yml_commands[name]['arguments']}
            assert arguments['limit']['defaultValue'] == '50', name
            assert {'next_page', 'all_results'} <= set(arguments), name
            assert any(output['contextPath'].endswith('.NextPage') for output in yml_commands[name]['outputs'])


def test_pyzipper_is_not_imported_at_module_level():
    tree = ast.parse(pathlib.Path(integration.__file__).read_text())
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = {alias.name for node in top_level for alias in node.names} | {
        node.module for node in top_level if isinstance(node, ast.ImportFrom)}
    assert not names & {'pyzipper', 'msal', 'cryptography'}
