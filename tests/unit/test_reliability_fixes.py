"""Failures found by `make reliability` (reliability/README.md, "Failures found and fixed"), each pinned by a test
that fails on the behaviour before the fix: through the entry point as the server runs it, with requests-mock."""
from __future__ import annotations

import urllib.parse
from typing import Any

import CommonServerPython
import demistomock as demisto
import pytest

import MicrosoftApiModule
import MicrosoftGraphUser as integration
from tests.common import CLIENT_CREDENTIALS_PARAMS, GRAPH_V1, TEST_ACCESS_TOKEN, run_entry_point

GRAPH = 'https://graph.microsoft.com'
USER_ID = '87d349ed-44d7-43e1-9a83-5f2406dee5bd'


@pytest.fixture(autouse=True)
def cached_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid token in the integration context, so the runs below send only Graph requests."""
    demisto.reset()
    key = MicrosoftApiModule.AuthSettings.from_params(CLIENT_CREDENTIALS_PARAMS).cache_key()
    demisto.set_context_store(demisto.MemoryContextStore(
        {'ms_auth': {key: {'access_token': TEST_ACCESS_TOKEN, 'valid_until': 4e9}}}))
    monkeypatch.setattr(MicrosoftApiModule, 'ms_sleep', lambda seconds: None)
    monkeypatch.setattr(integration, 'ms_sleep', lambda seconds: None)


def run(command: str, args: dict[str, Any]) -> list[dict]:
    return run_entry_point(command, args)


def error_text(entries: list[dict]) -> str:
    errors = [entry['Contents'] for entry in entries if entry['Type'] == CommonServerPython.EntryType.ERROR]
    assert errors, entries
    return errors[0]


# ---------------------------------------------------------------------------------------------------------------
# Link arguments are requested verbatim with the instance's token: they may address only the command's own data
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('command, args, link', [
    ('msgraph-user-list', {}, f'{GRAPH_V1}/groups'),
    ('msgraph-user-list', {}, f'{GRAPH_V1}/users/x/messages'),
    ('msgraph-direct-reports', {'user': 'adele@contoso.com'}, f'{GRAPH_V1}/users/x/../../me/messages'),
    ('msgraph-direct-reports', {'user': 'adele@contoso.com'}, f'{GRAPH_V1}/users/x/%2E%2E/%2E%2E/me/messages'),
    ('msgraph-user-get-groups', {'user': 'adele@contoso.com'}, f'{GRAPH_V1}/users/x/directReports'),
    ('msgraph-user-get-delta', {}, f'{GRAPH_V1}/groups/delta?$deltatoken=x'),
    ('msgraph-user-change-password-on-premise', {'user': 'adele@contoso.com'},
     f'{GRAPH_V1}/users/x/authentication/methods'),
])
def test_a_link_to_another_resource_is_refused_before_any_request(requests_mock: Any, command: str,
                                                                   args: dict, link: str) -> None:
    name = {'msgraph-user-get-delta': 'delta_link', 'msgraph-user-change-password-on-premise': 'polling_url'}.get(
        command, 'next_page')

    text = error_text(run(command, {**args, name: link}))

    assert f'"{name}"' in text
    assert requests_mock.request_history == []


@pytest.mark.parametrize('command, args, link', [
    ('msgraph-user-list', {}, f'{GRAPH_V1}/users?$select=id&$skiptoken=abc'),
    # Graph's links may name the user by object id where the command was given a UPN.
    ('msgraph-user-get-groups', {'user': 'adele@contoso.com'}, f'{GRAPH_V1}/users/{USER_ID}/memberOf?$skiptoken=a'),
    ('msgraph-user-get-delta', {}, f'{GRAPH_V1}/users/delta?$deltatoken=abc'),
    ('msgraph-user-change-password-on-premise', {'user': 'adele@contoso.com'},
     f'{GRAPH}/beta/users/{USER_ID}/authentication/operations/op-1?aadgdc=BY01P'),
])
def test_a_link_that_continues_the_commands_own_read_is_followed_verbatim(requests_mock: Any, command: str,
                                                                          args: dict, link: str) -> None:
    name = {'msgraph-user-get-delta': 'delta_link', 'msgraph-user-change-password-on-premise': 'polling_url'}.get(
        command, 'next_page')
    requests_mock.get(link, json={'value': [], 'status': 'succeeded', '@odata.deltaLink': link})

    entries = run(command, {**args, name: link})

    assert not [entry for entry in entries if entry['Type'] == CommonServerPython.EntryType.ERROR], entries
    assert [request.url for request in requests_mock.request_history] == [link]


# ---------------------------------------------------------------------------------------------------------------
# The not-found check addresses the user the command addressed (the value is stripped, as the command stripped it)
# ---------------------------------------------------------------------------------------------------------------

def test_the_existence_check_after_a_404_addresses_the_same_user(requests_mock: Any) -> None:
    method_url = f'{GRAPH_V1}/users/adele%40contoso.com/authentication/fido2Methods/m-1'
    requests_mock.delete(method_url, status_code=404, json={'error': {'code': 'itemNotFound', 'message': 'x'}})
    exists = requests_mock.get(f'{GRAPH_V1}/users/adele%40contoso.com?%24select=id', json={'id': USER_ID})

    entries = run('msgraph-user-fido2-method-delete', {'user': '  adele@contoso.com ', 'method_id': ' m-1'})

    assert exists.called
    assert entries[0]['HumanReadable'] == '#### Did not find the method_id m-1 for user adele@contoso.com'


# ---------------------------------------------------------------------------------------------------------------
# Wrong types and text that cannot be encoded: a clear error entry naming the argument, not an internal error
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('delimiter', [5, ['a', 'b'], {'x': 1}])
def test_a_delimiter_that_is_not_text_is_named(requests_mock: Any, delimiter: Any) -> None:
    text = error_text(run('msgraph-user-update', {'user': 'adele@contoso.com', 'updated_fields': 'jobTitle=x',
                                                  'updated_fields_delimiter': delimiter}))

    assert 'The "updated_fields_delimiter" argument must be text' in text
    assert requests_mock.request_history == []


@pytest.mark.parametrize('command, args, name', [
    ('msgraph-user-list', {'properties': 'displayName,\udfff'}, 'properties'),
    ('msgraph-user-get-delta', {'properties': '\ud800'}, 'properties'),
    ('msgraph-user-get-groups', {'user': '\udfff'}, 'user'),
])
def test_a_lone_surrogate_is_refused_naming_the_argument(requests_mock: Any, command: str, args: dict,
                                                         name: str) -> None:
    text = error_text(run(command, args))

    assert f'The "{name}" argument is not valid unicode text' in text
    assert requests_mock.request_history == []


def test_encode_path_segment_names_the_argument_of_a_lone_surrogate() -> None:
    with pytest.raises(ValueError, match='"method_id" argument is not valid unicode'):
        MicrosoftApiModule.encode_path_segment('a\ud800b', 'method_id')
    assert MicrosoftApiModule.encode_path_segment('a\U0001f642', 'x') == urllib.parse.quote('a\U0001f642', safe='')


# ---------------------------------------------------------------------------------------------------------------
# An MFA token with a managed identity: say why it cannot work, not that a "tenant_id argument" is empty
# ---------------------------------------------------------------------------------------------------------------

def test_mfa_token_under_a_managed_identity_says_why_it_cannot_work(requests_mock: Any) -> None:
    params = {'azure_cloud': 'Worldwide', 'use_managed_identities': True, 'allow_secret_generators': True,
              'managed_identities_client_id': {'identifier': '', 'password': ''}}
    demisto.set_invocation('msgraph-user-create-mfa-client-access-token', {'client_secret': 'mfa-secret'}, params)
    try:
        integration.run_command('msgraph-user-create-mfa-client-access-token', params, {'client_secret': 'mfa-secret'})
    except SystemExit:
        pass

    text = error_text(demisto.collected_results())
    assert 'cannot be created with an Azure managed identity' in text
    assert '"tenant_id" argument' not in text
    assert requests_mock.request_history == []


# ---------------------------------------------------------------------------------------------------------------
# Faults: every error names its cause and the id it can be traced by
# ---------------------------------------------------------------------------------------------------------------

TENANT = '66666666-7777-8888-9999-000000000000'  # CLIENT_CREDENTIALS_PARAMS' tenant
AUTHORITY = f'https://login.microsoftonline.com/{TENANT}'
TOKEN_URL = f'{AUTHORITY}/oauth2/v2.0/token'
AUTH_CODE_PARAMS = {**CLIENT_CREDENTIALS_PARAMS, 'creds_auth_code': {'identifier': '', 'password': 'code-1'},
                    'redirect_uri': 'https://localhost/myapp'}
ENTRA_503 = {'error': 'temporarily_unavailable', 'error_description': 'AADSTS90033: A transient error has occurred. '
             'Please try again.\r\nTrace ID: t-1\r\nCorrelation ID: c-1', 'error_codes': [90033],
             'trace_id': 't-1', 'correlation_id': 'c-1'}


def login(requests_mock: Any, *responses: dict) -> Any:
    requests_mock.get(f'{AUTHORITY}/v2.0/.well-known/openid-configuration', json={
        'token_endpoint': TOKEN_URL, 'authorization_endpoint': f'{AUTHORITY}/oauth2/v2.0/authorize',
        'issuer': f'{AUTHORITY}/v2.0'})
    return requests_mock.post(TOKEN_URL, list(responses))


def empty_context() -> None:
    demisto.set_context_store(demisto.MemoryContextStore())


def client(params: dict = CLIENT_CREDENTIALS_PARAMS) -> MicrosoftApiModule.MicrosoftClient:
    return MicrosoftApiModule.MicrosoftClient(MicrosoftApiModule.AuthSettings.from_params(params))


def test_a_transport_error_names_the_client_request_id(requests_mock: Any) -> None:
    requests_mock.get(f'{GRAPH_V1}/users', exc=MicrosoftApiModule.requests.exceptions.ConnectionError('reset'))

    with pytest.raises(CommonServerPython.DemistoException) as error:
        client().http_request('GET', 'users')

    sent = requests_mock.last_request.headers['client-request-id']
    assert f'(client-request-id {sent})' in str(error.value)


def test_a_read_timeout_after_urllib3_retries_is_named_a_timeout() -> None:
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    url = '/metadata/identity/oauth2/token'
    timed_out = ReadTimeoutError(None, url, 'Read timed out. (read timeout=1.0)')  # type: ignore[arg-type]
    wrapped = MicrosoftApiModule.requests.exceptions.ConnectionError(
        MaxRetryError(None, url, timed_out))  # type: ignore[arg-type]

    assert MicrosoftApiModule.ms_transport_cause(wrapped, 1.0) == 'no answer within 1.0 s (timeout)'


def test_a_body_that_is_not_json_names_the_request_id(requests_mock: Any) -> None:
    requests_mock.get(f'{GRAPH_V1}/users', text='{"value": [', headers={'request-id': 'rid-7'})

    with pytest.raises(CommonServerPython.DemistoException, match=r'request-id rid-7\)'):
        client().http_request('GET', 'users')


def test_an_entra_error_names_its_trace_and_correlation_ids() -> None:
    assert MicrosoftApiModule.ms_entra_error_text(ENTRA_503) == (
        'temporarily_unavailable.\nA transient error has occurred. Please try again. (trace ID t-1, correlation ID '
        'c-1)')


def test_a_token_endpoint_5xx_names_entras_error_then_the_wait(requests_mock: Any) -> None:
    empty_context()
    token = login(requests_mock, {'status_code': 503, 'json': ENTRA_503, 'headers': {'Retry-After': '30'}})

    with pytest.raises(MicrosoftApiModule.MicrosoftAuthError) as first:
        client().get_access_token()
    with pytest.raises(MicrosoftApiModule.MicrosoftAuthError) as second:
        client().get_access_token()

    assert str(first.value) == ('Error in Microsoft authorization. Status: 503, body: temporarily_unavailable.\nA '
                                'transient error has occurred. Please try again. (trace ID t-1, correlation ID c-1)')
    # msal keeps the 503 for its Retry-After (in the http cache the instance persists): no second request, and the
    # text says why.
    assert token.call_count == 1
    assert 'answered HTTP 503 moments ago' in str(second.value)


# ---------------------------------------------------------------------------------------------------------------
# Authorization code: nothing lost when two runs refresh at once, and a dead grant says how to sign in again
# ---------------------------------------------------------------------------------------------------------------

def token_body(access: str, refresh: str) -> dict:
    return {'token_type': 'Bearer', 'expires_in': 3599, 'access_token': access, 'refresh_token': refresh,
            'scope': 'https://graph.microsoft.com/.default'}


def stored_refresh_token(params: dict = AUTH_CODE_PARAMS) -> str:
    key = MicrosoftApiModule.AuthSettings.from_params(params).cache_key()
    return demisto.getIntegrationContext()['ms_auth'][key]['refresh_token']


def expire_access_token(params: dict = AUTH_CODE_PARAMS) -> None:
    key = MicrosoftApiModule.AuthSettings.from_params(params).cache_key()
    MicrosoftApiModule.mutate_integration_context(lambda context: context['ms_auth'][key].update(valid_until=0))


def test_a_refresh_token_another_run_just_replaced_is_followed_not_failed(requests_mock: Any) -> None:
    empty_context()
    login(requests_mock, {'json': token_body('AT-1', 'RT-1')})
    client(AUTH_CODE_PARAMS).get_access_token()
    expire_access_token()

    def refused_after_another_run_rotated(request: Any, context: Any) -> dict:
        # While this run was on its way, another run redeemed RT-1 and saved RT-2; Entra (strictly) refuses RT-1.
        key = MicrosoftApiModule.AuthSettings.from_params(AUTH_CODE_PARAMS).cache_key()
        MicrosoftApiModule.mutate_integration_context(
            lambda stored: stored['ms_auth'][key].update(refresh_token='RT-2'))
        context.status_code = 400
        return {'error': 'invalid_grant', 'error_description': 'AADSTS70008: expired', 'error_codes': [70008]}

    token = requests_mock.post(TOKEN_URL, [{'json': refused_after_another_run_rotated},
                                           {'json': token_body('AT-3', 'RT-3')}])

    assert client(AUTH_CODE_PARAMS).get_access_token() == 'AT-3'
    sent = [urllib.parse.parse_qs(request.text)['refresh_token'][0] for request in token.request_history]
    assert sent == ['RT-1', 'RT-2']
    assert stored_refresh_token() == 'RT-3'


def test_a_dead_refresh_token_says_how_to_sign_in_again_and_is_kept(requests_mock: Any) -> None:
    empty_context()
    login(requests_mock, {'json': token_body('AT-1', 'RT-1')},
          {'status_code': 400, 'json': {'error': 'invalid_grant', 'error_codes': [50173],
                                        'error_description': 'AADSTS50173: The provided grant has expired.'}})
    client(AUTH_CODE_PARAMS).get_access_token()
    expire_access_token()

    with pytest.raises(MicrosoftApiModule.MicrosoftAuthError) as error:
        client(AUTH_CODE_PARAMS).get_access_token()

    assert 'run ***msgraph-user-generate-login-url***' in str(error.value)
    assert 'then run ***msgraph-user-test***' in str(error.value)
    assert stored_refresh_token() == 'RT-1'  # a failure never blanks what the instance holds
