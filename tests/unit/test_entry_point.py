"""The entry point as the server drives it: the Test button in every mode, configuration mistakes, unknown
commands, and a sweep of every command path with debug logging on that looks for secrets in what a user or an
administrator can see (entries, context, log lines, written files).
"""
import base64
import datetime
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import CommonServerPython
import demistomock as demisto
import pytest
import requests_mock as requests_mock_module
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import MicrosoftApiModule
import MicrosoftGraphUser as integration
from tests.unit.yml_contract import yml_commands

TENANT = '66666666-7777-8888-9999-000000000000'
CLIENT_ID = '11111111-2222-3333-4444-555555555555'
LOGIN = 'https://login.microsoftonline.com'
GRAPH = 'https://graph.microsoft.com'
IMDS_OVERRIDE = 'http://127.0.0.1:50123'

# Every value below must never be seen by a user or an administrator reading logs.
CLIENT_SECRET = 'client-secret-Zq8~VALUE'
ACCESS_TOKEN = 'eyJ0eXAi.access-token-VALUE.sig'
REFRESH_TOKEN = 'refresh-token-VALUE-0.AXkA'
AUTH_CODE = 'auth-code-VALUE-0.AQABAAIAAAD'
OPROXY_TOKEN = 'oproxy-token-VALUE'
OPROXY_KEY = base64.b64encode(b'k' * 32).decode()
PASSWORD = 'Pa55-word-VALUE!'
ZIP_PASSWORD = 'zip-password-VALUE'
TAP_CODE = 'TAP-code-VALUE-9x'
MFA_SECRET = 'mfa-secret-VALUE~x'
MFA_TOKEN = 'mfa-access-token-VALUE'


@pytest.fixture(autouse=True)
def fresh_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    demisto.reset()
    monkeypatch.setattr(MicrosoftApiModule, 'ms_sleep', lambda seconds: None)
    monkeypatch.setattr(integration, 'ms_sleep', lambda seconds: None, raising=False)
    monkeypatch.chdir(tmp_path)  # fileResult writes into the working directory
    yield
    demisto.reset()


@pytest.fixture(scope='module')
def certificate() -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'xsoar-test')])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {'private_key': pem, 'thumbprint': cert.fingerprint(hashes.SHA1()).hex()}  # noqa: S303 (x5t is SHA-1)


def creds(value: str) -> dict:
    return {'identifier': '', 'password': value}


def self_deployed(**extra: Any) -> dict:
    return {'azure_cloud': 'Worldwide', 'host': GRAPH, 'self_deployed': True, 'creds_auth_id': creds(CLIENT_ID),
            'creds_tenant_id': creds(TENANT), 'creds_enc_key': creds(CLIENT_SECRET), 'handle_error': True, **extra}


def modes(certificate: dict) -> dict[str, dict]:
    """Instance params for every authentication mode."""
    return {
        'client_credentials': self_deployed(),
        'certificate': self_deployed(creds_enc_key=creds(''), creds_certificate={
            'identifier': certificate['thumbprint'], 'password': certificate['private_key']}),
        'authorization_code': self_deployed(creds_auth_code=creds(AUTH_CODE), redirect_uri='https://localhost/myapp'),
        'oproxy': {'azure_cloud': 'Worldwide', 'host': GRAPH, 'creds_auth_id': creds('registration-id'),
                   'creds_tenant_id': creds(OPROXY_TOKEN), 'creds_enc_key': creds(OPROXY_KEY)},
        'managed_identity': {'azure_cloud': 'Worldwide', 'host': GRAPH, 'use_managed_identities': True,
                             'managed_identities_client_id': creds('')},
    }


def mock_token_endpoints(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entra ID, the oproxy broker and IMDS (overridden to loopback) answering with a token."""
    token = {'token_type': 'Bearer', 'expires_in': 3599, 'access_token': ACCESS_TOKEN, 'refresh_token': REFRESH_TOKEN}
    authority = f'{LOGIN}/{TENANT}'
    requests_mock.get(f'{authority}/v2.0/.well-known/openid-configuration', json={
        'token_endpoint': f'{authority}/oauth2/v2.0/token',
        'authorization_endpoint': f'{authority}/oauth2/v2.0/authorize',
        'issuer': f'{LOGIN}/{TENANT}/v2.0'})
    requests_mock.post(f'{authority}/oauth2/v2.0/token', json=token)
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token', json={'access_token': ACCESS_TOKEN,
                                                                          'expires_in': 3599})
    monkeypatch.setenv('AZURE_POD_IDENTITY_AUTHORITY_HOST', IMDS_OVERRIDE)
    for name in ('IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'IMDS_ENDPOINT', 'MSI_ENDPOINT', 'MSI_SECRET'):
        monkeypatch.delenv(name, raising=False)
    requests_mock.get(f'{IMDS_OVERRIDE}/metadata/identity/oauth2/token', json={
        'access_token': ACCESS_TOKEN, 'expires_in': '3599', 'expires_on': '1999999999', 'resource': GRAPH,
        'token_type': 'Bearer'})


def run(command: str, params: dict, args: dict | None = None, debug: bool = False) -> list[dict]:
    """Run one command through the entry point, as the server does, and return its entries."""
    demisto.set_invocation(command, args or {}, params, is_debug_mode=debug)
    try:
        integration.run_command(command, params, dict(args or {}))
    except SystemExit:
        pass  # return_error ends the run, as on the server
    return demisto.collected_results()


def flat_entries(entries: list) -> list[dict]:
    flat: list[dict] = []
    for entry in entries:
        flat.extend(flat_entries(entry) if isinstance(entry, list) else [entry])
    return flat


def graph_requests(requests_mock: Any) -> list:
    return [request for request in requests_mock.request_history if request.url.startswith(GRAPH)]


# ---------------------------------------------------------------------------------------------------------------
# The Test button in every mode
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('mode', ['client_credentials', 'certificate', 'oproxy', 'managed_identity'])
def test_test_button_is_ok_in_every_testable_mode(requests_mock: Any, monkeypatch: pytest.MonkeyPatch,
                                                  certificate: dict, mode: str) -> None:
    mock_token_endpoints(requests_mock, monkeypatch)
    requests_mock.get(f'{GRAPH}/v1.0/users', json={'value': [{'id': '1'}]})

    entries = flat_entries(run('test-module', modes(certificate)[mode]))

    assert [entry['Contents'] for entry in entries] == ['ok']
    graph_calls = graph_requests(requests_mock)
    assert len(graph_calls) == 1
    assert graph_calls[0].headers['Authorization'] == f'Bearer {ACCESS_TOKEN}'
    if mode == 'managed_identity':  # the IMDS override is honoured: 169.254.169.254 is never contacted
        imds = [request for request in requests_mock.request_history if request.url.startswith(IMDS_OVERRIDE)]
        assert len(imds) == 1
        assert imds[0].headers['Metadata'] == 'true'
        assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(imds[0].url).query))['resource'] == GRAPH
        assert not any('169.254.169.254' in request.url for request in requests_mock.request_history)


def test_test_button_explains_the_authorization_code_flow(requests_mock: Any, certificate: dict) -> None:
    entries = flat_entries(run('test-module', modes(certificate)['authorization_code']))

    assert entries[0]['Type'] == CommonServerPython.EntryType.ERROR
    assert 'run the !msgraph-user-test command' in entries[0]['Contents']
    assert requests_mock.request_history == []


def test_msgraph_user_test_redeems_the_code_and_keeps_the_refresh_token(requests_mock: Any,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         certificate: dict) -> None:
    mock_token_endpoints(requests_mock, monkeypatch)
    requests_mock.get(f'{GRAPH}/v1.0/users', json={'value': []})

    entries = flat_entries(run('msgraph-user-test', modes(certificate)['authorization_code']))

    assert '✅ Success!' in entries[0]['HumanReadable']
    token_posts = [request for request in requests_mock.request_history if request.url.endswith('/token')]
    form = dict(urllib.parse.parse_qsl(token_posts[0].text))
    assert form['grant_type'] == 'authorization_code'
    assert form['code'] == AUTH_CODE
    assert form['redirect_uri'] == 'https://localhost/myapp'
    stored = json.dumps(demisto.getIntegrationContext())
    assert REFRESH_TOKEN in stored  # kept for the next run (the integration context is not shown to users)


# ---------------------------------------------------------------------------------------------------------------
# Configuration mistakes and unknown commands: one clear error entry, no request, no traceback
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('params, expected', [
    ({'azure_cloud': 'Worldwide', 'host': GRAPH}, 'Key must be provided'),
    (self_deployed(creds_auth_code=creds(AUTH_CODE)), 'Please provide both Application redirect URI'),
    (self_deployed(creds_enc_key=creds('')), 'Key or Certificate Thumbprint and Private Key must be provided'),
    (self_deployed(creds_enc_key=creds(''), creds_certificate={'identifier': 'ab' * 20, 'password': ''}),
     'Private Key'),
    (self_deployed(azure_cloud='Mars'), 'Mars'),
    (self_deployed(azure_cloud='Custom', login_host=''), 'login'),
])
def test_configuration_mistakes_give_one_clear_error_entry(requests_mock: Any, params: dict, expected: str) -> None:
    entries = flat_entries(run('msgraph-user-get', params, {'user': 'adele@contoso.com'}))

    assert len(entries) == 1
    assert entries[0]['Type'] == CommonServerPython.EntryType.ERROR
    assert expected.lower() in entries[0]['Contents'].lower()
    assert 'Traceback' not in entries[0]['Contents']
    assert 'msgraph-user-get' in entries[0]['Contents']
    assert requests_mock.request_history == []


def test_unknown_command_is_reported_by_name(requests_mock: Any) -> None:
    entries = flat_entries(run('msgraph-user-frobnicate', self_deployed()))

    assert entries[0]['Type'] == CommonServerPython.EntryType.ERROR
    assert 'Command msgraph-user-frobnicate is not implemented' in entries[0]['Contents']


def test_graph_error_entry_names_the_command_code_and_request_id(requests_mock: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    mock_token_endpoints(requests_mock, monkeypatch)
    requests_mock.get(f'{GRAPH}/v1.0/users', status_code=403, json={'error': {
        'code': 'Authorization_RequestDenied', 'message': 'Insufficient privileges to complete the operation.',
        'innerError': {'date': '2026-11-27T04:00:00', 'request-id': 'req-123', 'client-request-id': 'c-1'}}})

    entries = flat_entries(run('msgraph-user-list', self_deployed()))

    text = entries[0]['Contents']
    assert entries[0]['Type'] == CommonServerPython.EntryType.ERROR
    for part in ('msgraph-user-list', '403', 'Authorization_RequestDenied', 'Insufficient privileges', 'req-123'):
        assert part in text


# ---------------------------------------------------------------------------------------------------------------
# Secrets: every command path, every mode, debug logging on
# ---------------------------------------------------------------------------------------------------------------

SECRETS = (CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, AUTH_CODE, OPROXY_TOKEN, OPROXY_KEY, PASSWORD, ZIP_PASSWORD,
           TAP_CODE, MFA_SECRET, MFA_TOKEN)

# A Graph answer shaped like every object the commands read: a user, a list page, a TAP, a service principal.
GRAPH_OBJECT = {
    'id': '87d349ed-44d7-43e1-9a83-5f2406dee5bd', 'displayName': 'Adele Vance',
    'userPrincipalName': 'adele@contoso.com', 'mail': 'adele@contoso.com', 'lifetimeInMinutes': 60, 'isUsable': True,
    'isUsableOnce': False, 'startDateTime': '2026-11-27T04:00:00Z',
    'endDateTime': '2027-11-27T04:00:00Z', 'status': 'succeeded',
    'userPreferredMethodForSecondaryAuthentication': 'push', 'value': [
        {'id': '28c10230-6103-485e-b985-444c60001490', 'displayName': 'Adele Vance',
         'userPrincipalName': 'adele@contoso.com', 'temporaryAccessPass': None}],
    '@odata.deltaLink': f'{GRAPH}/v1.0/users/delta?$deltatoken=abc',
}
MFA_XML = ('<BeginTwoWayAuthenticationResponse><Result><Value>Success</Value><Message/></Result>'
           '<AuthenticationResult>true</AuthenticationResult></BeginTwoWayAuthenticationResponse>')


def sweep_args(command: dict, certificate: dict) -> dict:
    """Plausible values for every argument of a yml command, with a secret in every secret-like argument."""
    values = {'password': PASSWORD, 'nonsensitive_password': PASSWORD, 'zip_password': ZIP_PASSWORD,
              'client_secret': MFA_SECRET, 'access_token': MFA_TOKEN, 'user': 'adele@contoso.com',
              'user_id': 'adele@contoso.com', 'manager': 'alex@contoso.com', 'user_mail': 'adele@contoso.com',
              'limit': '2', 'lifetime_in_minutes': '60', 'timeout': '10', 'updated_fields': 'displayName=Adele',
              'display_name': 'Adele', 'mail_nickname': 'adele', 'user_principal_name': 'adele@contoso.com',
              'method_id': '28c10230-6103-485e-b985-444c60001490', 'policy_id': 'tap-1'}
    args: dict[str, str] = {}
    for argument in command.get('arguments') or []:
        name = argument['name']
        if name in values:
            args[name] = values[name]
        elif argument.get('required'):
            args[name] = (argument.get('predefined') or ['value'])[0]
    return args


@pytest.mark.parametrize('mode', ['client_credentials', 'certificate', 'authorization_code', 'oproxy',
                                  'managed_identity'])
def test_no_secret_reaches_entries_context_logs_or_files(requests_mock: Any, monkeypatch: pytest.MonkeyPatch,
                                                         certificate: dict, tmp_path: Path, mode: str) -> None:
    requests_mock.register_uri(requests_mock_module.ANY, re.compile(r'https://[^/]*microsoft[^/]*/.*'),
                               json=GRAPH_OBJECT, headers={'Location': f'{GRAPH}/v1.0/operations/1'})
    requests_mock.register_uri(requests_mock_module.ANY, re.compile(r'https://strongauthenticationservice.*'),
                               text=MFA_XML)
    requests_mock.register_uri(requests_mock_module.ANY, re.compile(r'https://login\.microsoftonline\.com/.*/token'),
                               json={'access_token': MFA_TOKEN, 'expires_on': '1999999999', 'expires_in': 3599})
    # Graph reveals a pass and a client secret only in the answer that creates them.
    requests_mock.post(re.compile(r'.*/temporaryAccessPassMethods$'), status_code=201,
                       json={**GRAPH_OBJECT, 'temporaryAccessPass': TAP_CODE})
    requests_mock.post(re.compile(r'.*/addPassword$'), json={'secretText': MFA_SECRET, 'keyId': 'k-1',
                                                             'startDateTime': '2026-11-27T04:00:00Z',
                                                             'endDateTime': '2027-11-27T04:00:00Z'})
    mock_token_endpoints(requests_mock, monkeypatch)
    params = {**modes(certificate)[mode], 'allow_secret_generators': True}
    private_key_lines = [line for line in certificate['private_key'].splitlines() if 'PRIVATE KEY' not in line]

    seen: list[str] = []
    commands = ['test-module', *yml_commands()]
    for name in commands:
        args = sweep_args(yml_commands().get(name, {}), certificate)
        entries = run(name, params, args, debug=True)
        seen.append(json.dumps(entries, default=str))
        seen.extend(demisto.log_lines())
        seen.extend(CommonServerPython.LOG.messages)
    seen.extend(path.read_bytes().decode('latin-1') for path in tmp_path.iterdir() if path.is_file())

    haystack = '\n'.join(seen)
    leaked = [secret for secret in SECRETS if secret in haystack or urllib.parse.quote(secret, safe='') in haystack]
    leaked += ['private key'] if any(line and line in haystack for line in private_key_lines) else []
    assert leaked == []
    assert len(seen) > len(commands)  # the sweep really produced entries and log lines
