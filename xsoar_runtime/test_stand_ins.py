"""Pins the semantics of the demistomock / CommonServerPython stand-ins to the real runtime's."""
import base64
import json
import os
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import CommonServerPython as csp
import demistomock as demisto
import pytest


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    demisto.reset()
    csp.get_demisto_version._version = None
    yield
    demisto.reset()
    csp.get_demisto_version._version = None


# ------------------------------------------------------------------------------------------------ demistomock

def test_invocation_is_what_the_integration_reads() -> None:
    demisto.set_invocation('msgraph-user-get', {'user': 'a@b.c'}, {'credentials': {'password': 'pw'}},
                           instance='inst1', brand='Brand')
    assert demisto.command() == 'msgraph-user-get'
    assert demisto.args() == {'user': 'a@b.c'}
    assert demisto.getArg('user') == 'a@b.c'
    assert demisto.getArg('missing', 'dflt') == 'dflt'
    assert demisto.getParam('credentials.password') == 'pw'  # dotted paths, like the server
    assert demisto.integrationInstance() == 'inst1'
    assert demisto.callingContext['context']['IntegrationBrand'] == 'Brand'
    assert demisto.investigation() == {'id': '1'}
    assert demisto.demistoVersion() == {'version': '8.9.0', 'buildNumber': '12345', 'platform': 'xsoar'}
    assert demisto.is_debug is False


def test_debug_mode_pops_the_debug_mode_argument() -> None:
    demisto.set_invocation('cmd', {'debug-mode': 'true', 'x': '1'}, is_debug_mode=True)
    assert demisto.is_debug is True
    assert demisto.args() == {'x': '1'}


def test_results_are_converted_like_the_server_does() -> None:
    demisto.results('ok')
    demisto.results({'a': 1})
    demisto.results([{'Type': 1, 'Contents': 'x', 'ContentsFormat': 'text'}, b'bytes', None])
    assert demisto.collected_results() == [
        {'Type': 1, 'Contents': 'ok', 'ContentsFormat': 'text'},
        {'Type': 1, 'Contents': '{"a": 1}', 'ContentsFormat': 'json'},
        {'Type': 1, 'Contents': 'x', 'ContentsFormat': 'text'},
        {'Type': 1, 'Contents': 'bytes', 'ContentsFormat': 'text'},
        {'Type': 1, 'Contents': 'None', 'ContentsFormat': 'text'},
    ]


def test_results_reject_what_the_server_cannot_serialise() -> None:
    with pytest.raises(TypeError):
        demisto.results({'Type': 1, 'Contents': datetime.now(), 'ContentsFormat': 'json'})


def test_logs_are_recorded_unmasked_as_on_the_server() -> None:
    seen: list[tuple[str, str]] = []
    demisto.set_log_sink(lambda level, text: seen.append((level, text)))
    demisto.debug('token %s', 'abc')
    demisto.info('i')
    demisto.error('e')
    demisto.log('l')
    assert demisto.log_lines() == ['token abc', 'i', 'e', 'l']
    assert demisto.log_lines('debug') == ['token abc']
    assert seen[0] == ('debug', 'token abc')


def test_versioned_context_round_trip_and_stale_write() -> None:
    assert demisto.getIntegrationContextVersioned() == {'context': {}, 'version': 0}
    demisto.setIntegrationContextVersioned({'a': 1}, version=0)
    read = demisto.getIntegrationContextVersioned(refresh=True)
    assert read == {'context': {'a': 1}, 'version': 1}
    read['context']['a'] = 2  # a copy, like a server round trip
    assert demisto.getIntegrationContext() == {'a': 1}
    with pytest.raises(ValueError, match='version conflict'):
        demisto.setIntegrationContextVersioned({'a': 3}, version=0)
    demisto.setIntegrationContext({'b': 1})  # plain set: last write wins
    assert demisto.getIntegrationContextVersioned() == {'context': {'b': 1}, 'version': 2}


def test_context_store_survives_set_invocation_but_not_reset() -> None:
    demisto.setIntegrationContext({'keep': True})
    demisto.set_invocation('next-command')
    assert demisto.getIntegrationContext() == {'keep': True}
    demisto.reset()
    assert demisto.getIntegrationContext() == {}


# ------------------------------------------------------------------------------------------------ star import

def test_star_import_exports_modules_like_the_real_one() -> None:
    namespace: dict[str, Any] = {}
    exec('from CommonServerPython import *', namespace)
    for name in ('json', 'os', 're', 'sys', 'time', 'base64', 'traceback', 'urllib', 'ET', 'datetime', 'timedelta',
                 'timezone', 'requests', 'Optional', 'Dict', 'List', 'Any', 'Union', 'BaseClient', 'CommandResults',
                 'register_module_line', 'LOG', 'demisto'):
        assert name in namespace, name
    assert '_MODULES_LINE_MAPPING' not in namespace and '__line__' not in namespace
    assert not hasattr(csp, '__all__')


def test_line_mapping_starts_at_zero_and_fixes_tracebacks() -> None:
    assert csp._MODULES_LINE_MAPPING['CommonServerPython']['start'] == 0
    mapping = dict(csp._MODULES_LINE_MAPPING)
    try:
        csp.register_module_line('Integration', 'start', 100)
        csp.register_module_line('ApiModule', 'start', 110, wrapper=-3)
        csp.register_module_line('ApiModule', 'end', 130, wrapper=1)
        trace = 'File "<string>", line 120, in f\nFile "<string>", line 140, in g'
        fixed = csp.fix_traceback_line_numbers(trace)
        assert 'File "<ApiModule>", line 10, in f' in fixed
        assert 'File "<Integration>", line 16, in g' in fixed  # 140 - 100 - (131 - 107)
    finally:
        csp._MODULES_LINE_MAPPING.clear()
        csp._MODULES_LINE_MAPPING.update(mapping)


# ------------------------------------------------------------------------------------------------ CommandResults

def entry_context(**kwargs: Any) -> dict:
    return csp.CommandResults(**kwargs).to_context()['EntryContext']


def test_entry_context_keys() -> None:
    user = {'ID': '1', 'Mail': 'a@b.c'}
    assert entry_context(outputs_prefix='MSGraphUser', outputs_key_field='ID', outputs=user) == \
        {'MSGraphUser(val.ID && val.ID == obj.ID)': user}
    assert list(entry_context(outputs_prefix='A', outputs_key_field=['ID', 'Mail'], outputs=user)) == \
        ['A(val.ID && val.ID == obj.ID && val.Mail && val.Mail == obj.Mail)']
    assert entry_context(outputs_prefix='A.B', outputs=[user]) == {'A.B': [user]}
    # no prefix: the dict's own keys, the key field is ignored
    assert entry_context(outputs_key_field='ID', outputs={'X(val.User === obj.User)': user}) == \
        {'X(val.User === obj.User)': user}
    assert entry_context(outputs_prefix='A.NextLink', outputs='link', replace_existing=True) == \
        {'A(true)': {'NextLink': 'link'}}
    assert entry_context(outputs_prefix='A', outputs=[]) == {}
    with pytest.raises(csp.DemistoException, match='nested path'):
        entry_context(outputs_prefix='A', outputs='x', replace_existing=True)


def test_command_results_entry_defaults() -> None:
    outputs = [{'b': 2, 'a': 1}]
    entry = csp.CommandResults(outputs_prefix='P', outputs=outputs).to_context()
    assert entry == {
        'Type': 1, 'ContentsFormat': 'json', 'Contents': outputs,
        'HumanReadable': '### Results\n|a|b|\n|---|---|\n| 1 | 2 |\n',
        'EntryContext': {'P': outputs}, 'IndicatorTimeline': [], 'IgnoreAutoExtract': False, 'Note': False,
        'Relationships': [],
    }
    text = csp.CommandResults(readable_output='done', raw_response='raw', tags=['t']).to_context()
    assert (text['ContentsFormat'], text['HumanReadable'], text['Contents'], text['Tags']) == \
        ('text', 'done', 'raw', ['t'])
    assert csp.CommandResults(readable_output='x', entry_type=csp.EntryType.WARNING).to_context()['Type'] == 11


def test_command_results_validation() -> None:
    with pytest.raises(ValueError, match='outputs_prefix is missing'):
        csp.CommandResults(outputs=[1])
    with pytest.raises(ValueError, match='cannot be a period'):
        csp.CommandResults(outputs_prefix='.', outputs={})
    with pytest.raises(TypeError, match='outputs_key_field must be of type str or list'):
        csp.CommandResults(outputs_prefix='P', outputs_key_field=1, outputs={})
    with pytest.raises(TypeError, match='content_format'):
        csp.CommandResults(readable_output='x', content_format='yaml')


def test_scheduled_command_and_polling_function() -> None:
    assert csp.ScheduledCommand('cmd', 3, args={'a': '1'}, timeout_in_seconds=60).to_results() == \
        {'PollingCommand': 'cmd', 'NextRun': '10', 'PollingArgs': {'a': '1'}, 'Timeout': '60',
         'PollingItemsRemaining': 0}

    @csp.polling_function('my-cmd', interval=15, timeout=100)
    def command(args: dict, done: bool) -> csp.PollResult:
        return csp.PollResult(response='finished', continue_to_poll=not done, args_for_next_run={'id': '7'})

    assert command({'polling': 'false'}, False) == 'finished'  # not polling: one run, its response
    assert command({'polling': 'true'}, True) == 'finished'
    pending = command({'polling': 'true'}, False).to_context()
    assert pending['HumanReadable'] == 'Fetching Results:'
    assert (pending['PollingCommand'], pending['NextRun'], pending['Timeout']) == ('my-cmd', '15', '100')
    assert pending['PollingArgs'] == {'id': '7', 'hide_polling_output': True}  # replaces the original args
    assert command({'polling': 'true', 'hide_polling_output': True}, False).to_context()['HumanReadable'] is None


def test_return_results_shapes() -> None:
    csp.return_results(None)
    csp.return_results('ok')
    csp.return_results([csp.CommandResults(readable_output='a'), 'text', {'Type': 1, 'Contents': 'c',
                                                                          'ContentsFormat': 'text'}])
    contents = [e['Contents'] for e in demisto.collected_results()]
    assert contents == ['None', 'ok', None, 'text', 'c']


# ------------------------------------------------------------------------------------------------ errors / masking

def test_return_error_emits_an_error_entry_and_exits() -> None:
    demisto.set_invocation('msgraph-user-get')
    with pytest.raises(SystemExit) as exited:
        csp.return_error('boom', outputs={'X': 1})
    assert exited.value.code == 0
    assert demisto.collected_results() == [{'Type': 4, 'ContentsFormat': 'text', 'Contents': 'boom',
                                            'EntryContext': {'X': 1}}]
    assert any(line.startswith('Full Integration Log:\nboom') for line in demisto.log_lines('info'))


def test_return_error_raises_for_server_handled_commands_and_truncates() -> None:
    demisto.set_invocation('fetch-incidents')
    with pytest.raises(Exception, match='^boom$'):
        csp.return_error('boom')
    demisto.set_invocation('cmd')
    with pytest.raises(SystemExit):
        csp.return_error('x' * 60000)
    message = demisto.collected_results()[0]['Contents']
    assert len(message) == 50000 + len('...This error body was truncated...')


def test_logger_masks_sensitive_params_in_every_encoding() -> None:
    secret = 'p@ss "word"\n/x'
    demisto.set_invocation('cmd', params={'credentials': {'identifier': 'app-id', 'password': secret},
                                          'api_key': 'k3y', 'tenant_id': 'tenant', 'private_key': ''})
    logger = csp.IntegrationLogger()
    basic = base64.b64encode(f'app-id:{secret}'.encode()).decode()
    for leaked in (secret, json.dumps(secret)[1:-1], urllib.parse.quote_plus(secret), 'k3y',
                   base64.b64encode(b'k3y').decode(), basic):
        assert logger.encode(f'before {leaked} after') == 'before <XX_REPLACED> after'
    assert logger.encode('app-id tenant') == 'app-id tenant'  # identifiers are not secrets


def test_add_sensitive_log_strs_masks_return_error_messages() -> None:
    csp.add_sensitive_log_strs('eyJ0b2tlbiI')
    with pytest.raises(SystemExit):
        csp.return_error('token eyJ0b2tlbiI rejected')
    assert demisto.collected_results()[0]['Contents'] == 'token <XX_REPLACED> rejected'
    assert 'eyJ0b2tlbiI' not in ''.join(demisto.log_lines())


def test_censor_request_logs() -> None:
    line = "send: b'GET / HTTP/1.1\\r\\nAuthorization: Bearer abc.def\\r\\n'"
    assert 'abc.def' not in csp.censor_request_logs(line)
    assert '<XX_REPLACED>' in csp.censor_request_logs(line)


def test_demisto_exception() -> None:
    error = csp.DemistoException('msg', ValueError('inner'), res='response')
    assert (str(error), error.message, error.res, error.args[0]) == ('msg', 'msg', 'response', 'msg')
    assert isinstance(error.exception, ValueError)


# ------------------------------------------------------------------------------------------------ tableToMarkdown

def test_table_to_markdown_formatting() -> None:
    rows = [{'b': 'x|y`z', 'a': ['1', '2'], 'c': {'k': 'v', 'n': 1}, 'd': True, 'e': None, 'f': 'l1\nl2'}]
    assert csp.tableToMarkdown('T', rows, metadata='meta') == (
        '### T\nmeta\n'
        '|a|b|c|d|e|f|\n'
        '|---|---|---|---|---|---|\n'
        '| 1,<br>2 | x\\|y\\`z | k: v<br>n: 1 | true |  | l1<br>l2 |\n'
    )


def test_table_to_markdown_headers_and_empties() -> None:
    rows = [{'Name': 'n', 'Mail': '', 'Id': 1}, {'Name': 'm', 'Mail': None, 'Id': 2}]
    assert csp.tableToMarkdown('', rows, removeNull=True) == '|Id|Name|\n|---|---|\n| 1 | n |\n| 2 | m |\n'
    assert csp.tableToMarkdown('T', rows, headers=['Name', 'Id'], headerTransform=str.upper) == \
        '### T\n|NAME|ID|\n|---|---|\n| n | 1 |\n| m | 2 |\n'
    assert csp.tableToMarkdown('T', rows[:1], sort_headers=False).splitlines()[1] == '|Name|Mail|Id|'
    assert csp.tableToMarkdown('Users', []) == '### Users\n**No entries.**\n'
    assert csp.tableToMarkdown('T', {'Groups': ['g1', 'g2']}) == '### T\n|Groups|\n|---|\n| g1 |\n| g2 |\n'
    assert csp.tableToMarkdown('T', ['x'], headers='H') == '### T\n|H|\n|---|\n| x |\n'
    with pytest.raises(Exception, match='Missing headers param'):
        csp.tableToMarkdown('T', ['x'])
    assert csp.tableToMarkdown('T', {'u': 'https://x'}, headers=['u'], url_keys=['u']).endswith(
        '| [https://x](https://x) |\n')


def test_string_transforms() -> None:
    assert csp.pascalToSpace('userPrincipalName') == 'User Principal Name'
    assert csp.pascalToSpace('thisIsIPAddress') == 'This Is IP Address'
    assert csp.camelize_string('display_name') == 'DisplayName'
    assert csp.camelize_string('display_name', upper_camel=False) == 'displayName'
    assert csp.camelize({'display name': 1}) == {'DisplayName': 1}
    assert csp.string_to_table_header('account_enabled') == 'Account Enabled'
    assert csp.underscoreToCamelCase('job_title') == 'JobTitle'
    assert csp.createContext({'A.B': 1, 'C': ''}, removeNull=True) == {'A': {'B': 1}}


# ------------------------------------------------------------------------------------------------ argument parsing

def test_arg_to_boolean() -> None:
    assert csp.argToBoolean('YES') is True and csp.argToBoolean('false') is False and csp.argToBoolean(True)
    with pytest.raises(ValueError, match='^Argument does not contain a valid boolean-like value$'):
        csp.argToBoolean('maybe')
    with pytest.raises(ValueError, match='^Argument is neither a string nor a boolean$'):
        csp.argToBoolean(1)


def test_arg_to_list_and_number() -> None:
    assert csp.argToList('a, b ,c') == ['a', 'b', 'c']
    assert csp.argToList('["a,b", "c"]') == ['a,b', 'c']
    assert csp.argToList(None) == [] and csp.argToList(['x']) == ['x'] and csp.argToList(5) == [5]
    assert csp.argToList('1;2', separator=';', transform=int) == [1, 2]
    assert csp.arg_to_number('10') == 10 and csp.arg_to_number('3.7') == 3 and csp.arg_to_number('') is None
    with pytest.raises(ValueError, match='^Invalid number: "limit"="ten"$'):
        csp.arg_to_number('ten', 'limit')
    with pytest.raises(ValueError, match='^"ten" is not a valid number$'):
        csp.arg_to_number('ten')
    with pytest.raises(ValueError, match='^Missing "limit"$'):
        csp.arg_to_number(None, 'limit', required=True)


def test_arg_to_datetime_subset() -> None:
    assert csp.arg_to_datetime(1700000000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert csp.arg_to_datetime('1700000000000') == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert csp.arg_to_datetime('2024-01-02T03:04:05Z') == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert csp.arg_to_datetime('2024-01-02T03:04:05') == datetime(2024, 1, 2, 3, 4, 5)
    now = datetime.now(UTC).replace(tzinfo=None)
    for text, expected in (('now', now), ('3 days', now - timedelta(days=3)), ('2 hours ago', now - timedelta(hours=2)),
                           ('in 10 minutes', now + timedelta(minutes=10))):
        parsed = csp.arg_to_datetime(text)
        assert parsed is not None and abs(parsed - expected) < timedelta(seconds=5), text
    assert csp.arg_to_datetime(None) is None
    with pytest.raises(ValueError, match='^Invalid date: "since"="soon"$'):
        csp.arg_to_datetime('soon', 'since')


def test_dict_helpers() -> None:
    assert csp.assign_params(a='1', b=0, c=False, d=None, e='', f=[], g={}) == {'a': '1', 'b': 0, 'c': False}
    assert csp.remove_empty_elements({'a': None, 'b': {'c': []}, 'd': '', 'e': [None, 1]}) == {'d': '', 'e': [1]}
    data = {'a': '', 'b': (), 'c': {'d': None}}
    csp.remove_nulls_from_dictionary(data)
    assert data == {'c': {'d': None}}
    assert csp.dict_safe_get({'a': [{'b': 1}]}, ['a', 0, 'b']) == 1
    assert csp.dict_safe_get({'a': 1}, ['a', 'x'], 'dflt') == 'dflt'
    assert csp.urljoin('https://h/v1.0/', '/users') == 'https://h/v1.0/users'
    assert csp.urljoin('https://h', 'users') == 'https://h/users'


def test_replace_spaces_in_credential() -> None:
    pem = '-----BEGIN PRIVATE KEY----- abc def -----END PRIVATE KEY-----'
    assert csp.replace_spaces_in_credential(pem) == '-----BEGIN PRIVATE KEY-----\nabc\ndef\n-----END PRIVATE KEY-----'
    assert csp.replace_spaces_in_credential('plain value') == 'plain value'


# ------------------------------------------------------------------------------------------------ integration context

def test_integration_context_helpers_use_the_versioned_api() -> None:
    csp.set_integration_context({'a': 1})
    assert csp.get_integration_context() == {'a': 1}
    assert csp.get_integration_context(with_version=True) == {'context': {'a': 1}, 'version': 1}
    context, version = csp.get_integration_context_with_version()
    assert (context, version) == ({'a': 1}, 1)
    demisto.setIntegrationContext({'a': 2})  # someone else wrote in between
    with pytest.raises(ValueError):
        csp.set_integration_context({'a': 3}, version=version)


def test_set_to_integration_context_with_retries_json_encodes_values() -> None:
    demisto.setIntegrationContext({'users': json.dumps([{'id': '1', 'v': 'old'}, {'id': '2', 'v': 'keep'}])})
    csp.set_to_integration_context_with_retries({'users': [{'id': '1', 'v': 'new'}], 'link': 'x'},
                                                object_keys={'users': 'id'})
    stored = demisto.getIntegrationContext()
    assert json.loads(stored['users']) == [{'id': '1', 'v': 'new'}, {'id': '2', 'v': 'keep'}]
    assert stored['link'] == '"x"'


def test_plain_context_api_below_6_0() -> None:
    demisto.set_invocation('cmd', version={'version': '5.5.0', 'buildNumber': '1'})
    assert not csp.is_demisto_version_ge('6.0.0')
    csp.set_integration_context({'a': 1})
    assert csp.get_integration_context_with_version() == ({'a': 1}, -1)


def test_version_and_content_headers() -> None:
    demisto.set_invocation('cmd', brand='Microsoft Graph User', instance='i')
    assert csp.is_demisto_version_ge('6.10.0') and csp.is_demisto_version_ge('8.9.0', '12345')
    assert not csp.is_demisto_version_ge('8.9.0', '12346') and not csp.is_demisto_version_ge('10.0.0')
    assert csp.get_x_content_info_headers() == {
        'X-Content-Version': '0.0.0', 'X-Content-Name': 'Microsoft Graph User', 'X-Content-LicenseID': '',
        'X-Content-Branch': 'master', 'X-Content-Server-Version': '8.9.0-12345'}


# ------------------------------------------------------------------------------------------------ files / misc

def test_file_result_writes_investigation_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    entry = csp.fileResult('../report.txt', 'héllo')
    assert entry == {'Contents': '', 'ContentsFormat': 'text', 'Type': 3, 'File': 'report.txt',
                     'FileID': entry['FileID']}
    assert (tmp_path / f"1_{entry['FileID']}").read_bytes() == 'héllo'.encode()
    assert csp.fileResult('x.bin', b'\x00', file_type=csp.EntryType.ENTRY_INFO_FILE)['Type'] == 9


def test_safe_sleep_refuses_to_outlast_the_run() -> None:
    demisto.set_invocation('cmd')
    with pytest.raises(ValueError, match='^Requested a sleep of 1000 seconds, but time left'):
        csp.safe_sleep(1000)


def test_retry_decorator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csp.time, 'sleep', lambda s: None)
    calls = []

    @csp.retry(times=3, delay=0, exceptions=KeyError)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise KeyError('x')
        return 'ok'

    assert flaky() == 'ok' and len(calls) == 3


def test_is_scheduled_command_retry() -> None:
    assert not csp.is_scheduled_command_retry()
    demisto.set_invocation('cmd', parent_entry={'polling': True, 'pollingCommand': 'cmd'})
    assert csp.is_scheduled_command_retry()


def test_handle_proxy_and_insecure_change_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('HTTPS_PROXY', 'proxy:8080')
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/ca.pem')
    demisto.set_invocation('cmd', params={'proxy': True, 'insecure': True})
    assert csp.handle_proxy() == {'http': '', 'https': 'http://proxy:8080'}
    assert 'REQUESTS_CA_BUNDLE' not in os.environ
    demisto.set_invocation('cmd', params={'proxy': False})
    csp.handle_proxy()
    assert 'HTTPS_PROXY' not in os.environ


# ------------------------------------------------------------------------------------------------ BaseClient

class _Handler(BaseHTTPRequestHandler):
    queue: list[tuple[int, str, str]] = []
    seen: list[tuple[str, str, dict]] = []

    def _respond(self) -> None:
        _Handler.seen.append((self.command, self.path, dict(self.headers)))
        status, content_type, body = _Handler.queue.pop(0) if _Handler.queue else (200, 'application/json',
                                                                                           '{}')
        self.send_response(status)
        if content_type:
            self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = do_PATCH = do_DELETE = _respond

    def log_message(self, *args: Any) -> None:
        pass


def _serve(tls_dir: Path | None = None) -> Iterator[str]:
    server = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    scheme = 'http'
    if tls_dir is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_self_signed(tls_dir))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = 'https'
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.queue, _Handler.seen = [], []
    yield f'{scheme}://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def _self_signed(folder: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime.now(UTC) - timedelta(days=1))
            .not_valid_after(datetime.now(UTC) + timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / 'cert.pem', folder / 'key.pem'
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def http_url() -> Iterator[str]:
    yield from _serve()


@pytest.fixture
def https_url(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path)


def test_http_request_success_and_response_types(http_url: str) -> None:
    client = csp.BaseClient(http_url + '/v1.0', headers={'X-Default': '1'})
    _Handler.queue = [(200, 'application/json', '{"a": 1}'), (200, 'text/plain', 'plain'),
                          (204, '', ''), (204, '', ''), (201, 'application/json', '{}')]
    assert client._http_request('GET', 'users', params={'$filter': "a eq 'b c'"}, params_parser=urllib.parse.quote) \
        == {'a': 1}
    assert client._http_request('GET', full_url=http_url + '/other', resp_type='text', headers={'X-Other': '2'}) \
        == 'plain'
    assert client._http_request('DELETE', 'users/1', return_empty_response=True).status_code == 204
    with pytest.raises(csp.DemistoException, match="^Failed to parse json object from response: b''$"):
        client._http_request('DELETE', 'users/1')
    assert client._http_request('POST', 'users', json_data={'x': 1}, resp_type='response').status_code == 201
    (_, first_path, first_headers), (_, second_path, second_headers) = _Handler.seen[:2]
    assert first_path == '/v1.0/users?%24filter=a%20eq%20%27b%20c%27'
    assert first_headers['X-Default'] == '1'
    assert second_path == '/other' and 'X-Default' not in second_headers  # headers replace, not merge


def test_http_request_error_text(http_url: str) -> None:
    client = csp.BaseClient(http_url)
    _Handler.queue = [(404, 'application/json', '{"error": {"code": "NotFound"}}'), (500, 'text/plain', 'oops'),
                          (404, 'application/json', '{}')]
    with pytest.raises(csp.DemistoException) as raised:
        client._http_request('GET', 'x')
    assert str(raised.value) == 'Error in API call [404] - Not Found\n{"error": {"code": "NotFound"}}'
    assert raised.value.res.status_code == 404
    with pytest.raises(csp.DemistoException, match=r'^Error in API call \[500\] - Internal Server Error\noops$'):
        client._http_request('GET', 'x')
    assert client._http_request('GET', 'x', ok_codes=(404,)) == {}


def test_http_request_transport_errors() -> None:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        closed_port = s.getsockname()[1]
    client = csp.BaseClient(f'http://127.0.0.1:{closed_port}')
    with pytest.raises(csp.DemistoException) as raised:
        client._http_request('GET', 'x')
    assert str(raised.value).startswith('Verify that the server URL parameter is correct and that you have access '
                                        'to the server from your host.\nError Type: <requests.exceptions.'
                                        'ConnectionError>')


def test_tls_verification_and_trust_any_certificate(https_url: str) -> None:
    with pytest.raises(csp.DemistoException, match="^SSL Certificate Verification Failed - try selecting 'Trust "
                                                   "any certificate' checkbox in the integration configuration.$"):
        csp.BaseClient(https_url, verify=True)._http_request('GET', 'x')
    assert csp.BaseClient(https_url, verify=False)._http_request('GET', 'x') == {}


def test_retries_are_mounted_on_https(https_url: str) -> None:
    _Handler.queue = [(503, 'text/plain', 'busy'), (200, 'application/json', '{"ok": true}')]
    client = csp.BaseClient(https_url, verify=False)
    assert client._http_request('GET', 'x', retries=2, status_list_to_retry=[503], backoff_factor=0) == {'ok': True}
    assert len(_Handler.seen) == 2


def test_client_timeout_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    demisto.set_invocation('cmd', brand='Brand')
    assert csp.BaseClient('https://h', timeout=30).timeout == 30
    monkeypatch.setenv('REQUESTS_TIMEOUT', '45')
    assert csp.BaseClient('https://h').timeout == 45
    monkeypatch.setenv('REQUESTS_TIMEOUT.Brand', '15')
    assert csp.BaseClient('https://h').timeout == 15


def test_client_proxy_false_removes_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('https_proxy', 'http://proxy:1')
    csp.BaseClient('https://h', proxy=False)
    assert 'https_proxy' not in os.environ
    monkeypatch.setenv('HTTPS_PROXY', 'proxy:1')
    csp.BaseClient('https://h', proxy=True)
    assert os.environ['HTTPS_PROXY'] == 'http://proxy:1'
