"""Every authentication mode end to end: the Test button, one command in a new process with the persisted token,
the authorization-code life cycle (login URL, redemption, refresh-token rotation, reset), and what a warm and a
cold run cost in HTTP requests."""
from __future__ import annotations

import re
import urllib.parse

import pytest
import requests

from tests.e2e.harness import E2E, graph_calls, token_calls


def admin_upn(e2e: E2E) -> str:
    return e2e.samples['admin']['userPrincipalName']


def assert_first_token_request(e2e: E2E, mode: str, requests_seen: list[dict]) -> None:
    """The token request each mode sends on its first run (and nothing but it and the Graph call)."""
    tokens = token_calls(requests_seen)
    assert len(tokens) == 1, [(r['method'], r['path']) for r in requests_seen]
    token = tokens[0]
    registrations = e2e.registrations
    if mode in ('client_credentials', 'certificate'):
        assert token['path'] == f"/{registrations['tenant_id']}/oauth2/v2.0/token"
        body = token['body']
        assert body['grant_type'] == 'client_credentials'
        assert body['scope'] == registrations['scope']
        assert body['client_id'] == registrations['apps']['default']['client_id']
        if mode == 'certificate':
            assert body['client_assertion'] == '<redacted>' and 'client_secret' not in body
            assert body['client_assertion_type'] == 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
        else:
            assert body['client_secret'] == '<redacted>' and 'client_assertion' not in body
    elif mode == 'oproxy':
        assert (token['method'], token['path']) == ('POST', '/obtain-token')
        assert token['body']['app_name'] == registrations['oproxy']['app_name']
        assert token['body']['registration_id'] == registrations['oproxy']['registration_id']
    elif mode == 'managed_identity_app_service':
        assert (token['server'], token['method'], token['path']) == ('imds', 'GET', '/msi/token')
        assert token['headers']['X-Identity-Header'] == '<redacted>'
        query = urllib.parse.parse_qs(token['query'])
        assert query['resource'] in ([e2e.emulator.base_url], [f'{e2e.emulator.base_url}/'])
        assert query['client_id'] == [registrations['managed_identities']['user_assigned']['client_id']]
    else:
        assert token['server'] == 'imds' and token['method'] == 'GET'
        assert token['path'] == '/metadata/identity/oauth2/token'
        query = urllib.parse.parse_qs(token['query'])
        assert query['resource'] in ([e2e.emulator.base_url], [f'{e2e.emulator.base_url}/'])
        if mode == 'managed_identity':
            assert query['client_id'] == [registrations['managed_identities']['user_assigned']['client_id']]
        else:
            assert not {'client_id', 'object_id', 'msi_res_id'} & set(query)


@pytest.mark.parametrize('mode', ['client_credentials', 'certificate', 'oproxy', 'managed_identity',
                                  'managed_identity_system', 'managed_identity_app_service'])
def test_test_button_then_a_command_with_the_persisted_token(e2e: E2E, mode: str) -> None:
    if mode == 'managed_identity_app_service':  # msal finds the App Service endpoint in the environment
        e2e.env = {**e2e.info['env_app_service']}
        params = e2e.params('managed_identity')
    else:
        params = e2e.params(mode)

    tested = e2e.ok('test-module', params)

    assert tested.entries[0]['Contents'] == 'ok'
    assert_first_token_request(e2e, mode, tested.requests)
    assert [(r['method'], r['path'], r['status']) for r in graph_calls(tested.requests)] == [
        ('GET', '/v1.0/users', 200)]

    user = e2e.ok('msgraph-user-get', params, user=admin_upn(e2e))

    assert [(r['method'], r['path']) for r in user.requests] == [('GET', f'/v1.0/users/{admin_upn(e2e)}')]
    assert user.context['MSGraphUser(val.ID && val.ID == obj.ID)']['ID'] == e2e.samples['admin']['id']


def test_warm_and_cold_runs(e2e: E2E) -> None:
    params = e2e.params('client_credentials')
    upn = admin_upn(e2e)

    first = e2e.ok('msgraph-user-get', params, user=upn, properties='displayName')
    # The first run ever: msal reads the tenant's OpenID configuration, then asks for the token, then Graph.
    assert [(r['method'], r['path'].rsplit('/', 2)[-1]) for r in first.requests] == [
        ('GET', 'openid-configuration'), ('POST', 'token'), ('GET', upn)]

    # Warm: a new process with the persisted token sends exactly one request, and does not even import msal.
    warm = e2e.ok('msgraph-user-get', params, user=upn, properties='displayName', python_flags=('-X', 'importtime'))
    assert [(r['method'], r['path']) for r in warm.requests] == [('GET', f'/v1.0/users/{upn}')]
    imported = {line.rsplit('|', 1)[-1].strip() for line in warm.stderr.splitlines() if 'import time:' in line}
    assert 'msal' not in imported and 'cryptography' not in imported and 'pyzipper' not in imported

    # Cold, an hour later: the token has expired but the msal http cache (the tenant metadata) is persisted, so
    # the run costs one token request and the call.
    e2e.age_tokens()
    cold = e2e.ok('msgraph-user-get', params, user=upn, properties='displayName')
    assert [(r['method'], r['path'].rsplit('/', 2)[-1]) for r in cold.requests] == [('POST', 'token'), ('GET', upn)]


def login_code(e2e: E2E, login_url: str) -> str:
    """Follow the login URL as the admin's browser would (the emulator signs in without a prompt) and return the
    code from the redirect."""
    response = requests.get(login_url, verify=e2e.emulator.ca_bundle, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = urllib.parse.urlsplit(response.headers['Location'])
    assert f'{location.scheme}://{location.netloc}{location.path}' == 'https://localhost/myapp'
    return urllib.parse.parse_qs(location.query)['code'][0]


def test_authorization_code_life_cycle(e2e: E2E) -> None:
    registrations = e2e.registrations
    upn = admin_upn(e2e)
    params = e2e.params('authorization_code')
    del params['creds_auth_code']

    generated = e2e.ok('msgraph-user-generate-login-url', params)
    assert generated.requests == []
    link = re.search(r'\[login URL\]\(([^)]+)\)', generated.readable)
    assert link, generated.readable
    login_url = link.group(1)
    parts = urllib.parse.urlsplit(login_url)
    assert f'{parts.scheme}://{parts.netloc}{parts.path}' == registrations['authorize_url']
    query = urllib.parse.parse_qs(parts.query)
    assert query['client_id'] == [registrations['apps']['default']['client_id']]
    assert query['redirect_uri'] == ['https://localhost/myapp']
    assert query['scope'] == [f"offline_access {registrations['scope']}"]

    params['creds_auth_code'] = {'identifier': '', 'password': login_code(e2e, login_url)}
    # The Test button cannot keep the refresh token, so it explains what to do instead (and redeems nothing).
    button = e2e.run('test-module', params)
    assert button.exit_code == 1 and 'run the !msgraph-user-test command' in button.error_text
    assert button.requests == []

    tested = e2e.ok('msgraph-user-test', params)
    assert '✅ Success!' in tested.readable
    assert [r['body']['grant_type'] for r in token_calls(tested.requests)] == ['authorization_code']
    refresh_token = e2e.token_entry()['refresh_token']

    # A new process: the code is never redeemed again; with the cached token only the Graph call is sent.
    warm = e2e.ok('msgraph-user-get', params, user=upn, properties='id')
    assert [(r['method'], r['path']) for r in warm.requests] == [('GET', f'/v1.0/users/{upn}')]

    # An hour later, a new process uses the persisted refresh token; Entra rotates it and the new one is kept.
    e2e.age_tokens()
    refreshed = e2e.ok('msgraph-user-get', params, user=upn, properties='id')
    assert [r['body'].get('grant_type') for r in token_calls(refreshed.requests)] == ['refresh_token']
    assert len(graph_calls(refreshed.requests)) == 1
    rotated = e2e.token_entry()['refresh_token']
    assert rotated != refresh_token

    # Entra expires the access tokens early: Graph answers 401, one forced refresh, the call is repeated.
    e2e.emulator.expire_tokens()
    after_401 = e2e.ok('msgraph-user-get', params, user=upn, properties='id')
    assert [(r['method'], r['path'].rsplit('/', 1)[-1], r['status']) for r in after_401.requests] == [
        ('GET', upn, 401), ('POST', 'token', 200), ('GET', upn, 200)]
    assert token_calls(after_401.requests)[0]['body']['grant_type'] == 'refresh_token'
    rotated_again = e2e.token_entry()['refresh_token']
    assert rotated_again != rotated

    # The persisted token is the live one: the previous one would now be refused as already used (AADSTS70008).
    e2e.emulator.expire_tokens()
    again = e2e.ok('msgraph-user-get', params, user=upn, properties='id')
    assert [r['status'] for r in token_calls(again.requests)] == [200]

    reset = e2e.ok('msgraph-user-auth-reset', params)
    assert 'Authorization was reset successfully' in reset.readable
    assert 'ms_auth' not in reset.integration_context()

    # After the reset the configured code is redeemed again, and Entra refuses a used code with a clear error.
    used = e2e.run('msgraph-user-test', params)
    assert used.exit_code == 1
    assert 'invalid_grant' in used.error_text and 'msgraph-user-auth-reset' in used.error_text
    assert params['creds_auth_code']['password'] not in used.stdout + used.stderr

    # A new code after the reset works.
    params['creds_auth_code'] = {'identifier': '', 'password': e2e.emulator.mint_auth_code()}
    fresh = e2e.ok('msgraph-user-test', params)
    assert [r['body']['grant_type'] for r in token_calls(fresh.requests)] == ['authorization_code']
    assert e2e.token_entry()['refresh_token'] not in (refresh_token, rotated, rotated_again)
