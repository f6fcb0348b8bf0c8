"""What a user sees when Graph or Entra says no, end to end: objects that do not exist (with and without "Suppress
Errors for Non Found Users"), throttling, a token of another cloud, missing permissions and bad input."""
from __future__ import annotations

import time
from pathlib import Path

import emulator as emulator_package
from tests.e2e.harness import E2E, graph_calls, token_calls

NOBODY = 'nobody.here@emulator.onmicrosoft.com'


def test_not_found_with_and_without_suppression(e2e: E2E) -> None:
    suppressed = e2e.params()  # handle_error defaults to true
    strict = e2e.params(handle_error=False)
    admin = e2e.samples['admin']['userPrincipalName']

    got = e2e.ok('msgraph-user-get', suppressed, user=NOBODY)
    assert got.readable.startswith(f'### User {NOBODY} was not found.\nMicrosoft Graph Response: 404 '
                                   'Request_ResourceNotFound')
    assert got.context == {}

    disabled = e2e.ok('msgraph-user-account-disable', suppressed, user=NOBODY)
    assert disabled.readable == f'#### User -> {NOBODY} does not exist'

    # Which object is missing is decided by asking Graph for the user, not by matching texts.
    method = e2e.ok('msgraph-user-fido2-method-delete', suppressed, user=admin, method_id='no-such-key')
    assert method.readable == f'#### Did not find the method_id no-such-key for user {admin}'
    assert [(r['method'], r['status']) for r in method.graph] == [('DELETE', 404), ('GET', 200)]

    manager = e2e.ok('msgraph-user-assign-manager', suppressed, user=admin, manager=NOBODY)
    assert manager.readable == f'#### Manager -> {NOBODY} does not exist'

    for command in ('msgraph-user-account-disable', 'msgraph-user-get'):
        failed = e2e.run(command, strict, user=NOBODY)
        assert failed.exit_code == 1
        [error] = failed.errors
        assert error.startswith(f'Failed to execute {command} command.\nError:\n404 Request_ResourceNotFound: '
                                f"Resource '{NOBODY}' does not exist")
        assert '(request-id ' in error and 'Traceback' not in error


def test_throttling_is_retried_after_retry_after(e2e: E2E) -> None:
    params = e2e.params()
    upn = e2e.samples['ceo']['userPrincipalName']
    e2e.ok('test-module', params)  # the token is cached, so the run below shows only Graph calls
    e2e.emulator.add_fault('status', route='/v1.0/users/*', method='GET', status=429, retry_after=1, count=1)

    started = time.monotonic()
    result = e2e.ok('msgraph-user-get', params, user=upn, properties='id')
    elapsed = time.monotonic() - started

    assert [(r['path'], r['status'], r['fault'] is not None) for r in result.requests] == [
        (f'/v1.0/users/{upn}', 429, True), (f'/v1.0/users/{upn}', 200, False)]
    assert result.requests[1]['time'] - result.requests[0]['time'] >= 1.0
    assert result.requests[1]['headers'].get('Retry-Attempt') == '1'
    assert elapsed < 10
    assert result.context['MSGraphUser(val.ID && val.ID == obj.ID)']['ID'] == e2e.samples['ceo']['id']


def test_token_of_another_cloud_is_refused(e2e: E2E, other_emulator: emulator_package.Emulator,
                                           tmp_path: Path) -> None:
    """An instance whose token comes from one cloud and whose Graph host is another (the second emulator)."""
    bundle = tmp_path / 'both-cas.pem'
    bundle.write_bytes(Path(e2e.emulator.ca_bundle).read_bytes() + Path(other_emulator.ca_bundle).read_bytes())
    e2e.env['REQUESTS_CA_BUNDLE'] = str(bundle)
    upn = e2e.samples['admin']['userPrincipalName']

    # With a self-deployed app, Entra refuses to issue a token for the other cloud's Graph in the first place.
    own_app = e2e.run('msgraph-user-get', e2e.params(host=other_emulator.base_url), user=upn, instance='own_app')
    assert own_app.exit_code == 1
    assert ('Error in Microsoft authorization. Status: 400, body: invalid_resource.\nThe resource principal named '
            f'{other_emulator.base_url} was not found') in own_app.error_text

    # The oproxy broker hands out a token of its own cloud: the other Graph refuses it (also after the one forced
    # refresh), and the user reads why.
    other_since = (other_emulator.requests() or [{'seq': 0}])[-1]['seq']
    brokered = e2e.run('msgraph-user-get', e2e.params('oproxy', host=other_emulator.base_url), user=upn,
                       instance='brokered')

    assert brokered.exit_code == 1
    [error] = brokered.errors
    assert error.startswith('Failed to execute msgraph-user-get command.\nError:\n401 InvalidAuthenticationToken: '
                            'Access token validation failure. Invalid audience. (request-id ')
    assert [(r['path'], r['status']) for r in token_calls(brokered.requests)] == [('/obtain-token', 200)] * 2
    assert [r['status'] for r in graph_calls(other_emulator.requests(since=other_since))] == [401, 401]
    assert graph_calls(brokered.requests) == []


def test_missing_permission_is_a_clear_403(e2e: E2E) -> None:
    read_only = e2e.app_params('read_only')
    ceo = e2e.samples['ceo']['userPrincipalName']

    assert e2e.ok('test-module', read_only).entries[0]['Contents'] == 'ok'  # User.Read.All is enough to read

    refused = e2e.run('msgraph-user-account-disable', read_only, user=ceo)

    assert refused.exit_code == 1
    [error] = refused.errors
    assert error.startswith('Failed to execute msgraph-user-account-disable command.\nError:\n403 '
                            'Authorization_RequestDenied: Insufficient privileges to complete the operation.')
    assert [(r['method'], r['status']) for r in refused.graph] == [('PATCH', 403)]
    assert e2e.stored_user(ceo)['accountEnabled'] is True


def test_bad_input_is_refused_before_any_request(e2e: E2E) -> None:
    params = e2e.params()

    result = e2e.run('msgraph-user-tap-policy-create', params, user_id=e2e.samples['loner']['id'], zip_password='x',
                     lifetime_in_minutes=5)

    assert result.exit_code == 1
    assert 'The "lifetime_in_minutes" argument must be a whole number between 10 and 43200.' in result.error_text
    assert result.graph == []
