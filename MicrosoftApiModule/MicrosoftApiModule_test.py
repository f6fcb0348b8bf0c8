"""Unit tests for MicrosoftApiModule: settings, every token path on the wire, the token cache and Graph requests.

HTTP is faked with requests-mock, except for the managed-identity tests, which run a real HTTP server on 127.0.0.1
(requests-mock would bypass the urllib3 retry policy under test). No test sleeps: `ms_sleep` is replaced by a list.
"""
import base64
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import demistomock as demisto
import pytest
import requests
from CommonServerPython import DemistoException

import MicrosoftApiModule as ms
from MicrosoftApiModule import (
    AZURE_CLOUDS,
    AuthSettings,
    GraphError,
    GraphThrottledError,
    MicrosoftAuthError,
    MicrosoftClient,
    MicrosoftConfigError,
    encode_path_segment,
    mutate_integration_context,
    odata_quote,
)

ROOT = Path(__file__).resolve().parent.parent
TENANT = '11111111-2222-3333-4444-555555555555'
CLIENT_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'
SECRET = 'client~secret.Value-0123456789'
AUTH_CODE = '0.AAAAcode-value-from-redirect'
REDIRECT_URI = 'https://localhost/myapp'
OPROXY_KEY_BYTES = bytes(range(32))
OPROXY_KEY = base64.b64encode(OPROXY_KEY_BYTES).decode()
OPROXY_TOKEN = 'oproxy-token-value-42'
MI_CLIENT_ID = '99999999-8888-7777-6666-555555555555'
# Real hosts appear only as expected values: every request goes to requests-mock (which refuses unmatched URLs), and
# the root conftest.py refuses any socket that is not loopback.
WORLDWIDE_LOGIN = 'https://login.microsoftonline.com'  # expected value only
WORLDWIDE_GRAPH = 'https://graph.microsoft.com'  # expected value only
US_GOV_LOGIN = 'https://login.microsoftonline.us'  # expected value only
GCC_HIGH_GRAPH = 'https://graph.microsoft.us'  # expected value only
DOD_GRAPH = 'https://dod-graph.microsoft.us'  # expected value only
MI_ENV = ('AZURE_POD_IDENTITY_AUTHORITY_HOST', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'IDENTITY_SERVER_THUMBPRINT',
          'IMDS_ENDPOINT', 'MSI_ENDPOINT', 'MSI_SECRET', 'REQUESTS_TIMEOUT', 'HTTP_PROXY', 'HTTPS_PROXY')

# cloud name -> (params selecting it, expected login host, expected Graph host); expected values only
CLOUDS = {
    'Worldwide': ({'azure_cloud': 'Worldwide'}, WORLDWIDE_LOGIN, WORLDWIDE_GRAPH),
    'US GCC': ({'azure_cloud': 'US GCC'}, WORLDWIDE_LOGIN, WORLDWIDE_GRAPH),
    'US GCC-High': ({'azure_cloud': 'US GCC-High'}, US_GOV_LOGIN, GCC_HIGH_GRAPH),
    'DoD': ({'azure_cloud': 'DoD'}, US_GOV_LOGIN, DOD_GRAPH),
    'Germany': ({'azure_cloud': 'Germany'}, 'https://login.microsoftonline.de', 'https://graph.microsoft.de'),
    'China': ({'azure_cloud': 'China'}, 'https://login.chinacloudapi.cn', 'https://microsoftgraph.chinacloudapi.cn'),
    'Custom': ({'azure_cloud': 'Custom', 'host': 'https://127.0.0.1:9443/', 'login_host': 'https://127.0.0.1:9444'},
               'https://127.0.0.1:9444', 'https://127.0.0.1:9443'),
}
CLOUD_NAMES = list(CLOUDS)


# ---------------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def runtime(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A fresh instance (empty integration context, no logs), no real sleeping, no ambient identity/proxy env."""
    demisto.reset()
    demisto.set_invocation('msgraph-user-test')
    sleeps: list[float] = []
    monkeypatch.setattr(ms, 'ms_sleep', sleeps.append)
    monkeypatch.setattr(ms.random, 'uniform', lambda low, high: 0.0)
    for name in MI_ENV:
        monkeypatch.delenv(name, raising=False)
    return sleeps


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every string the module registers with the log masker."""
    values: list[str] = []
    monkeypatch.setattr(ms, 'add_sensitive_log_strs', values.append)
    return values


@pytest.fixture(scope='session')
def certificate() -> SimpleNamespace:
    """A throwaway RSA key and self-signed certificate (PEM key, SHA-1 thumbprint)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'ms-graph-user-unit-test')])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    sha1 = cert.fingerprint(hashes.SHA1())
    return SimpleNamespace(pem=pem, sha1=sha1, thumbprint=sha1.hex().upper(), public_key=key.public_key())


def self_deployed(**extra: Any) -> dict:
    """Params of a self-deployed app with a client secret (client credentials), plus `extra`."""
    params: dict[str, Any] = {
        'self_deployed': True,
        'creds_auth_id': {'identifier': '', 'password': CLIENT_ID},
        'creds_tenant_id': {'identifier': '', 'password': TENANT},
        'creds_enc_key': {'identifier': '', 'password': SECRET},
    }
    params.update(extra)
    return params


def certificate_params(cert: SimpleNamespace, **extra: Any) -> dict:
    params = self_deployed(**{'creds_certificate': {'identifier': cert.thumbprint, 'password': cert.pem}, **extra})
    params.pop('creds_enc_key')
    return params


def auth_code_params(**extra: Any) -> dict:
    return self_deployed(**{'creds_auth_code': {'identifier': '', 'password': AUTH_CODE}, 'redirect_uri': REDIRECT_URI,
                            **extra})


def oproxy_params(**extra: Any) -> dict:
    params: dict[str, Any] = {
        'creds_auth_id': {'identifier': '', 'password': 'registration-id'},
        'creds_tenant_id': {'identifier': '', 'password': OPROXY_TOKEN},
        'creds_enc_key': {'identifier': '', 'password': OPROXY_KEY},
    }
    params.update(extra)
    return params


def mi_params(client_id: str = '', **extra: Any) -> dict:
    return {'use_managed_identities': True, 'managed_identities_client_id': {'identifier': '', 'password': client_id},
            **extra}


def new_client(params: dict) -> MicrosoftClient:
    return MicrosoftClient(AuthSettings.from_params(params))


def token_body(token: str = 'AT-1', **extra: Any) -> dict:
    return {'token_type': 'Bearer', 'expires_in': 3599, 'ext_expires_in': 3599, 'access_token': token, **extra}


def mock_login(requests_mock: Any, login_host: str = WORLDWIDE_LOGIN, responses: list | None = None) -> str:
    """Entra on `login_host`: the OpenID metadata document and the token endpoint. Returns the token URL."""
    authority = f'{login_host}/{TENANT}'
    token_url = f'{authority}/oauth2/v2.0/token'
    requests_mock.get(f'{authority}/v2.0/.well-known/openid-configuration', json={
        'token_endpoint': token_url, 'authorization_endpoint': f'{authority}/oauth2/v2.0/authorize',
        'issuer': f'{login_host}/{TENANT}/v2.0'})
    requests_mock.post(token_url, responses or [{'json': token_body()}])
    return token_url


def form(request: Any) -> dict:
    return dict(urllib.parse.parse_qsl(request.text))


def posts(requests_mock: Any, url: str) -> list:
    return [request for request in requests_mock.request_history if request.method == 'POST' and request.url == url]


def discovery_gets(requests_mock: Any) -> list:
    return [request for request in requests_mock.request_history if 'openid-configuration' in request.url]


def auth_state() -> dict:
    return demisto.getIntegrationContext().get('ms_auth', {})


def cache_entry(settings: AuthSettings) -> dict:
    return auth_state().get(settings.cache_key(), {})


def cached_client(params: dict | None = None, token: str = 'CACHED-TOKEN') -> MicrosoftClient:
    """A client whose configuration already has a valid token in the integration context."""
    client = new_client(params or self_deployed())
    demisto.setIntegrationContext({'ms_auth': {client.settings.cache_key(): {
        'access_token': token, 'valid_until': int(time.time()) + 3000}}})
    return client


def expire_cached_token() -> None:
    context = demisto.getIntegrationContext()
    for key, entry in context['ms_auth'].items():
        if key not in ('msal_http_cache', 'oproxy_backoff'):
            entry['valid_until'] = int(time.time()) - 1
    demisto.setIntegrationContext(context)


def verified_jwt(token: str, public_key: Any) -> tuple[dict, dict]:
    """Header and claims of an RS256 JWT after checking its signature with `public_key`."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64url(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + '=' * (-len(part) % 4))

    header, claims, signature = token.split('.')
    public_key.verify(b64url(signature), f'{header}.{claims}'.encode(), padding.PKCS1v15(), hashes.SHA256())
    return json.loads(b64url(header)), json.loads(b64url(claims))


def raises_config(params: dict) -> str:
    with pytest.raises(MicrosoftConfigError) as error:
        AuthSettings.from_params(params)
    return str(error.value)


class ScriptedServer:
    """A plain-HTTP server on 127.0.0.1 that answers with scripted (status, headers, JSON body) and records requests."""

    def __init__(self, answers: list[tuple[int, dict, Any]]) -> None:
        self.answers = list(answers)
        self.requests: list[SimpleNamespace] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                parts = urllib.parse.urlsplit(self.path)
                server.requests.append(SimpleNamespace(path=parts.path, query=dict(urllib.parse.parse_qsl(parts.query)),
                                                       headers=dict(self.headers)))
                status, headers, body = server.answers.pop(0) if len(server.answers) > 1 else server.answers[0]
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {'Content-Type': 'application/json', **headers}.items():
                    self.send_header(name, value)
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted_server():
    servers: list[ScriptedServer] = []

    def start(answers: list[tuple[int, dict, Any]]) -> ScriptedServer:
        servers.append(ScriptedServer(answers))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every address a socket of this test connects to (on top of the root conftest's loopback guard)."""
    seen: list = []
    guarded_connect = socket.socket.connect

    def recording_connect(sock: socket.socket, address: Any) -> Any:
        seen.append(address)
        return guarded_connect(sock, address)

    monkeypatch.setattr(socket.socket, 'connect', recording_connect)
    return seen


IMDS_OK: tuple[int, dict, Any] = (200, {}, {
    'access_token': 'MI-TOKEN', 'expires_in': '3599', 'expires_on': str(int(time.time()) + 3599), 'resource': 'x',
    'token_type': 'Bearer'})


# ---------------------------------------------------------------------------------------------------------------
# Settings: clouds, modes, validation, cache key
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('cloud_name', CLOUD_NAMES)
def test_cloud_record_gives_login_graph_and_scope_from_one_record(cloud_name: str) -> None:
    cloud_params, login_host, graph_host = CLOUDS[cloud_name]
    settings = AuthSettings.from_params(self_deployed(**cloud_params))
    assert settings.cloud.login_host == login_host
    assert settings.cloud.graph_host == graph_host
    assert settings.scope == f'{graph_host}/.default'
    assert settings.authority == f'{login_host}/{TENANT}'
    assert new_client(self_deployed(**cloud_params)).graph_url('users') == f'{graph_host}/v1.0/users'


def test_all_documented_clouds_are_offered() -> None:
    assert list(AZURE_CLOUDS) == ['Worldwide', 'US GCC', 'US GCC-High', 'DoD', 'Germany', 'China', 'Custom']


@pytest.mark.parametrize('host, login, graph', [
    (WORLDWIDE_GRAPH, WORLDWIDE_LOGIN, WORLDWIDE_GRAPH),
    (f'{WORLDWIDE_GRAPH}/v1.0/', WORLDWIDE_LOGIN, WORLDWIDE_GRAPH),
    (DOD_GRAPH, US_GOV_LOGIN, DOD_GRAPH),
    ('https://graph.example.org', WORLDWIDE_LOGIN, 'https://graph.example.org'),
    ('', WORLDWIDE_LOGIN, WORLDWIDE_GRAPH),
])
def test_legacy_instance_without_azure_cloud_takes_graph_host_from_host(host: str, login: str, graph: str) -> None:
    settings = AuthSettings.from_params(self_deployed(host=host))
    assert (settings.cloud.login_host, settings.cloud.graph_host) == (login, graph)


def test_host_is_ignored_when_a_named_cloud_is_selected() -> None:
    settings = AuthSettings.from_params(self_deployed(azure_cloud='China', host='https://graph.microsoft.com'))
    assert settings.cloud.graph_host == 'https://microsoftgraph.chinacloudapi.cn'


@pytest.mark.parametrize('params, mode', [
    (self_deployed(), 'client_credentials'),
    (self_deployed(redirect_uri=REDIRECT_URI), 'client_credentials'),
    (auth_code_params(), 'authorization_code'),
    (oproxy_params(), 'oproxy'),
    (oproxy_params(self_deployed=False), 'oproxy'),
    (mi_params(), 'managed_identity'),
    (mi_params(self_deployed=False), 'managed_identity'),
    (self_deployed(self_deployed='true'), 'client_credentials'),
])
def test_mode_selection(params: dict, mode: str) -> None:
    assert AuthSettings.from_params(params).mode == mode


def test_certificate_mode_and_thumbprint_normalisation(certificate: SimpleNamespace) -> None:
    pretty = ':'.join(certificate.sha1.hex()[i:i + 2] for i in range(0, 40, 2)).upper()
    settings = AuthSettings.from_params(
        certificate_params(certificate, creds_certificate={'identifier': pretty, 'password': certificate.pem}))
    assert settings.mode == 'certificate'
    assert settings.thumbprint == certificate.sha1.hex()
    assert settings.uses_certificate and not settings.client_secret


def test_certificate_wins_over_secret_and_auth_code_can_use_certificate(certificate: SimpleNamespace) -> None:
    both = self_deployed(creds_certificate={'identifier': certificate.thumbprint, 'password': certificate.pem})
    assert AuthSettings.from_params(both).mode == 'certificate'
    code = auth_code_params(creds_certificate={'identifier': certificate.thumbprint, 'password': certificate.pem})
    settings = AuthSettings.from_params(code)
    assert settings.mode == 'authorization_code' and settings.uses_certificate


def test_credentials_params_win_over_legacy_params() -> None:
    params = self_deployed(auth_id='legacy-id', tenant_id='legacy-tenant', enc_key='legacy-secret',
                           auth_code='legacy-code', redirect_uri=REDIRECT_URI,
                           creds_auth_code={'password': 'new-code'})
    settings = AuthSettings.from_params(params)
    assert (settings.client_id, settings.tenant_id, settings.client_secret, settings.auth_code) == \
        (CLIENT_ID, TENANT, SECRET, 'new-code')


def test_legacy_hidden_params_are_used_when_credentials_params_are_empty(certificate: SimpleNamespace) -> None:
    params = {'self_deployed': True, 'auth_id': CLIENT_ID, 'tenant_id': TENANT,
              'certificate_thumbprint': certificate.thumbprint, 'private_key': certificate.pem,
              'creds_auth_id': {'identifier': '', 'password': ''}}
    settings = AuthSettings.from_params(params)
    assert (settings.mode, settings.client_id, settings.tenant_id) == ('certificate', CLIENT_ID, TENANT)


def test_one_line_pem_paste_is_repaired(certificate: SimpleNamespace) -> None:
    lines = certificate.pem.strip().splitlines()
    one_line = ' '.join(lines)
    settings = AuthSettings.from_params(
        certificate_params(certificate, creds_certificate={'identifier': certificate.thumbprint,
                                                           'password': one_line}))
    assert settings.private_key == certificate.pem.strip()


def test_managed_identity_forces_self_deployed_and_skips_validation() -> None:
    settings = AuthSettings.from_params(mi_params(MI_CLIENT_ID))
    assert (settings.mode, settings.managed_identity_client_id) == ('managed_identity', MI_CLIENT_ID)
    assert AuthSettings.from_params(mi_params('SYSTEM_ASSIGNED')).managed_identity_client_id == ''


def test_oproxy_id_with_one_at_sign_overrides_the_broker_url() -> None:
    settings = AuthSettings.from_params(oproxy_params(creds_auth_id={'password': 'reg@https://broker.example/token'}))
    assert (settings.client_id, settings.oproxy_url) == ('reg', 'https://broker.example/token')
    two = AuthSettings.from_params(oproxy_params(creds_auth_id={'password': 'a@b@https://x'}))
    assert (two.client_id, two.oproxy_url) == ('a@b@https://x', 'https://oproxy.demisto.ninja/obtain-token')


@pytest.mark.parametrize('params, message', [
    (oproxy_params(creds_enc_key={'password': ''}),
     'Key must be provided. For further information see '
     'https://xsoar.pan.dev/docs/reference/articles/microsoft-integrations---authentication'),
    (self_deployed(creds_auth_code={'password': AUTH_CODE}),
     'Please provide both Application redirect URI and Authorization code for Authorization Code flow, or None for '
     'the Client Credentials flow'),
    (self_deployed(creds_enc_key={'password': ''}), 'Key or Certificate Thumbprint and Private Key must be provided.'),
    (self_deployed(creds_certificate={'identifier': 'ab' * 20, 'password': ''}),
     'Certificate authentication needs both "Certificate Thumbprint" and "Private Key": fill in "Private Key", or '
     'clear both to use the client secret.'),
    (self_deployed(creds_certificate={'identifier': '', 'password': '-----BEGIN PRIVATE KEY-----'}),
     'Certificate authentication needs both "Certificate Thumbprint" and "Private Key": fill in "Certificate '
     'Thumbprint", or clear both to use the client secret.'),
    (self_deployed(azure_cloud='Mars'),
     'Unknown "Azure Cloud" value "Mars". Choose one of: Worldwide, US GCC, US GCC-High, DoD, Germany, China, '
     'Custom.'),
    (self_deployed(azure_cloud='Custom', host='https://127.0.0.1:1'),
     'The Custom Azure cloud needs "Login host" (login_host): fill in the Graph URL (e.g. https://graph.microsoft.com) '
     'and the login URL (e.g. https://login.microsoftonline.com).'),
    (self_deployed(azure_cloud='Custom', login_host='https://127.0.0.1:1'),
     'The Custom Azure cloud needs "Server URL" (host): fill in the Graph URL (e.g. https://graph.microsoft.com) '
     'and the login URL (e.g. https://login.microsoftonline.com).'),
    (self_deployed(azure_cloud='Custom', host='graph.example.org', login_host='https://127.0.0.1:1'),
     'The "host" parameter must be an https URL such as https://graph.microsoft.com (got "graph.example.org").'),
    (self_deployed(timeout='soon'),
     'The "timeout" parameter must be a number of seconds between 1 and 600 (got "soon").'),
    (self_deployed(timeout='0'), 'The "timeout" parameter must be a number of seconds between 1 and 600 (got "0").'),
    (self_deployed(creds_auth_id={'password': ''}),
     'Client ID must be provided: fill in "ID / Client ID" with the application (client) ID of the app registration.'),
    (self_deployed(creds_tenant_id={'password': ''}),
     'Tenant ID must be provided: fill in "Token / Tenant ID" with the directory (tenant) ID.'),
    (self_deployed(creds_enc_key={'password': ''}, creds_certificate={'identifier': 'xyz', 'password': 'k'}),
     'The "Certificate Thumbprint" parameter must be the SHA-1 thumbprint of the certificate: 40 hexadecimal '
     'characters, as shown on the app\'s "Certificates & secrets" page.'),
    (oproxy_params(creds_enc_key={'password': base64.b64encode(b'short').decode()}),
     'The "Key" parameter is not the key received from the admin consent page: it must be base64 text of a 16, 24 or '
     '32 byte key. Copy it again into "Key / Client Secret".'),
    (oproxy_params(creds_enc_key={'password': 'not base64 !!'}),
     'The "Key" parameter is not the key received from the admin consent page: it must be base64 text of a 16, 24 or '
     '32 byte key. Copy it again into "Key / Client Secret".'),
    (oproxy_params(creds_auth_id={'password': ''}),
     'ID must be provided: fill in "ID / Client ID" with the ID received from the admin consent page. For further '
     'information see https://xsoar.pan.dev/docs/reference/articles/microsoft-integrations---authentication'),
    (oproxy_params(creds_tenant_id={'password': ''}),
     'Token must be provided: fill in "Token / Tenant ID" with the Token received from the admin consent page. For '
     'further information see https://xsoar.pan.dev/docs/reference/articles/microsoft-integrations---authentication'),
])
def test_configuration_mistakes_raise_one_clear_error(params: dict, message: str) -> None:
    assert raises_config(params) == message


def test_validation_is_skipped_for_managed_identity() -> None:
    assert AuthSettings.from_params(mi_params(creds_enc_key={'password': ''})).mode == 'managed_identity'


def test_managed_identity_still_validates_cloud_and_timeout() -> None:
    assert 'Unknown "Azure Cloud"' in raises_config(mi_params(azure_cloud='Pluto'))
    assert '"timeout"' in raises_config(mi_params(timeout='-3'))


def test_timeout_param_is_used_and_defaults_to_60_seconds() -> None:
    assert AuthSettings.from_params(self_deployed()).timeout == 60
    assert AuthSettings.from_params(self_deployed(timeout='15')).timeout == 15


def test_settings_repr_holds_no_secret(certificate: SimpleNamespace) -> None:
    text = repr(AuthSettings.from_params(auth_code_params())) + repr(AuthSettings.from_params(oproxy_params()))
    text += repr(AuthSettings.from_params(certificate_params(certificate)))
    for secret in (SECRET, AUTH_CODE, OPROXY_KEY, OPROXY_TOKEN, certificate.pem):
        assert secret not in text


@pytest.mark.parametrize('change', [
    {'creds_enc_key': {'password': 'another-secret'}},
    {'creds_tenant_id': {'password': 'another-tenant'}},
    {'creds_auth_id': {'password': 'another-client'}},
    {'azure_cloud': 'US GCC-High'},
    {'azure_cloud': 'Custom', 'host': 'https://127.0.0.1:1', 'login_host': 'https://127.0.0.1:2'},
    {'creds_auth_code': {'password': 'another-code'}, 'redirect_uri': REDIRECT_URI},
    {'redirect_uri': 'https://other.example/cb', 'creds_auth_code': {'password': AUTH_CODE}},
    {'self_deployed': False, 'creds_enc_key': {'password': OPROXY_KEY}},
])
def test_cache_key_changes_with_every_auth_parameter(change: dict) -> None:
    base = auth_code_params() if 'creds_auth_code' in change or 'redirect_uri' in change else self_deployed()
    assert AuthSettings.from_params(base).cache_key() != AuthSettings.from_params({**base, **change}).cache_key()
    assert AuthSettings.from_params(base).cache_key() == AuthSettings.from_params(dict(base)).cache_key()


def test_cache_key_covers_certificate_oproxy_and_identity_values(certificate: SimpleNamespace) -> None:
    other_thumbprint = {'identifier': 'ab' * 20, 'password': certificate.pem}
    assert AuthSettings.from_params(certificate_params(certificate)).cache_key() != \
        AuthSettings.from_params(certificate_params(certificate, creds_certificate=other_thumbprint)).cache_key()
    other_key = base64.b64encode(bytes(16)).decode()
    keys = {AuthSettings.from_params(params).cache_key() for params in (
        oproxy_params(), oproxy_params(creds_enc_key={'password': other_key}),
        oproxy_params(creds_tenant_id={'password': 'other-token'}), mi_params(), mi_params(MI_CLIENT_ID))}
    assert len(keys) == 5


def test_cache_key_holds_no_secret_value() -> None:
    settings = AuthSettings.from_params(oproxy_params())
    assert len(settings.cache_key()) == 64 and OPROXY_TOKEN not in settings.cache_key()


# ---------------------------------------------------------------------------------------------------------------
# Client credentials (secret) and certificate through msal
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('cloud_name', CLOUD_NAMES)
def test_client_secret_token_request_per_cloud(requests_mock: Any, cloud_name: str) -> None:
    cloud_params, login_host, graph_host = CLOUDS[cloud_name]
    token_url = mock_login(requests_mock, login_host)
    requests_mock.get(f'{graph_host}/v1.0/users', json={'value': [{'id': 'u1'}]})

    assert new_client(self_deployed(**cloud_params)).http_request('GET', 'users') == {'value': [{'id': 'u1'}]}

    [token_request] = posts(requests_mock, token_url)
    assert form(token_request) == {'client_id': CLIENT_ID, 'client_secret': SECRET, 'grant_type': 'client_credentials',
                                   'scope': f'{graph_host}/.default', 'client_info': '1'}
    graph_request = requests_mock.request_history[-1]
    assert graph_request.url == f'{graph_host}/v1.0/users'
    assert graph_request.headers['Authorization'] == 'Bearer AT-1'
    assert all('discovery/instance' not in request.url for request in requests_mock.request_history)


@pytest.mark.parametrize('cloud_name', CLOUD_NAMES)
def test_certificate_token_request_carries_an_rs256_assertion(requests_mock: Any, certificate: SimpleNamespace,
                                                              cloud_name: str) -> None:
    cloud_params, login_host, graph_host = CLOUDS[cloud_name]
    token_url = mock_login(requests_mock, login_host)

    assert new_client(certificate_params(certificate, **cloud_params)).get_access_token() == 'AT-1'

    [token_request] = posts(requests_mock, token_url)
    body = form(token_request)
    assert (body['grant_type'], body['scope'], body['client_id']) == \
        ('client_credentials', f'{graph_host}/.default', CLIENT_ID)
    assert body['client_assertion_type'] == 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
    assert 'client_secret' not in body
    header, claims = verified_jwt(body['client_assertion'], certificate.public_key)
    assert header['alg'] == 'RS256'
    assert header['x5t'].rstrip('=') == base64.urlsafe_b64encode(certificate.sha1).decode().rstrip('=')
    assert (claims['iss'], claims['sub'], claims['aud']) == (CLIENT_ID, CLIENT_ID, token_url)
    assert claims['iat'] - 60 <= time.time() < claims['exp']


def test_unusable_private_key_is_a_configuration_error(requests_mock: Any, certificate: SimpleNamespace) -> None:
    broken = certificate.pem.replace('\n', '\n\n').replace('A', 'B', 40)
    client = new_client(certificate_params(certificate, creds_certificate={'identifier': certificate.thumbprint,
                                                                           'password': broken}))
    with pytest.raises(MicrosoftConfigError, match='The "Private Key" parameter cannot be used: it is not a PEM'):
        client.get_access_token()
    assert requests_mock.request_history == []


def test_first_run_discovers_then_cold_runs_send_only_the_token_post(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock, responses=[{'json': token_body('AT-1')}, {'json': token_body('AT-2')}])
    new_client(self_deployed()).get_access_token()
    assert len(discovery_gets(requests_mock)) == 1 and len(posts(requests_mock, token_url)) == 1
    assert auth_state()['msal_http_cache']

    expire_cached_token()
    requests_mock.reset_mock()
    assert new_client(self_deployed()).get_access_token() == 'AT-2'  # a new run: new client, new msal app
    assert [request.method for request in requests_mock.request_history] == ['POST']


def test_persisted_http_cache_refuses_foreign_pickles() -> None:
    class Evil:
        def __reduce__(self) -> tuple:
            return (os.system, ('echo pwned',))

    blob = base64.b64encode(pickle.dumps({'x': Evil()})).decode()
    assert ms.ms_load_http_cache(blob) == {}
    assert ms.ms_load_http_cache('not base64 at all') == {}


def test_cached_token_is_reused_without_any_token_request(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock)
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', json={'value': []})
    new_client(self_deployed()).http_request('GET', 'users')
    requests_mock.reset_mock()

    new_client(self_deployed()).http_request('GET', 'users')

    assert [request.url for request in requests_mock.request_history] == [f'{WORLDWIDE_GRAPH}/v1.0/users']
    assert posts(requests_mock, token_url) == []


def test_token_is_refreshed_a_few_minutes_before_expiry(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock, responses=[{'json': token_body('AT-1')}, {'json': token_body('AT-2')}])
    client = new_client(self_deployed())
    client.get_access_token()
    assert cache_entry(client.settings)['valid_until'] <= time.time() + 3599 - 300 + 1
    assert client.get_access_token() == 'AT-1'  # later in the same run: kept in memory, context not re-read
    expire_cached_token()
    assert new_client(self_deployed()).get_access_token() == 'AT-2'  # the next run
    assert len(posts(requests_mock, token_url)) == 2


def test_changed_parameter_fetches_a_new_token_and_drops_the_old_entry(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock, responses=[{'json': token_body('AT-old')}, {'json': token_body('AT-new')}])
    old = new_client(self_deployed())
    old.get_access_token()
    new = new_client(self_deployed(creds_enc_key={'password': 'rotated-secret'}))

    assert new.get_access_token() == 'AT-new'

    assert form(posts(requests_mock, token_url)[1])['client_secret'] == 'rotated-secret'
    entries = {key for key in auth_state() if key != 'msal_http_cache'}
    assert entries == {new.settings.cache_key()}


def test_other_integration_context_keys_survive_token_writes(requests_mock: Any) -> None:
    mock_login(requests_mock)
    demisto.setIntegrationContext({'delta_link': 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=1'})
    new_client(self_deployed()).get_access_token()
    assert demisto.getIntegrationContext()['delta_link'].endswith('$deltatoken=1')


@pytest.mark.parametrize('status, body, expected', [
    (401, {'error': 'invalid_client', 'error_description': "AADSTS7000215: Invalid client secret provided. Ensure the "
           "secret being sent in the request is the client secret value.\r\nTrace ID: 1\r\nCorrelation ID: 2\r\n"
           "Timestamp: 2024-01-01 00:00:00Z", 'error_codes': [7000215]},
     "Error in Microsoft authorization. Status: 401, body: invalid_client.\nInvalid client secret provided. Ensure the "
     "secret being sent in the request is the client secret value."),
    (400, {'error': 'invalid_client', 'error_description': 'AADSTS7000222: The provided client secret keys are '
           'expired. Trace ID: x', 'error_codes': [7000222]},
     'Error in Microsoft authorization. Status: 400, body: invalid_client.\nThe provided client secret keys are '
     'expired.\nYou can run the ***msgraph-user-auth-reset*** command to reset the authentication process.'),
])
def test_entra_error_text_is_extracted_without_secrets(requests_mock: Any, status: int, body: dict,
                                                       expected: str) -> None:
    mock_login(requests_mock, responses=[{'status_code': status, 'json': body}])
    with pytest.raises(MicrosoftAuthError) as error:
        new_client(self_deployed()).get_access_token()
    assert str(error.value) == expected
    assert SECRET not in str(error.value)


def test_token_endpoint_unreachable_names_the_host(requests_mock: Any) -> None:
    mock_login(requests_mock, responses=[{'exc': requests.exceptions.ConnectTimeout('connect timed out')}])
    with pytest.raises(MicrosoftAuthError) as error:
        new_client(self_deployed()).get_access_token()
    assert str(error.value) == ('Error in Microsoft authorization: could not reach https://login.microsoftonline.com: '
                                'no answer within 60.0 s (timeout)')


def test_token_request_uses_the_instance_timeout_and_tls_setting(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock)
    new_client(self_deployed(timeout='7', insecure=True)).get_access_token()
    [token_request] = posts(requests_mock, token_url)
    assert (token_request.timeout, token_request.verify) == (7.0, False)


# ---------------------------------------------------------------------------------------------------------------
# Authorization code and refresh-token rotation
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('cloud_name', CLOUD_NAMES)
def test_authorization_code_then_refresh_token_rotation(requests_mock: Any, cloud_name: str) -> None:
    cloud_params, login_host, graph_host = CLOUDS[cloud_name]
    token_url = mock_login(requests_mock, login_host, responses=[
        {'json': token_body('AT-1', refresh_token='RT-1')},
        {'json': token_body('AT-2', refresh_token='RT-2')},
        {'json': token_body('AT-3')},  # no refresh token in this answer: RT-2 must survive
        {'json': token_body('AT-4', refresh_token='RT-4')},
    ])
    client = new_client(auth_code_params(**cloud_params))
    scope = {f'{graph_host}/.default', 'offline_access', 'openid', 'profile'}

    assert client.get_access_token() == 'AT-1'
    first = form(posts(requests_mock, token_url)[0])
    assert (first['grant_type'], first['code'], first['redirect_uri'], first['client_secret']) == \
        ('authorization_code', AUTH_CODE, REDIRECT_URI, SECRET)
    assert set(first['scope'].split()) == scope
    assert cache_entry(client.settings)['refresh_token'] == 'RT-1'  # persisted before the token is used

    for expected_token, sent_refresh, kept_refresh in (('AT-2', 'RT-1', 'RT-2'), ('AT-3', 'RT-2', 'RT-2'),
                                                       ('AT-4', 'RT-2', 'RT-4')):
        expire_cached_token()
        client = new_client(auth_code_params(**cloud_params))  # the next command run
        assert client.get_access_token() == expected_token
        sent = form(posts(requests_mock, token_url)[-1])
        assert (sent['grant_type'], sent['refresh_token']) == ('refresh_token', sent_refresh)
        assert 'code' not in sent and set(sent['scope'].split()) == scope
        assert cache_entry(client.settings)['refresh_token'] == kept_refresh


def test_new_auth_code_discards_the_stored_refresh_token(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock, responses=[{'json': token_body('AT-1', refresh_token='RT-1')},
                                                     {'json': token_body('AT-2', refresh_token='RT-2')}])
    new_client(auth_code_params()).get_access_token()
    client = new_client(auth_code_params(creds_auth_code={'password': 'fresh-code'}))
    assert client.get_access_token() == 'AT-2'
    sent = form(posts(requests_mock, token_url)[-1])
    assert (sent['grant_type'], sent['code']) == ('authorization_code', 'fresh-code')
    assert [key for key in auth_state() if key != 'msal_http_cache'] == [client.settings.cache_key()]


def test_auth_code_with_session_state_is_rejected_before_any_request(requests_mock: Any) -> None:
    client = new_client(auth_code_params(creds_auth_code={'password': 'abc&session_state=xyz'}))
    with pytest.raises(MicrosoftConfigError) as error:
        client.get_access_token()
    assert str(error.value) == ('Malformed auth_code parameter: Please copy the auth code from the redirected uri '
                                'without any additional info and without the "session_state" query parameter.')
    assert requests_mock.request_history == []


def test_expired_refresh_token_error_suggests_auth_reset(requests_mock: Any) -> None:
    mock_login(requests_mock, responses=[
        {'json': token_body('AT-1', refresh_token='RT-1')},
        {'status_code': 400, 'json': {'error': 'invalid_grant', 'error_description': 'AADSTS70008: The provided '
                                      'authorization code or refresh token has expired due to inactivity.',
                                      'error_codes': [70008]}}])
    client = new_client(auth_code_params())
    client.get_access_token()
    expire_cached_token()
    with pytest.raises(MicrosoftAuthError) as error:
        new_client(auth_code_params()).get_access_token()
    assert str(error.value) == ('Error in Microsoft authorization. Status: 400, body: invalid_grant.\nThe provided '
                                'authorization code or refresh token has expired due to inactivity.\nYou can run the '
                                '***msgraph-user-auth-reset*** command to reset the authentication process.\n'
                                + ms.MS_SIGN_IN_AGAIN_HINT)
    assert cache_entry(client.settings)['refresh_token'] == 'RT-1'  # never blanked by a failure


def test_reset_auth_forgets_tokens_but_keeps_other_keys(requests_mock: Any) -> None:
    mock_login(requests_mock, responses=[{'json': token_body('AT-1', refresh_token='RT-1')}])
    client = new_client(auth_code_params())
    client.get_access_token()
    mutate_integration_context(lambda context: context.update({'delta_link': 'x', 'current_refresh_token': 'old'}))
    client.reset_auth()
    assert demisto.getIntegrationContext() == {'delta_link': 'x'}


def test_refresh_token_of_the_previous_module_is_migrated_once(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock, responses=[{'json': token_body('AT-1', refresh_token='RT-1')}])
    demisto.setIntegrationContext({'access_token': 'old', 'valid_until': 1, 'current_refresh_token': 'LEGACY-RT',
                                   'delta_link': 'kept'})
    client = new_client(auth_code_params())
    assert client.get_access_token() == 'AT-1'
    sent = form(posts(requests_mock, token_url)[0])
    assert (sent['grant_type'], sent['refresh_token']) == ('refresh_token', 'LEGACY-RT')
    context = demisto.getIntegrationContext()
    assert 'current_refresh_token' not in context and 'access_token' not in context and context['delta_link'] == 'kept'
    assert cache_entry(client.settings)['refresh_token'] == 'RT-1'


def test_a_failing_migrated_refresh_token_is_dropped(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock, responses=[
        {'status_code': 400, 'json': {'error': 'invalid_grant', 'error_codes': [50173]}},
        {'json': token_body('AT-1', refresh_token='RT-1')}])
    demisto.setIntegrationContext({'current_refresh_token': 'LEGACY-RT'})
    with pytest.raises(MicrosoftAuthError, match='invalid_grant'):
        new_client(auth_code_params()).get_access_token()
    assert 'current_refresh_token' not in demisto.getIntegrationContext()
    assert new_client(auth_code_params()).get_access_token() == 'AT-1'
    assert form(posts(requests_mock, token_url)[1])['grant_type'] == 'authorization_code'


def test_paging_in_one_run_reads_the_context_once(requests_mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    client = cached_client()
    reads = []
    real_read = ms.get_integration_context

    def counting_read(*args: Any, **kwargs: Any) -> dict:
        reads.append(1)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(ms, 'get_integration_context', counting_read)
    page2 = f'{WORLDWIDE_GRAPH}/v1.0/users?$skiptoken=2'
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', [{'json': {'value': [{'id': 1}], '@odata.nextLink': page2}},
                                                        {'json': {'value': [{'id': 2}]}}])
    assert len(client.list_paged('users')[0]) == 2
    assert len(reads) == 1


@pytest.mark.parametrize('cloud_name', CLOUD_NAMES)
def test_login_url_is_cloud_aware_and_fully_encoded(cloud_name: str) -> None:
    cloud_params, login_host, graph_host = CLOUDS[cloud_name]
    client = new_client(self_deployed(redirect_uri='https://xsoar.example/cb?x=1&y=2', **cloud_params))
    url = client.generate_login_url()
    enc = urllib.parse.quote
    assert url == (f'{login_host}/{TENANT}/oauth2/v2.0/authorize?response_type=code'
                   f'&scope=offline_access%20{enc(graph_host, safe="")}%2F.default&client_id={CLIENT_ID}'
                   f'&redirect_uri={enc("https://xsoar.example/cb?x=1&y=2", safe="")}')


def test_login_url_lists_what_is_missing() -> None:
    with pytest.raises(MicrosoftConfigError) as error:
        new_client(self_deployed()).generate_login_url()
    assert str(error.value) == ('Please make sure you entered the Authorization configuration correctly. '
                                'Missing:Redirect URI')
    with pytest.raises(MicrosoftConfigError, match='only used with a self-deployed application'):
        new_client(oproxy_params()).generate_login_url()


# ---------------------------------------------------------------------------------------------------------------
# oproxy
# ---------------------------------------------------------------------------------------------------------------

def decrypt_oproxy(encrypted: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = base64.b64decode(encrypted)
    assert len(raw) == 12 + len(f'{int(time.time())}:{OPROXY_TOKEN}') + 16
    return AESGCM(OPROXY_KEY_BYTES).decrypt(raw[:12], raw[12:], None).decode()


@pytest.mark.parametrize('cloud_name', CLOUD_NAMES)
def test_oproxy_request_body_and_encrypted_token(requests_mock: Any, cloud_name: str) -> None:
    cloud_params, _, graph_host = CLOUDS[cloud_name]
    broker = requests_mock.post('https://oproxy.demisto.ninja/obtain-token',
                                json={'access_token': 'OP-1', 'expires_in': 3595, 'refresh_token': 'ignored'})
    requests_mock.get(f'{graph_host}/v1.0/users', json={'value': []})
    before = int(time.time())

    new_client(oproxy_params(**cloud_params)).http_request('GET', 'users')

    body = broker.last_request.json()
    assert set(body) == {'app_name', 'registration_id', 'encrypted_token', 'scope', 'resource'}
    assert (body['app_name'], body['registration_id'], body['scope'], body['resource']) == \
        ('ms-graph-user', 'registration-id', None, '')
    epoch, token = decrypt_oproxy(body['encrypted_token']).split(':', 1)
    assert token == OPROXY_TOKEN and before <= int(epoch) <= time.time()
    assert broker.last_request.headers['X-Content-Name'] == 'Microsoft Graph User'
    assert {'X-Content-Version', 'X-Content-LicenseID', 'X-Content-Branch', 'X-Content-Server-Version'} <= \
        set(broker.last_request.headers)
    assert requests_mock.request_history[-1].headers['Authorization'] == 'Bearer OP-1'
    assert 'refresh_token' not in json.dumps(auth_state())


def test_oproxy_url_override_and_headers_omitted_when_unavailable(requests_mock: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict:
        raise AttributeError('getLicenseID')

    monkeypatch.setattr(ms, 'get_x_content_info_headers', broken)
    broker = requests_mock.post('https://127.0.0.1:7000/token', json={'access_token': 'OP-1'})
    new_client(oproxy_params(creds_auth_id={'password': 'reg@https://127.0.0.1:7000/token'})).get_access_token()
    assert broker.last_request.json()['registration_id'] == 'reg'
    assert not [name for name in broker.last_request.headers if name.startswith('X-Content')]


@pytest.mark.parametrize('status, response, expected', [
    (401, {'text': 'Error: failed to get access token with err: {"error": "invalid_grant", "error_description": '
           '"AADSTS700003: Device object was not found in the tenant \'test\' directory. Trace ID: 1", '
           '"error_codes": [700003]}'},
     "Error in Microsoft authorization. Status: 401, body: invalid_grant.\n"
     "Device object was not found in the tenant 'test' directory."),
    (400, {'json': {'title': 'Bad Request', 'detail': 'registration not found'}},
     'Error in Microsoft authorization. Status: 400, body: {"title": "Bad Request", "detail": "registration not '
     'found"} Server message: Bad Request. registration not found'),
    (403, {'json': {'error': 'Error: failed with err: {"error": "unauthorized_client", "error_description": '
                             '"AADSTS700016: Application not found."}', 'message': 'Consent required'}},
     'Error in Microsoft authorization. Status: 403, body: unauthorized_client.\nApplication not found. '
     'Server message: Consent required'),
])
def test_oproxy_error_texts(requests_mock: Any, status: int, response: dict, expected: str) -> None:
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token', status_code=status, **response)
    with pytest.raises(MicrosoftAuthError) as error:
        new_client(oproxy_params()).get_access_token()
    assert str(error.value) == expected


def test_oproxy_unparseable_answer(requests_mock: Any) -> None:
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token', text='<html>gateway</html>')
    with pytest.raises(MicrosoftAuthError) as error:
        new_client(oproxy_params()).get_access_token()
    assert str(error.value) == ('There was a problem in retrieving an updated access token.\n'
                                'The response from the Oproxy server did not contain the expected content.')


def test_oproxy_backoff_delays_requests_after_failures(requests_mock: Any) -> None:
    broker = requests_mock.post('https://oproxy.demisto.ninja/obtain-token', [
        {'status_code': 500, 'text': 'boom'}, {'json': {'access_token': 'OP-1', 'expires_in': 3595}}])
    client = new_client(oproxy_params())
    with pytest.raises(MicrosoftAuthError, match='Status: 500'):
        client.get_access_token()
    backoff = auth_state()['oproxy_backoff']
    assert backoff['delay_request_counter'] == 2 and 1 < backoff['next_request_time'] - time.time() <= 2

    with pytest.raises(MicrosoftAuthError) as error:
        client.get_access_token()
    until = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(backoff['next_request_time']))
    assert str(error.value) == f'The request will be delayed until {until}'
    assert broker.call_count == 1  # no request while delayed

    context = demisto.getIntegrationContext()
    context['ms_auth']['oproxy_backoff']['next_request_time'] = time.time() - 1
    demisto.setIntegrationContext(context)
    assert client.get_access_token() == 'OP-1'
    assert 'oproxy_backoff' not in auth_state()  # reset in the same write as the token


def test_oproxy_backoff_grows_and_is_capped(requests_mock: Any) -> None:
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token', status_code=502, text='bad gateway')
    client = new_client(oproxy_params())
    delays = []
    for _ in range(8):
        context = demisto.getIntegrationContext()
        context.setdefault('ms_auth', {}).setdefault('oproxy_backoff', {})['next_request_time'] = 0.0
        demisto.setIntegrationContext(context)
        with pytest.raises(MicrosoftAuthError):
            client.get_access_token()
        delays.append(round(auth_state()['oproxy_backoff']['next_request_time'] - time.time()))
    assert delays == [2, 4, 8, 16, 32, 64, 64, 64]
    assert auth_state()['oproxy_backoff']['delay_request_counter'] == 6


# ---------------------------------------------------------------------------------------------------------------
# Managed identity (real HTTP on 127.0.0.1)
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('cloud_name', CLOUD_NAMES)
def test_managed_identity_asks_the_overridden_imds_for_the_cloud_graph_resource(
        scripted_server: Any, connections: list, monkeypatch: pytest.MonkeyPatch, cloud_name: str) -> None:
    cloud_params, _, graph_host = CLOUDS[cloud_name]
    imds = scripted_server([IMDS_OK])
    monkeypatch.setenv('AZURE_POD_IDENTITY_AUTHORITY_HOST', imds.url)
    # With "Use system proxy" on, the environment proxy stays set; IMDS must still be reached directly.
    monkeypatch.setenv('HTTP_PROXY', 'http://10.255.255.1:3128')

    assert new_client(mi_params(MI_CLIENT_ID, proxy=True, **cloud_params)).get_access_token() == 'MI-TOKEN'

    [request] = imds.requests
    assert request.path == '/metadata/identity/oauth2/token'
    assert request.query == {'api-version': '2018-02-01', 'resource': graph_host, 'client_id': MI_CLIENT_ID}
    assert request.headers['Metadata'] == 'true'
    assert connections and all(address[0] == '127.0.0.1' for address in connections)


def test_system_assigned_identity_sends_no_identity_selector(scripted_server: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    imds = scripted_server([IMDS_OK])
    monkeypatch.setenv('AZURE_POD_IDENTITY_AUTHORITY_HOST', imds.url)
    client = new_client(mi_params())
    assert client.get_access_token() == 'MI-TOKEN'
    assert imds.requests[0].query == {'api-version': '2018-02-01', 'resource': WORLDWIDE_GRAPH}
    assert cache_entry(client.settings)['access_token'] == 'MI-TOKEN'


def test_imds_404_410_and_503_are_retried_with_patched_sleeps(scripted_server: Any, runtime: list,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    imds = scripted_server([(404, {}, {'error': 'not_found'}), (410, {}, {}),
                            (503, {'Retry-After': '2'}, {}), IMDS_OK])
    monkeypatch.setenv('AZURE_POD_IDENTITY_AUTHORITY_HOST', imds.url)
    assert new_client(mi_params()).get_access_token() == 'MI-TOKEN'
    assert len(imds.requests) == 4
    assert runtime == [0.0, 1.6, 2.0]


def test_imds_keeps_retrying_404_for_more_than_70_seconds_then_fails(scripted_server: Any, runtime: list,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    imds = scripted_server([(404, {}, {'error': 'invalid_request', 'error_description': 'Identity not found'})])
    monkeypatch.setenv('AZURE_POD_IDENTITY_AUTHORITY_HOST', imds.url)
    with pytest.raises(MicrosoftAuthError) as error:
        new_client(mi_params(MI_CLIENT_ID)).get_access_token()
    assert str(error.value) == ('Error in Microsoft authorization with Azure Managed Identities: Status: 404, body: '
                                'invalid_request.\nIdentity not found')
    assert len(imds.requests) == 8
    assert 70 <= sum(runtime) <= 130


def test_imds_bad_request_is_not_retried(scripted_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    imds = scripted_server([(400, {}, {'error': 'invalid_request', 'error_description': 'Identity not found'})])
    monkeypatch.setenv('AZURE_POD_IDENTITY_AUTHORITY_HOST', imds.url)
    with pytest.raises(MicrosoftAuthError, match='Status: 400'):
        new_client(mi_params('wrong-id')).get_access_token()
    assert len(imds.requests) == 1


def test_app_service_identity_endpoint_is_used_when_configured(scripted_server: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = scripted_server([(200, {}, {'access_token': 'APP-TOKEN', 'expires_on': str(int(time.time()) + 3600),
                                           'resource': WORLDWIDE_GRAPH, 'token_type': 'Bearer'})])
    monkeypatch.setenv('IDENTITY_ENDPOINT', f'{endpoint.url}/msi/token')
    monkeypatch.setenv('IDENTITY_HEADER', 'app-service-header')
    assert new_client(mi_params(MI_CLIENT_ID)).get_access_token() == 'APP-TOKEN'
    [request] = endpoint.requests
    assert request.path == '/msi/token'
    assert request.query == {'api-version': '2019-08-01', 'resource': WORLDWIDE_GRAPH, 'client_id': MI_CLIENT_ID}
    assert request.headers['X-IDENTITY-HEADER'] == 'app-service-header'


def test_unreachable_identity_endpoint_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv('AZURE_POD_IDENTITY_AUTHORITY_HOST', f'http://127.0.0.1:{port}')
    with pytest.raises(MicrosoftAuthError) as error:
        new_client(mi_params()).get_access_token()
    assert str(error.value) == ('Error in Microsoft authorization with Azure Managed Identities: could not reach the '
                                'managed identity endpoint: Connection refused')


# ---------------------------------------------------------------------------------------------------------------
# Warm path: a cached token costs one HTTP request and no msal / cryptography import
# ---------------------------------------------------------------------------------------------------------------

WARM_SCRIPT = '''
import json, sys, time
import requests_mock
import demistomock as demisto
import MicrosoftApiModule as ms
params = json.loads(sys.argv[1])
demisto.set_invocation('msgraph-user-list', params=params)
settings = ms.AuthSettings.from_params(params)
demisto.setIntegrationContext({'ms_auth': {settings.cache_key(): {
    'access_token': 'WARM', 'valid_until': int(time.time()) + 3000}}})
heavy = ('msal', 'cryptography', 'jwt')
before = sorted(name for name in sys.modules if name.split('.')[0] in heavy)
with requests_mock.Mocker() as mocker:
    mocker.get(settings.cloud.graph_host + '/v1.0/users', json={'value': [{'id': '1'}]})
    result = ms.MicrosoftClient(settings).http_request('GET', 'users')
    print(json.dumps({'before': before, 'after': sorted(name for name in sys.modules if name.split('.')[0] in heavy),
                      'calls': [r.url for r in mocker.request_history],
                      'auth': mocker.request_history[0].headers['Authorization'], 'result': result}))
'''


@pytest.mark.parametrize('params', [self_deployed(), auth_code_params(), oproxy_params(), mi_params(),
                                    self_deployed(creds_enc_key={'password': ''},
                                                  creds_certificate={'identifier': 'ab' * 20, 'password': 'PEM'})],
                         ids=['secret', 'auth-code', 'oproxy', 'managed-identity', 'certificate'])
def test_cached_token_path_sends_one_request_and_imports_no_msal(params: dict) -> None:
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(str(ROOT / part) for part in ('', 'xsoar_runtime',
                                                                                    'MicrosoftApiModule'))}
    completed = subprocess.run([sys.executable, '-c', WARM_SCRIPT, json.dumps(params)], capture_output=True,
                               text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    out = json.loads(completed.stdout.strip().splitlines()[-1])
    assert out['before'] == [] and out['after'] == []
    assert out['calls'] == ['https://graph.microsoft.com/v1.0/users']
    assert out['auth'] == 'Bearer WARM' and out['result'] == {'value': [{'id': '1'}]}


# ---------------------------------------------------------------------------------------------------------------
# Graph requests
# ---------------------------------------------------------------------------------------------------------------

def test_request_headers_query_encoding_and_body(requests_mock: Any) -> None:
    route = requests_mock.post(f'{WORLDWIDE_GRAPH}/v1.0/users', status_code=201, json={'id': 'new'})
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', json={'value': []})
    client = cached_client()

    client.http_request('GET', 'users', params={'$filter': "displayName eq 'a b+c'", '$top': 5, '$count': True,
                                                '$select': ['id', 'mail'], 'skip': None})
    client.http_request('POST', 'users', json_data={'displayName': 'x'})

    get_request, post_request = requests_mock.request_history
    assert get_request.url == (f'{WORLDWIDE_GRAPH}/v1.0/users?$filter=displayName%20eq%20%27a%20b%2Bc%27&$top=5'
                               '&$count=true&$select=id%2Cmail')
    assert '+' not in get_request.url.split('?')[1]
    assert get_request.headers['Authorization'] == 'Bearer CACHED-TOKEN'
    assert get_request.headers['Accept'] == 'application/json'
    assert 'Content-Type' not in get_request.headers
    assert get_request.timeout == 60
    assert post_request.headers['Content-Type'] == 'application/json' and post_request.json() == {'displayName': 'x'}
    ids = [get_request.headers['client-request-id'], post_request.headers['client-request-id']]
    assert len(set(ids)) == 2 and all(len(value) == 36 for value in ids)
    assert route.call_count == 1


def test_beta_is_per_call_and_does_not_change_the_client(requests_mock: Any) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/beta/users/u1/authentication/signInPreferences', json={'x': 1})
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users/u1', json={'id': 'u1'})
    client = cached_client()
    assert client.http_request('GET', 'users/u1/authentication/signInPreferences', api_version='beta') == {'x': 1}
    assert client.http_request('GET', 'users/u1') == {'id': 'u1'}
    assert client._base_url == f'{WORLDWIDE_GRAPH}/v1.0/'


@pytest.mark.parametrize('status, body', [(204, ''), (200, ''), (202, '  ')])
def test_empty_answers_are_none(requests_mock: Any, status: int, body: str) -> None:
    requests_mock.delete(f'{WORLDWIDE_GRAPH}/v1.0/users/u1', status_code=status, text=body)
    assert cached_client().http_request('DELETE', 'users/u1') is None


def test_other_response_types_and_ok_codes(requests_mock: Any) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users/u1', status_code=404, json={'error': {'code': 'NotFound'}})
    client = cached_client()
    response = client.http_request('GET', 'users/u1', ok_codes=(200, 404), resp_type='response')
    assert response.status_code == 404
    text = client.http_request('GET', 'users/u1', ok_codes=(404,), resp_type='text')
    assert text == '{"error": {"code": "NotFound"}}'


def test_invalid_json_answer_is_a_clear_error(requests_mock: Any) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', text='<html/>', headers={'Content-Type': 'text/html'})
    with pytest.raises(DemistoException) as error:
        cached_client().http_request('GET', 'users')
    assert str(error.value) == ('Microsoft Graph returned a body that is not JSON for GET /v1.0/users (status 200, '
                                'content type text/html, request-id unknown).')


def test_graph_error_text_from_body_inner_error(requests_mock: Any) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users/nobody', status_code=404, json={'error': {
        'code': 'Request_ResourceNotFound', 'message': "Resource 'nobody' does not exist.",
        'innerError': {'date': '2024-05-01T10:00:00', 'request-id': 'req-1', 'client-request-id': 'c-1'}}})
    with pytest.raises(GraphError) as error:
        cached_client().http_request('GET', 'users/nobody')
    assert str(error.value) == ("404 Request_ResourceNotFound: Resource 'nobody' does not exist. "
                                "(request-id req-1, date 2024-05-01T10:00:00)")
    assert (error.value.status, error.value.code, error.value.request_id, error.value.method) == \
        (404, 'Request_ResourceNotFound', 'req-1', 'GET')
    assert error.value.url == f'{WORLDWIDE_GRAPH}/v1.0/users/nobody'


def test_graph_error_falls_back_to_headers_and_handles_non_json(requests_mock: Any) -> None:
    requests_mock.patch(f'{WORLDWIDE_GRAPH}/v1.0/users/u1', status_code=403,
                        json={'error': {'code': 'Authorization_RequestDenied', 'message': 'Insufficient privileges.'}},
                        headers={'request-id': 'hdr-id', 'Date': 'Wed, 01 May 2024 10:00:00 GMT'})
    requests_mock.post(f'{WORLDWIDE_GRAPH}/v1.0/users', status_code=502, reason='Bad Gateway',
                       text='<html>\n<body>upstream   failed</body></html>')
    client = cached_client()
    with pytest.raises(GraphError) as forbidden:
        client.http_request('PATCH', 'users/u1', json_data={'x': 1})
    assert str(forbidden.value) == ('403 Authorization_RequestDenied: Insufficient privileges. '
                                    '(request-id hdr-id, date Wed, 01 May 2024 10:00:00 GMT)')
    with pytest.raises(GraphError) as gateway:
        client.http_request('POST', 'users', json_data={})
    assert str(gateway.value) == ('502 Bad Gateway: <html> <body>upstream failed</body></html> '
                                  '(request-id unknown, date unknown)')


@pytest.mark.parametrize('status', [429, 503, 504, 509])
def test_throttling_is_retried_honouring_retry_after_seconds(requests_mock: Any, runtime: list, status: int) -> None:
    route = requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', [
        {'status_code': status, 'headers': {'Retry-After': '7'}, 'json': {'error': {'code': 'TooManyRequests'}}},
        {'json': {'value': [1]}}])
    assert cached_client().http_request('GET', 'users') == {'value': [1]}
    assert route.call_count == 2 and runtime == [7.0]
    assert route.request_history[1].headers['retry-attempt'] == '1'
    first, second = route.request_history
    assert first.headers['client-request-id'] == second.headers['client-request-id']


def test_retry_after_as_http_date(requests_mock: Any, runtime: list) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', [
        {'status_code': 503, 'headers': {'Retry-After': formatdate(time.time() + 9, usegmt=True)}},
        {'json': {'value': []}}])
    cached_client().http_request('GET', 'users')
    assert len(runtime) == 1 and 7 <= runtime[0] <= 9


def test_without_retry_after_backoff_is_exponential(requests_mock: Any, runtime: list) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', [{'status_code': 429}] * 3 + [{'json': {}}])
    cached_client().http_request('GET', 'users')
    assert runtime == [0.5, 1.0, 2.0]  # jitter patched to 0


@pytest.mark.parametrize('method, status, retried', [
    ('GET', 500, True), ('GET', 502, True), ('POST', 500, False), ('POST', 502, False), ('POST', 504, False),
    ('POST', 429, True), ('POST', 503, True), ('PATCH', 504, True), ('DELETE', 504, True), ('PUT', 504, True),
    ('PATCH', 500, False), ('GET', 404, False), ('GET', 400, False),
])
def test_which_statuses_are_retried_per_method(requests_mock: Any, method: str, status: int, retried: bool) -> None:
    route = requests_mock.register_uri(method, f'{WORLDWIDE_GRAPH}/v1.0/users/x',
                                       [{'status_code': status, 'json': {}}, {'status_code': 200, 'json': {}}])
    client = cached_client()
    if retried:
        client.http_request(method, 'users/x')
        assert route.call_count == 2
    else:
        with pytest.raises(GraphError):
            client.http_request(method, 'users/x')
        assert route.call_count == 1


def test_retry_budget_exhausted_raises_throttled_error(requests_mock: Any, runtime: list) -> None:
    route = requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', status_code=429, headers={'Retry-After': '100'},
                              json={'error': {'code': 'TooManyRequests', 'message': 'Slow down.',
                                              'innerError': {'request-id': 'r', 'date': 'd'}}})
    with pytest.raises(GraphThrottledError) as error:
        cached_client().http_request('GET', 'users')
    assert str(error.value) == ('429 TooManyRequests: Slow down. (request-id r, date d) Throttled: retry after 100 s.')
    assert error.value.retry_after == 100 and isinstance(error.value, GraphError)
    assert runtime == [100.0] and route.call_count == 2


def test_retry_count_is_bounded(requests_mock: Any, runtime: list) -> None:
    route = requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', status_code=503, headers={'Retry-After': '1'})
    with pytest.raises(GraphThrottledError, match='retry after 1 s'):
        cached_client().http_request('GET', 'users')
    assert runtime == [1.0] * 5 and route.call_count == 6


def test_401_forces_one_token_refresh_then_retries(requests_mock: Any) -> None:
    token_url = mock_login(requests_mock, responses=[{'json': token_body('AT-1')}, {'json': token_body('AT-2')}])
    route = requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', [
        {'status_code': 401, 'json': {'error': {'code': 'InvalidAuthenticationToken'}}}, {'json': {'value': []}}])
    client = new_client(self_deployed())
    assert client.http_request('GET', 'users') == {'value': []}
    assert [request.headers['Authorization'] for request in route.request_history] == ['Bearer AT-1', 'Bearer AT-2']
    assert len(posts(requests_mock, token_url)) == 2
    assert cache_entry(client.settings)['access_token'] == 'AT-2'


def test_second_401_is_an_error(requests_mock: Any) -> None:
    mock_login(requests_mock, responses=[{'json': token_body('AT-1')}, {'json': token_body('AT-2')}])
    route = requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', status_code=401,
                              json={'error': {'code': 'InvalidAuthenticationToken', 'message': 'Token expired.'}})
    with pytest.raises(GraphError, match='^401 InvalidAuthenticationToken: Token expired.'):
        new_client(self_deployed()).http_request('GET', 'users')
    assert route.call_count == 2


@pytest.mark.parametrize('exception, cause', [
    (requests.exceptions.ReadTimeout('read timed out'), 'no answer within 60.0 s (timeout)'),
    (requests.exceptions.ConnectTimeout('connect timed out'), 'no answer within 60.0 s (timeout)'),
    (requests.exceptions.ConnectionError("HTTPSConnectionPool(host='graph.microsoft.com', port=443): Max retries "
                                         "(Caused by NewConnectionError('[Errno 111] Connection refused'))"),
     'Connection refused'),
    (requests.exceptions.SSLError('[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed'),
     'the TLS certificate could not be verified; fix the certificate chain or select "Trust any certificate (not '
     'secure)"'),
    (requests.exceptions.ProxyError('Cannot connect to proxy.'),
     'the proxy failed or refused the connection; check the proxy, or clear "Use system proxy settings"'),
])
def test_transport_errors_name_the_host_and_the_cause(requests_mock: Any, exception: Exception, cause: str) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', exc=exception)
    with pytest.raises(DemistoException) as error:
        cached_client().http_request('GET', 'users', params={'$filter': "mail eq 'x'"})
    sent_id = requests_mock.last_request.headers['client-request-id']
    assert str(error.value) == (f'Microsoft Graph request failed (GET https://graph.microsoft.com/v1.0/users): {cause} '
                                f'(client-request-id {sent_id}).')
    assert 'Traceback' not in str(error.value)


def test_graph_token_never_goes_to_another_host(requests_mock: Any) -> None:
    other = requests_mock.post('https://adnotifications.example/connector', json={'ok': True})
    client = cached_client()
    with pytest.raises(DemistoException, match='Refusing to send the Microsoft Graph token to https://evil.example'):
        client.http_request('GET', full_url='https://evil.example/v1.0/users')
    assert client.http_request('POST', full_url='https://adnotifications.example/connector', json_data={},
                               headers={'Authorization': 'Bearer mfa-token'}) == {'ok': True}
    assert other.last_request.headers['Authorization'] == 'Bearer mfa-token'


def test_proxy_checkbox_controls_per_call_proxies(requests_mock: Any) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', json={})
    cached_client().http_request('GET', 'users')
    assert requests_mock.last_request.proxies == {'http': '', 'https': ''}
    cached_client(self_deployed(proxy=True)).http_request('GET', 'users')
    assert requests_mock.last_request.proxies == {}


# ---------------------------------------------------------------------------------------------------------------
# Paging
# ---------------------------------------------------------------------------------------------------------------

def test_list_paged_follows_next_link_verbatim_with_the_same_headers(requests_mock: Any) -> None:
    page2 = f'{WORLDWIDE_GRAPH}/v1.0/users?$top=2&$skiptoken=X%27Y'
    page3 = f'{WORLDWIDE_GRAPH}/v1.0/users?$top=2&$skiptoken=Z'
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users?$top=2', complete_qs=True,
                      json={'value': [{'id': 1}, {'id': 2}], '@odata.nextLink': page2})
    requests_mock.get(page2, complete_qs=True, json={'value': [{'id': 3}, {'id': 4}], '@odata.nextLink': page3})
    requests_mock.get(page3, complete_qs=True, json={'value': [{'id': 5}]})
    client = cached_client()

    items, next_link = client.list_paged('users', params={'$top': 2}, headers={'ConsistencyLevel': 'eventual'})

    assert [item['id'] for item in items] == [1, 2, 3, 4, 5] and next_link is None
    assert [request.url for request in requests_mock.request_history][1:] == [page2, page3]
    assert all(request.headers['ConsistencyLevel'] == 'eventual' for request in requests_mock.request_history)


def test_list_paged_stops_at_the_limit_and_returns_the_cursor(requests_mock: Any) -> None:
    page2 = f'{WORLDWIDE_GRAPH}/v1.0/users?$skiptoken=2'
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', [
        {'json': {'value': [{'id': 1}, {'id': 2}], '@odata.nextLink': page2}}])
    items, next_link = cached_client().list_paged('users', limit=2)
    assert (items, next_link) == ([{'id': 1}, {'id': 2}], page2)
    assert requests_mock.call_count == 1


def test_list_paged_caps_unlimited_listing_and_continues_from_a_cursor(requests_mock: Any) -> None:
    cursor = f'{WORLDWIDE_GRAPH}/v1.0/users?$skiptoken=A'
    requests_mock.get(cursor, json={'value': [{'id': n} for n in range(5)],
                                    '@odata.nextLink': f'{WORLDWIDE_GRAPH}/v1.0/users?$skiptoken=B'})
    items, next_link = cached_client().list_paged(full_url=cursor, max_items=3)
    assert len(items) == 3 and next_link == f'{WORLDWIDE_GRAPH}/v1.0/users?$skiptoken=B'


def test_list_paged_refuses_a_next_link_to_another_host(requests_mock: Any) -> None:
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', json={'value': [], '@odata.nextLink': 'https://evil.example/x'})
    with pytest.raises(DemistoException, match='Refusing to send the Microsoft Graph token'):
        cached_client().list_paged('users')


# ---------------------------------------------------------------------------------------------------------------
# Integration context, encoding helpers, secrets
# ---------------------------------------------------------------------------------------------------------------

def test_mutate_integration_context_retries_on_a_version_conflict() -> None:
    demisto.setIntegrationContext({'a': 1})
    calls = []

    def mutator(context: dict) -> None:
        calls.append(1)
        if len(calls) == 1:  # another command of the instance writes between our read and our write
            demisto.setIntegrationContextVersioned({'a': 1, 'other': 'kept'}, -1)
        context['mine'] = True

    assert mutate_integration_context(mutator) == {'a': 1, 'other': 'kept', 'mine': True}
    assert demisto.getIntegrationContext() == {'a': 1, 'other': 'kept', 'mine': True}
    assert len(calls) == 2


def test_mutate_integration_context_gives_up_after_repeated_conflicts(runtime: list) -> None:
    def always_conflicting(context: dict) -> None:
        demisto.setIntegrationContextVersioned({'n': time.time()}, -1)
        context['mine'] = True

    with pytest.raises(DemistoException, match='Could not save the integration context'):
        mutate_integration_context(always_conflicting)
    assert len(runtime) == 5


def test_mutate_integration_context_skips_a_write_that_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    writes = []
    monkeypatch.setattr(ms, 'set_integration_context', lambda *args, **kwargs: writes.append(args))
    mutate_integration_context(lambda context: None)
    assert writes == []


@pytest.mark.parametrize('value, expected', [
    ('dbot^', 'dbot%5E'), ('a/b', 'a%2Fb'), ("o'neil#EXT#@x.com", 'o%27neil%23EXT%23%40x.com'), ('a b', 'a%20b'),
    ('user.name@x.com', 'user.name%40x.com'), ('é', '%C3%A9'), ('...x', '...x'),
])
def test_encode_path_segment(value: str, expected: str) -> None:
    assert encode_path_segment(value, 'user') == expected


@pytest.mark.parametrize('value, message', [
    ('', 'The "user" argument must not be empty.'), ('  ', 'The "user" argument must not be empty.'),
    ('a\nb', 'The "user" argument must not contain control characters (such as a line break).'),
    ('.', 'The "user" argument must not consist of dots only (got ".").'),
    ('..', 'The "user" argument must not consist of dots only (got "..").'),
])
def test_encode_path_segment_rejects_bad_values(value: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        encode_path_segment(value, 'user')
    assert str(error.value) == message


def test_odata_quote() -> None:
    assert odata_quote("O'Neil") == "'O''Neil'"
    assert odata_quote('$admin') == "'$admin'"


def test_no_secret_in_errors_logs_or_context(requests_mock: Any, registered: list, certificate: SimpleNamespace,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ms, 'add_sensitive_log_strs', registered.append)
    errors: list[str] = []
    token_url = mock_login(requests_mock, responses=[
        {'json': token_body('AT-SECRET-1', refresh_token='RT-SECRET-1')},
        {'status_code': 400, 'json': {'error': 'invalid_grant', 'error_description': 'AADSTS54005: code redeemed',
                                      'error_codes': [54005]}},
    ])
    requests_mock.get(f'{WORLDWIDE_GRAPH}/v1.0/users', status_code=403,
                      json={'error': {'code': 'Authorization_RequestDenied', 'message': 'no'}})
    client = new_client(auth_code_params())
    with pytest.raises(GraphError) as graph_error:
        client.http_request('GET', 'users')
    errors.append(str(graph_error.value))
    expire_cached_token()
    with pytest.raises(MicrosoftAuthError) as auth_error:
        new_client(auth_code_params()).get_access_token()
    errors.append(str(auth_error.value))
    requests_mock.post('https://oproxy.demisto.ninja/obtain-token', status_code=401, text='denied')
    with pytest.raises(MicrosoftAuthError) as oproxy_error:
        new_client(oproxy_params()).get_access_token()
    errors.append(str(oproxy_error.value))
    cert_client = new_client(certificate_params(certificate))
    requests_mock.post(token_url, status_code=401, json={'error': 'invalid_client', 'error_description': 'bad cert'})
    with pytest.raises(MicrosoftAuthError) as cert_error:
        cert_client.get_access_token()
    errors.append(str(cert_error.value))

    secrets = [SECRET, AUTH_CODE, OPROXY_KEY, OPROXY_TOKEN, certificate.pem.splitlines()[1], 'AT-SECRET-1',
               'RT-SECRET-1']
    texts = errors + demisto.log_lines()
    assert not [(secret, text) for secret in secrets for text in texts if secret in text]
    stored = json.dumps(demisto.getIntegrationContext())
    assert all(secret not in stored for secret in (SECRET, AUTH_CODE, OPROXY_KEY, OPROXY_TOKEN,
                                                   certificate.pem.splitlines()[1]))
    for secret in (SECRET, AUTH_CODE, OPROXY_KEY, OPROXY_TOKEN, certificate.pem.strip(), 'AT-SECRET-1', 'RT-SECRET-1'):
        assert secret in registered


def test_error_text_helpers() -> None:
    assert ms.ms_entra_error_text({'error': {'code': 'BadRequest', 'message': 'nope'}}) == 'BadRequest: nope'
    assert ms.ms_entra_error_text({'error': 'invalid_grant', 'error_codes': []}) == 'invalid_grant.'
    assert ms.ms_entra_error_text({'error': 'x', 'error_codes': [50173, 70008]}) == f'x.\n{ms.MS_AUTH_RESET_HINT}'
    assert ms.ms_entra_error_text({'error': 'x', 'error_codes': [50173, 1]}) == 'x.'
    assert ms.ms_entra_error_text('text') is None
    assert ms.ms_parse_retry_after('Wed, 21 Oct 2015 07:28:00 GMT', time.time()) == 0.0
    assert ms.ms_parse_retry_after('soon', time.time()) is None
    assert ms.ms_parse_retry_after('inf', time.time()) is None
    assert ms.ms_parse_retry_after(' 12 ', time.time()) == 12.0
