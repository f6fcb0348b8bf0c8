"""Authentication-method, Temporary Access Pass, sign-in preference and hidden MFA commands end to end (client
credentials, the `default` app), each run in its own runner process against the emulated tenant."""
from __future__ import annotations

import io
import json

import pytest
import pyzipper

from tests.e2e.harness import E2E

# (command stem, Graph collection, context prefix, the admin's method to delete, the delete text)
METHOD_TYPES = [
    ('fido2', 'fido2Methods', 'MSGraphUser.FIDO2Method',
     "The user's FIDO2 Security Key Authentication Method {id} has been successfully deleted."),
    ('email', 'emailMethods', 'MSGraphUser.EmailAuthMethod',
     "The user's Email Authentication Method object {id} has been successfully deleted."),
    ('authenticator', 'microsoftAuthenticatorMethods', 'MSGraphUser.UserAuthMethod',
     'Microsoft Authenticator authentication method {id} was successfully deleted for user {user}.'),
    ('phone', 'phoneMethods', 'MSGraphUser.PhoneAuthMethod',
     "The user's phone authentication method object id {id} has been successfully deleted."),
    ('software-oath', 'softwareOathMethods', 'MSGraphUser.SoftOathAuthMethod',
     "The user's Software OATH token authentication method object id {id} has been successfully deleted."),
    ('windows-hello', 'windowsHelloForBusinessMethods', 'MSGraphUser.WindowsHelloAuthMethod',
     'The Windows Hello For Business Authentication Method object id {id} has been successfully deleted.'),
    ('temp-access-pass', 'temporaryAccessPassMethods', 'MSGraphUser.TempAccessPassAuthMethod',
     "The user's Temporary Access Pass Authentication Method object id {id} has been successfully deleted."),
]
EMAIL_METHOD_ID = '3ddfcfc8-9383-446f-83cc-3ab9be4be18f'


def stored_methods(e2e: E2E, user_id: str) -> dict[str, list[dict]]:
    with e2e.emulator.lock:
        return {kind: [dict(method) for method in methods]
                for kind, methods in e2e.stored_user(user_id)['_methods'].items()}


def test_get_auth_methods(e2e: E2E) -> None:
    admin = e2e.samples['admin']

    listed = e2e.ok('msgraph-user-get-auth-methods', e2e.params(), user=admin['userPrincipalName'])

    output = listed.context['MSGraphUserAuthMethods(val.ID && val.ID == obj.ID)']
    assert output['ID'] == admin['userPrincipalName']
    expected = sum(len(methods) for methods in stored_methods(e2e, admin['id']).values())
    assert len(output['Methods']) == expected
    assert '#microsoft.graph.passwordAuthenticationMethod' in {method['@Odata.Type'] for method in output['Methods']}
    assert [r['path'] for r in listed.graph] == [f"/v1.0/users/{admin['userPrincipalName']}/authentication/methods"]


@pytest.mark.parametrize('stem, collection, prefix, deleted_text', METHOD_TYPES, ids=[t[0] for t in METHOD_TYPES])
def test_method_list_and_delete(e2e: E2E, stem: str, collection: str, prefix: str, deleted_text: str) -> None:
    params = e2e.params()
    admin = e2e.samples['admin']
    user = admin['userPrincipalName']

    listed = e2e.ok(f'msgraph-user-{stem}-method-list', params, user=user)

    assert [r['path'] for r in listed.graph] == [f'/v1.0/users/{user}/authentication/{collection}']
    methods = listed.context[f'{prefix}(val.ID && val.ID == obj.ID)']
    methods = methods if isinstance(methods, list) else [methods]
    assert methods and all(method['ID'] for method in methods)
    assert all('TemporaryAccessPass' not in method for method in methods)
    method_id = methods[0]['ID']

    deleted = e2e.ok(f'msgraph-user-{stem}-method-delete', params, user=user, method_id=method_id)

    assert deleted.readable == deleted_text.format(id=method_id, user=user)
    assert [(r['method'], r['path'], r['status']) for r in deleted.graph] == [
        ('DELETE', f'/v1.0/users/{user}/authentication/{collection}/{method_id}', 204)]
    remaining = {method['id'] for methods in stored_methods(e2e, admin['id']).values() for method in methods}
    assert method_id not in remaining


def test_method_by_id_and_the_default_email_method(e2e: E2E) -> None:
    params = e2e.params()
    admin = e2e.samples['admin']
    mobile = '3179e48a-750b-4051-897c-87b9720928f7'

    one = e2e.ok('msgraph-user-phone-method-list', params, user=admin['id'], method_id=mobile)
    assert one.graph[0]['path'] == f"/v1.0/users/{admin['id']}/authentication/phoneMethods/{mobile}"
    phone = one.context['MSGraphUser.PhoneAuthMethod(val.ID && val.ID == obj.ID)']
    assert phone['ID'] == mobile and phone['PhoneType'] == 'mobile'
    assert f"Phone Authentication Method {mobile} for User {admin['id']}:" in one.readable

    # email-method-delete without method_id deletes the one email method (its id is the same everywhere).
    deleted = e2e.ok('msgraph-user-email-method-delete', params, user=admin['id'])
    assert deleted.graph[0]['path'].endswith(f'/emailMethods/{EMAIL_METHOD_ID}')
    assert stored_methods(e2e, admin['id'])['email'] == []

    empty = e2e.ok('msgraph-user-email-method-list', params, user=admin['id'])
    assert empty.readable == f"No email authentication methods found for user {admin['id']}."


def test_temporary_access_pass_policy(e2e: E2E) -> None:
    params = e2e.params()
    loner = e2e.samples['loner']
    zip_password = 'Zip-Pass!e2e-42'

    created = e2e.ok('msgraph-user-tap-policy-create', params, user_id=loner['id'], zip_password=zip_password,
                     lifetime_in_minutes=30, is_usable_once='true', debug=True)

    [post] = created.graph
    assert (post['method'], post['status']) == ('POST', 201)
    assert post['body'] == {'lifetimeInMinutes': 30, 'isUsableOnce': True}
    [tap] = stored_methods(e2e, loner['id'])['temporaryAccessPass']
    the_pass = tap['_pass']
    policy = created.context['MSGraphUser.TAPPolicy(val.ID && val.ID == obj.ID)']
    assert policy['ID'] == tap['id'] and policy['LifetimeInMinutes'] == 30 and policy['IsUsableOnce'] is True
    [file_entry] = created.file_entries()
    assert file_entry['File'] == 'TAPPolicyInfo.zip'
    with pyzipper.AESZipFile(io.BytesIO(created.file_path(file_entry).read_bytes())) as archive:
        assert archive.namelist() == ['TAPPolicyPass.txt']
        assert archive.getinfo('TAPPolicyPass.txt').compress_type == pyzipper.ZIP_DEFLATED
        with pytest.raises(RuntimeError):
            archive.read('TAPPolicyPass.txt')  # encrypted: no password, no pass
        archive.setpassword(zip_password.encode())
        assert archive.read('TAPPolicyPass.txt').decode() == the_pass
    # The pass is in the zip only: not in an entry, the context, a (debug) log line, the integration context or any
    # other file the run left behind.
    assert 'temporaryAccessPassMethods' in created.stderr  # the wire log was on
    assert the_pass not in created.stdout + created.stderr
    assert the_pass not in created.integration_context_file.read_text()
    other_files = [path for path in created.files_dir.parent.rglob('*')
                   if path.is_file() and path != created.file_path(file_entry)]
    assert all(the_pass.encode() not in path.read_bytes() for path in other_files)

    listed = e2e.ok('msgraph-user-tap-policy-list', params, user_id=loner['id'])
    listed_policy = listed.context['MSGraphUser.TAPPolicy(val.ID && val.ID == obj.ID)']
    assert listed_policy['ID'] == tap['id'] and listed_policy['IsUsable'] is True
    assert f"TAP Policy for User ID {loner['id']}:" in listed.readable and tap['id'] in listed.readable

    deleted = e2e.ok('msgraph-user-tap-policy-delete', params, user_id=loner['id'], policy_id=tap['id'])
    assert deleted.readable == (f"Temporary Access Pass Authentication methods policy {tap['id']} was successfully "
                                'deleted.')
    assert stored_methods(e2e, loner['id'])['temporaryAccessPass'] == []

    none = e2e.ok('msgraph-user-tap-policy-list', params, user_id=loner['id'])
    assert none.readable == f"Failed to get TAP policy for the user {loner['id']}."


def test_default_auth_method_uses_beta(e2e: E2E) -> None:
    admin = e2e.samples['admin']['userPrincipalName']

    result = e2e.ok('msgraph-user-get-user-default-auth-method', e2e.params(), user=admin)

    assert [r['path'] for r in result.graph] == [f'/beta/users/{admin}/authentication/signInPreferences']
    output = result.context['MSGraphUser.AuthMethod(val.User === obj.User)']
    assert output['User'] == admin and output['DefaultMethod'] == 'push'
    assert output['IsSystemPreferredAuthenticationMethodEnabled'] is True
    assert result.readable.endswith('**Default Auth Method:** push')


def test_mfa_secret_and_token_commands(e2e: E2E) -> None:
    registrations = e2e.registrations
    params = e2e.params(allow_secret_generators=True)

    secret = e2e.ok('msgraph-user-create-mfa-client-secret', params, debug=True)

    lookup, add = secret.graph
    assert lookup['path'] == '/v1.0/servicePrincipals' and registrations['mfa_app_id'] in lookup['query']
    assert (add['method'], add['path']) == (
        'POST', f"/v1.0/servicePrincipals/{registrations['mfa_service_principal_id']}/addPassword")
    validity = secret.context['MSGraphUser.MFAClientSecret']
    assert set(validity) == {'ValidFrom', 'ValidUntil'}
    # The secret is kept in the integration context only (not even in a debug log line).
    minted = secret.integration_context()['mfa']['client_secret']
    assert minted and minted not in secret.stdout + secret.stderr

    token = e2e.ok('msgraph-user-create-mfa-client-access-token', params, debug=True)

    [token_request] = token.requests
    assert token_request['path'] == f"/{registrations['tenant_id']}/oauth2/token"
    assert token_request['body'] == {
        'resource': 'https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector',
        'client_id': registrations['mfa_app_id'], 'client_secret': '<redacted>', 'grant_type': 'client_credentials',
        'scope': 'openid'}
    assert set(token.context['MSGraphUser.MFAAccessToken']) == {'ValidUntil'}
    kept = token.integration_context()['mfa']['access_token']
    assert kept and kept not in token.stdout + token.stderr

    # msgraph-user-request-mfa talks to Microsoft's StrongAuthenticationService, which the emulator does not have
    # and which accepts only worldwide tokens: on this cloud it refuses clearly, before any request.
    refused = e2e.run('msgraph-user-request-mfa', params, user_mail=e2e.samples['admin']['userPrincipalName'])
    assert refused.exit_code == 1
    assert ('The MFA service is available only on the Worldwide cloud: it accepts only tokens of '
            f'https://login.microsoftonline.com, and this Custom cloud signs in at {e2e.emulator.base_url}.'
            ) in refused.error_text
    assert refused.requests == []


def test_mfa_commands_need_the_opt_in(e2e: E2E) -> None:
    refused = e2e.run('msgraph-user-create-mfa-client-secret', e2e.params())

    assert refused.exit_code == 1
    assert '"Allow secret generators commands execution" parameter is not marked' in refused.error_text
    assert refused.graph == []
    assert json.dumps(refused.context) == '{}'
