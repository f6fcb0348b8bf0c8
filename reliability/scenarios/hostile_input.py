"""Hostile input: property-based runs of every yml command with hypothesis-generated argument values.

The allowed requests of each command are derived, not written down: every command first runs with benign values
in which each argument is a unique marker (`mkuserx`, and `$mkuserx` for the `users('$...')` key form), under
every kind of Graph answer (found, user missing, item missing, bad request) and with and without its optional
arguments; the URLs it sends become templates, the markers placeholders. Then hypothesis draws a cloud, a kind of
answer and hostile values for one to three arguments (path separators, dot segments, `?`, `#`, percent-encodings,
quotes, OData operators, XML metacharacters, unicode, control characters, huge values, wrong types) and runs the
entry point in process against requests-mock. Every case must end in a result or in one error entry made from a
ValueError / DemistoException (never a traceback, never an internal error such as TypeError), and every request
must fit one of the command's templates on the configured cloud's hosts with the hostile value encoded in the same
place: a value may change what the command asks for, never where it asks. Link arguments (`next_page`,
`delta_link`, `polling_url`) are requested verbatim, so a link must itself fit one of the command's templates.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import sys
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests_mock
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reliability.harness import Outcome, VirtualClock, integration_patched, run_module
from reliability.report import Row
from reliability.secrets_book import SecretBook
from reliability.yml_model import Command, commands

MIN_CASES = 10_000
CLOUDS = ('Worldwide', 'US GCC-High', 'DoD', 'China')
RESPONSE_KINDS = ('ok', 'not_found', 'item_not_found', 'bad_request')
MFA_ORIGIN = 'https://strongauthenticationservice.auth.microsoft.com'
LINK_ARGS = ('next_page', 'delta_link', 'polling_url')

ACCESS_TOKEN = 'eyJ0eXAi.hostile-access-token-VALUE.sig'
CLIENT_SECRET = 'hostile-client-secret~VALUE'
MFA_SECRET = 'hostile-mfa-secret~VALUE'
MFA_TOKEN = 'hostile-mfa-access-token-VALUE'
TAP_CODE = 'hostile-TAP-code-VALUE'
PASSWORD = 'Hostile-Pa55word-VALUE!'
ZIP_PASSWORD = 'hostile-zip-password-VALUE'

# Arguments that name an object: each gets a unique marker so its place in the URL can be found.
MARKER_ARGS = frozenset({'user', 'user_id', 'manager', 'method_id', 'policy_id', 'password_method_id', 'user_mail',
                         'display_name', 'mail_nickname', 'user_principal_name'})
BENIGN: dict[str, str | None] = {
    'limit': '2', 'all_results': 'false', 'properties': 'displayName', 'filter': "displayName eq 'x'",
    'updated_fields': 'jobTitle=Engineer', 'updated_fields_delimiter': ',', 'password': PASSWORD,
    'zip_password': ZIP_PASSWORD, 'lifetime_in_minutes': '60', 'is_usable_once': 'false',
    'interval_in_seconds': '30', 'timeout_in_seconds': '600', 'timeout': '10', 'full_sync': 'false',
    'account_enabled': 'true', 'force_change_password_next_sign_in': 'true', 'force_change_password_with_mfa': 'false',
}
# Ids the mocked Graph answers with (operations, service principals): any one segment may stand in their place.
WILDCARD_ID = re.compile(r'^mk[a-z0-9]+$')

FRAGMENTS = (
    '/', '\\', '.', '..', '../', './', '/..', '%2F', '%2f', '%2E', '%2E%2E', '%2e%2e%2f', '%252F', '%', '%%', '%zz',
    '?', '?$top=999', '#', '#frag', '&', '&$filter=x', '=', ';', ':', '@', '+', ',', '*', '(', ')', '[', ']', '{', '}',
    "'", "''", '"', '`', '$', '$ref', '$batch', '$value', '$filter=', ' eq ', ' ne ', ' or ', ' and ', ' not ',
    "' or 1 eq 1 or '", "') or true or ('", 'startsWith(id,', '$count', '<', '>', '&amp;', '&lt;', '<![CDATA[', ']]>',
    '<?xml version="1.0"?>', '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>&e;', '<a xmlns="x">',
    '\x00', '\x01', '\x08', '\x1f', '\x7f', '\x85', '\n', '\r\n', '\r', '\t', '\u2028', '\u200b', '\ufeff',
    '\u202e', 'é', 'ß', 'İ', 'ﬀ', '\U0001d518', '\U0001f642', '\ud800', '\udfff', '\uffff', '\ufffe',
    'users', 'v1.0', 'beta', 'me', 'delta()', 'https://evil.example/', '//evil.example', '@evil.example',
    'null', 'true', 'false', 'None', 'undefined', '[]', '{}', '{"a":', '[1,', '0', '-1', '1e309', '-1e309', 'nan',
    'inf', '1.5', '0x10', '²', '٣', '１', ' ', '   ', '',
)
HUGE = ('A' * 100_000, '9' * 5_000, '/' * 5_000, '%' * 3_000, "'" * 5_000, '\U0001f642' * 5_000,
        '../' * 2_000, '1' * 400)


# ---------------------------------------------------------------------------------------------------------------
# The mocked clouds
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class MockState:
    kind: str = 'ok'
    cloud: Any = None


def graph_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {'error': {'code': code, 'message': message, 'innerError': {
        'date': '2026-01-01T00:00:00', 'request-id': 'rid-hostile', 'client-request-id': 'crid-hostile'}}}


def respond(state: MockState, request: Any, context: Any) -> Any:
    """One answer for every request: Graph objects shaped for every command, or the error of the case's kind."""
    parts = urllib.parse.urlsplit(request.url)
    origin = f'{parts.scheme}://{parts.netloc}'
    context.headers['request-id'] = 'rid-hostile'
    if origin == MFA_ORIGIN:
        context.headers['Content-Type'] = 'application/xml'
        return ('<BeginTwoWayAuthenticationResponse><Result><Value>Success</Value></Result>'
                '<AuthenticationResult>true</AuthenticationResult></BeginTwoWayAuthenticationResponse>')
    if origin == state.cloud.login_host:
        return {'access_token': MFA_TOKEN, 'expires_in': 3599, 'token_type': 'Bearer'}
    path, method = parts.path, request.method
    exists_check = method == 'GET' and urllib.parse.unquote(parts.query) == '$select=id'
    if not path.endswith('/$batch'):  # a batch answers 200; its sub-requests carry the case's answer
        if state.kind == 'not_found' or (state.kind == 'item_not_found' and not exists_check):
            context.status_code = 404
            return graph_error(404, 'Request_ResourceNotFound', 'Resource does not exist.')
        if state.kind == 'bad_request':
            context.status_code = 400
            return graph_error(400, 'Request_BadRequest', 'Invalid object identifier.')
    graph = state.cloud.graph_host
    user = {'id': 'mkid', 'displayName': 'Hostile', 'userPrincipalName': 'hostile@contoso.com', 'isUsable': True,
            'lifetimeInMinutes': 60, 'status': 'succeeded', 'userPreferredMethodForSecondaryAuthentication': 'push'}
    if method == 'POST' and path.endswith('/$batch'):
        status, answer = {'not_found': (404, graph_error(404, 'Request_ResourceNotFound', 'Resource does not exist.')),
                        'item_not_found': (404, graph_error(404, 'Request_ResourceNotFound', 'No such user.')),
                        'bad_request': (400, graph_error(400, 'Request_BadRequest', 'Invalid object identifier.')),
                        }.get(state.kind, (200, user))
        return {'responses': [{'id': sub['id'], 'status': status, 'headers': {}, 'body': answer}
                              for sub in request.json()['requests']]}
    if method == 'POST':
        context.status_code = 201
        if path.endswith('/temporaryAccessPassMethods'):
            return {**user, 'temporaryAccessPass': TAP_CODE}
        if path.endswith('/resetPassword'):
            context.status_code = 202
            user_segment = path.split('/')[3]
            context.headers['Location'] = f'{graph}/v1.0/users/{user_segment}/authentication/operations/mkop'
            return ''
        if path.endswith('/addPassword'):
            context.status_code = 200
            return {'secretText': MFA_SECRET, 'keyId': 'k', 'startDateTime': '2026-01-01T00:00:00Z',
                    'endDateTime': '2027-01-01T00:00:00Z'}
        if path.endswith('/revokeSignInSessions'):
            context.status_code = 200
            return {'value': True}
        return user
    if method in ('PATCH', 'DELETE', 'PUT'):
        context.status_code = 204
        return ''
    if path.endswith('/servicePrincipals'):
        return {'value': [{'id': 'mksp'}]}
    if path.endswith('/delta'):
        return {'value': [user], '@odata.deltaLink': f'{graph}/v1.0/users/delta?$deltatoken=mkdelta'}
    body: dict[str, Any] = {**user, 'value': [user]}
    if '$skiptoken' not in urllib.parse.unquote(parts.query):
        body['@odata.nextLink'] = f'{graph}{path}?$skiptoken=mkskip'
    return body


# ---------------------------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r'\{([a-z_]+)\|(plain|odata)\}')


def odata_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render(value: Any, how: str) -> str:
    """How the integration puts an argument value into a path segment (stripped, encoded, nothing left safe)."""
    text = str(value).strip()
    return urllib.parse.quote(odata_quoted(text) if how == 'odata' else text, safe='')


@dataclass(frozen=True)
class Shape:
    method: str
    host: str                    # 'graph', 'login' or a literal origin
    segments: tuple[str, ...]    # raw path segments with placeholders


Markers = list[tuple[str, str]]   # (argument name, marker value); a name may have several markers (bulk users)


def host_kind(origin: str, cloud: Any) -> str:
    if origin == cloud.graph_host:
        return 'graph'
    if origin == cloud.login_host:
        return 'login'
    return origin


def split_url(url: str, cloud: Any) -> tuple[str, tuple[str, ...], set[str]]:
    """(host kind, raw path segments, query parameter names)."""
    parts = urllib.parse.urlsplit(url)
    keys = {key for key, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)}
    return host_kind(f'{parts.scheme}://{parts.netloc}', cloud), tuple(parts.path.split('/')), keys


def templatize(segments: tuple[str, ...], markers: Markers) -> tuple[str, ...]:
    result = []
    for segment in segments:
        for name, marker in sorted(markers, key=lambda item: -len(item[1])):
            for how in ('odata', 'plain'):
                rendered = render(marker, how)
                if rendered in segment:
                    segment = segment.replace(rendered, f'{{{name}|{how}}}')
                    break
        result.append('{*}' if WILDCARD_ID.match(segment) else segment)
    return tuple(result)


@dataclass(frozen=True)
class SubRequest:
    """A $batch sub-request seen as a request of its own (its url is relative to the version root)."""
    method: str
    url: str
    body: Any = None

    def json(self) -> Any:
        return self.body


def json_body(request: Any) -> Any:
    try:
        return request.json()
    except Exception:  # form posts, XML, empty bodies
        return None


def sub_requests(request: Any, graph_host: str) -> list[SubRequest]:
    """The sub-requests of a POST $batch (none for any other request)."""
    parts = urllib.parse.urlsplit(request.url)
    if request.method != 'POST' or not parts.path.endswith('/$batch'):
        return []
    body = json_body(request)
    version = parts.path.split('/')[1]
    return [SubRequest(str(sub.get('method')), f'{graph_host}/{version}{sub.get("url")}', sub.get('body'))
            for sub in (body.get('requests') if isinstance(body, dict) else None) or [] if isinstance(sub, dict)]


def body_urls(request: Any) -> list[str]:
    """Absolute URLs inside a JSON body (e.g. the @odata.id of a manager reference); a $batch has its own check."""
    if urllib.parse.urlsplit(request.url).path.endswith('/$batch'):
        return []
    found: list[str] = []
    stack = [json_body(request)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and item.startswith('https://'):
            found.append(item)
    return found


def segment_matches(template: str, segment: str, args: dict[str, Any] | None) -> bool:
    """`args` None: every placeholder stands for any one segment (links, which are requested verbatim)."""
    if template == '{*}' or (args is None and PLACEHOLDER.search(template)):
        decoded = urllib.parse.unquote(segment)
        return bool(segment) and decoded.strip('.') != '' and '/' not in segment
    if args is None:
        return template.lower() == segment.lower()
    expected = template
    for name, how in PLACEHOLDER.findall(template):
        if args.get(name) in (None, ''):
            return False
        expected = expected.replace(f'{{{name}|{how}}}', render(args[name], how))
    return expected == segment


def segments_match(template: tuple[str, ...], segments: tuple[str, ...], args: dict[str, Any] | None) -> bool:
    return len(template) == len(segments) and all(
        segment_matches(t, s, args) for t, s in zip(template, segments, strict=True))


# ---------------------------------------------------------------------------------------------------------------
# Running one case
# ---------------------------------------------------------------------------------------------------------------

def instance_params(cloud: str, handle_error: bool = True) -> dict[str, Any]:
    return {'azure_cloud': cloud, 'self_deployed': True, 'handle_error': handle_error,
            'allow_secret_generators': True,
            'creds_auth_id': {'identifier': '', 'password': '11111111-2222-3333-4444-555555555555'},
            'creds_tenant_id': {'identifier': '', 'password': '66666666-7777-8888-9999-000000000000'},
            'creds_enc_key': {'identifier': '', 'password': CLIENT_SECRET}}


def seeded_store(params: dict[str, Any]) -> Any:
    import demistomock

    import MicrosoftApiModule

    key = MicrosoftApiModule.AuthSettings.from_params(params).cache_key()
    return demistomock.MemoryContextStore({'ms_auth': {key: {'access_token': ACCESS_TOKEN, 'valid_until': 4e9}},
                                           'mfa': {'client_secret': MFA_SECRET}})


def benign_args(command: Command, dollar: bool = False, minimal: bool = False) -> tuple[dict[str, Any], Markers]:
    """(args, markers): every marker argument gets its own marker; other arguments a plain valid value."""
    args: dict[str, Any] = {}
    markers: Markers = []
    for argument in command.arguments:
        if minimal and not argument.required:
            continue
        name = argument.name
        if name in MARKER_ARGS:
            marker = ('$' if dollar else '') + 'mk' + name.replace('_', '') + 'x'
            markers.append((name, marker))
            args[name] = marker
        elif BENIGN.get(name) is not None:
            args[name] = BENIGN[name]
        elif argument.predefined:
            args[name] = 'true' if 'true' in argument.predefined else argument.predefined[0]
        elif argument.required:
            args[name] = 'value'
    return args, markers


def user_items(integration: Any, args: dict[str, Any]) -> list[dict[str, Any]]:
    """`args`, and `args` with `user` replaced by each user it names (commands that accept several users)."""
    candidates = [args]
    split = getattr(integration, 'user_list_arg', None)
    if split is not None and args.get('user') not in (None, ''):
        try:
            candidates += [{**args, 'user': user} for user in split(args)]
        except Exception:  # the integration refuses such a value itself
            pass
    return candidates


class Checker:
    """Templates of every command and the check of one run against them."""

    def __init__(self, integration: Any) -> None:
        self.integration = integration
        self.shapes: dict[str, dict[Shape, set[str]]] = defaultdict(lambda: defaultdict(set))  # -> query keys
        self.body_urls: dict[str, set[tuple[str, tuple[str, ...]]]] = defaultdict(set)

    def learn(self, command: str, requests: list[Any], markers: Markers, cloud: Any) -> None:
        for request in requests:
            for seen in [request, *sub_requests(request, cloud.graph_host)]:
                host, segments, keys = split_url(seen.url, cloud)
                self.shapes[command][Shape(seen.method, host, templatize(segments, markers))].update(keys)
                for url in body_urls(seen):
                    url_host, url_segments, _ = split_url(url, cloud)
                    self.body_urls[command].add((url_host, templatize(url_segments, markers)))

    def problem(self, command: str, request: Any, args: dict[str, Any], cloud: Any) -> str | None:
        """None when the request (and each $batch sub-request) fits a template of `command`, else what is wrong."""
        candidates = user_items(self.integration, args)
        for seen in [request, *sub_requests(request, cloud.graph_host)]:
            problem = self.request_problem(command, seen, candidates, cloud)
            if problem:
                return problem
        return None

    def request_problem(self, command: str, request: Any, candidates: list[dict[str, Any]], cloud: Any) -> str | None:
        host, segments, keys = split_url(request.url, cloud)
        for shape, allowed_keys in self.shapes[command].items():
            if shape.method != request.method or shape.host != host:
                continue
            if not any(segments_match(shape.segments, segments, args) for args in candidates):
                continue
            if not keys <= allowed_keys | {'$skiptoken', '$deltatoken'}:
                return f'unexpected query parameters {sorted(keys - allowed_keys)} in {request.url[:200]}'
            for url in body_urls(request):
                url_host, url_segments, _ = split_url(url, cloud)
                if not any(url_host == known_host and segments_match(known, url_segments, args)
                           for known_host, known in self.body_urls[command] for args in candidates):
                    return f'body URL off its template: {url[:200]}'
            return None
        if host == 'graph' and self.fits_as_link(command, request, candidates[0], segments):
            return None
        return f'{request.method} {request.url[:200]} fits no template of {command}'

    def fits_as_link(self, command: str, request: Any, args: dict[str, Any], segments: tuple[str, ...]) -> bool:
        """A link argument requested verbatim: it must fit one of the command's own templates (any value in the
        placeholders; `polling_url` may use beta, which the integration accepts for it)."""
        if not any(isinstance(args.get(name), str) and args[name] for name in LINK_ARGS):
            return False
        for shape in self.shapes[command]:
            if shape.method != request.method or shape.host != 'graph':
                continue
            template = shape.segments
            if args.get('polling_url') and len(segments) > 1 and segments[1] == 'beta' and len(template) > 1:
                template = (template[0], 'beta', *template[2:])
            if segments_match(template, segments, None):
                return True
        return False


UNCLEAR_ERRORS = (UnicodeError, LookupError, TypeError, AttributeError, ArithmeticError, RecursionError,
                  MemoryError, AssertionError, NameError, OSError)


def outcome_problem(command: str, outcome: Outcome) -> str | None:
    """None when the run ended in a result or one clear error entry."""
    import CommonServerPython

    if outcome.exception:
        return f'exception escaped the entry point: {outcome.exception.strip().splitlines()[-1][:200]}'
    if not outcome.entries:
        return 'no entry at all'
    if outcome.errors:
        text = outcome.errors[0]
        allowed = (ValueError, CommonServerPython.DemistoException, NotImplementedError)
        error_type = outcome.error_type
        if error_type is not None and (issubclass(error_type, UNCLEAR_ERRORS) or not issubclass(error_type, allowed)):
            return f'internal error {error_type.__name__} reported: {text[-200:]!r}'
        readable = next((str(entry.get('HumanReadable') or '') for entry in outcome.entries if entry.get('Type') == 4),
                        '')
        # Either return_error's text naming the command, or a result the command itself marked as an error (a
        # per-user table of a bulk command, a failed password-reset status) with its own readable text.
        if not text.startswith(f'Failed to execute {command} command.') and not readable.strip():
            return f'error entry does not name the command: {text[:200]!r}'
    if any('Traceback (most recent call last)' in str(entry.get('Contents')) + str(entry.get('HumanReadable'))
           for entry in outcome.entries):
        return 'an entry shows a traceback'
    return None


@functools.cache
def hostile_values(name: str, graph_host: str) -> st.SearchStrategy[Any]:
    atom = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12))
    composed = st.lists(atom, min_size=1, max_size=6).map(''.join)
    wrong_types = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(),
                            st.lists(st.text(max_size=4), max_size=3),
                            st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2))
    options = [composed, composed, composed, composed, st.sampled_from(FRAGMENTS), st.sampled_from(FRAGMENTS),
               wrong_types, composed.map(lambda text: 'mkx' + text), composed.map(lambda text: '$' + text),
               composed.map(lambda text: f' {text} '), st.sampled_from(HUGE)]
    if name in LINK_ARGS:
        v1, beta = f'{graph_host}/v1.0/', f'{graph_host}/beta/'
        options += [composed.map(lambda text: v1 + text), composed.map(lambda text: v1 + 'users/x/' + text),
                    st.sampled_from([v1 + 'groups', v1 + 'users/x/messages', v1 + 'users/../groups',
                                     v1 + '%2e%2e/beta/users', v1 + 'users/x/%2E%2E/%2E%2E/groups', v1 + 'users/./',
                                     graph_host + '.evil.example/v1.0/users', 'https://evil.example/v1.0/users',
                                     graph_host.replace('https:', 'http:') + '/v1.0/users',
                                     v1 + 'users?$skiptoken=x', v1 + 'users/delta?$deltatoken=x',
                                     v1 + 'users/x/memberOf?$skiptoken=x', v1 + 'users/x/authentication/operations/y',
                                     beta + 'users/x/authentication/operations/y', v1 + 'users/x/../../me/messages',
                                     v1 + 'users/x/authentication/methods/y/resetPassword',
                                     f'{v1}users@evil.example/', f'{graph_host}:444/v1.0/users'])]
    return st.one_of(*options)


# ---------------------------------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------------------------------

def run(env: Any) -> list[Row]:
    import MicrosoftApiModule

    started = time.perf_counter()
    row = Row('Hostile input: every command and argument (hypothesis, from the yml)', data_lost=None)
    book = SecretBook()
    for label, value in (('access token', ACCESS_TOKEN), ('client secret', CLIENT_SECRET), ('MFA secret', MFA_SECRET),
                         ('MFA token', MFA_TOKEN), ('TAP code', TAP_CODE), ('password', PASSWORD),
                         ('zip password', ZIP_PASSWORD)):
        book.add(label, value)
    all_commands = [command for command in commands()]
    per_command = math.ceil(getattr(env, 'hostile_cases', MIN_CASES) / len(all_commands)) + 5
    state = MockState()
    failures: dict[tuple[str, str], tuple[int, str]] = {}
    failed = [0]
    clouds = {name: MicrosoftApiModule.AZURE_CLOUDS[name] for name in CLOUDS}

    with requests_mock.Mocker() as mocker, integration_patched(VirtualClock()) as integration, small_environment():
        checker = Checker(integration)
        mocker.register_uri(requests_mock.ANY, re.compile('.*'), text=lambda request, context: _text(state, request,
                                                                                                    context))

        # 1. templates from benign runs
        state.cloud = clouds['Worldwide']
        for command in all_commands:
            for benign, markers in _benign_variants(command):
                for kind in RESPONSE_KINDS:
                    state.kind = kind
                    _learn(integration, command, benign, mocker, checker, markers, state.cloud)

        # 2. hostile runs
        for command in all_commands:
            cases = _hostile_cases(integration, command, checker, state, clouds, mocker, book, row, failures,
                                   per_command, failed)
            row.cases += cases
            print(f'  hostile input: {command.name}: {cases} cases', file=sys.stderr, flush=True)

    row.passed = row.cases - failed[0]
    for (command_name, problem), (count, example) in sorted(failures.items()):
        row.fail(f'{command_name}: {problem} ({count} cases), e.g. {example}')
    row.note = (f'{len(all_commands)} commands, {sum(len(shapes) for shapes in checker.shapes.values())} URL templates '
                f'derived from benign runs; clouds {", ".join(CLOUDS)}; every outcome a result or a clear error entry, '
                'every request on its own template')
    row.seconds = time.perf_counter() - started
    return [row]


@contextlib.contextmanager
def small_environment() -> Iterator[None]:
    """Only the variables a run needs: requests scans the whole environment for proxies on every request."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({key: value for key, value in saved.items() if key in ('PATH', 'HOME', 'LANG', 'TMPDIR')})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _text(state: MockState, request: Any, context: Any) -> str:
    import json

    body = respond(state, request, context)
    if isinstance(body, dict | list):
        context.headers.setdefault('Content-Type', 'application/json')
        return json.dumps(body)
    return str(body)


def _benign_variants(command: Command) -> Iterator[tuple[dict[str, Any], Markers]]:
    for dollar in (False, True):
        for minimal in (False, True):
            yield benign_args(command, dollar=dollar, minimal=minimal)
        args, markers = benign_args(command, dollar=dollar)
        if command.argument('all_results'):
            yield {**args, 'all_results': 'true'}, markers
        if command.argument('limit'):
            yield {key: value for key, value in args.items() if key != 'limit'}, markers
        for argument in command.arguments:
            if argument.required:
                continue
            for value in argument.predefined:  # every value of every optional predefined argument
                yield {**args, argument.name: value}, markers
            if not argument.predefined:  # and every optional argument left out on its own
                yield {key: value for key, value in args.items() if key != argument.name}, markers
        if command.argument('user'):  # several users (the commands that take a list send them in a $batch)
            second = ('$' if dollar else '') + 'mkuser2x'
            yield {**args, 'user': f'{args["user"]},{second}'}, [*markers, ('user', second)]
        if command.name == 'msgraph-user-update':
            yield {**args, 'updated_fields': 'userPrincipalName=mkupnx'}, [*markers, ('updated_fields', 'mkupnx')]


def _learn(integration: Any, command: Command, args: dict[str, Any], mocker: Any, checker: Checker,
           markers: Markers, cloud: Any) -> None:
    """Run the benign case, and the polling runs it schedules, and learn their requests."""
    params = instance_params('Worldwide')
    run_args = args
    for _ in range(3):
        before = len(mocker.request_history)
        outcome = run_module(integration, command.name, params, run_args, store=seeded_store(params))
        checker.learn(command.name, mocker.request_history[before:], markers, cloud)
        follow = next((entry for entry in outcome.entries if entry.get('PollingCommand') == command.name), None)
        if follow is None:
            return
        run_args = dict(follow.get('PollingArgs') or {})


def _hostile_cases(integration: Any, command: Command, checker: Checker, state: MockState, clouds: dict[str, Any],
                   mocker: Any, book: SecretBook, row: Row, failures: dict[tuple[str, str], tuple[int, str]],
                   examples: int, failed: list[int]) -> int:
    count = [0]
    names = [argument.name for argument in command.arguments]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def case(data: Any) -> None:
        cloud_name = data.draw(st.sampled_from(CLOUDS), label='cloud')
        state.cloud = clouds[cloud_name]
        state.kind = data.draw(st.sampled_from(RESPONSE_KINDS), label='kind')
        params = instance_params(cloud_name, handle_error=data.draw(st.booleans(), label='handle_error'))
        args, _ = benign_args(command, minimal=data.draw(st.booleans(), label='minimal'))
        targets = (data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True), label='targets')
                   if names else [])
        for name in targets:
            args[name] = data.draw(hostile_values(name, state.cloud.graph_host), label=name)
        if data.draw(st.booleans(), label='extra'):
            args[data.draw(st.text(min_size=1, max_size=8), label='extra name')] = data.draw(st.text(max_size=8))
        before = len(mocker.request_history)
        outcome = run_module(integration, command.name, params, args, store=seeded_store(params))
        count[0] += 1
        problems = [outcome_problem(command.name, outcome)]
        problems += [checker.problem(command.name, request, args, state.cloud)
                     for request in mocker.request_history[before:]]
        leaks = [finding for where, text in outcome.artifacts() for finding in book.scan(f'{command.name}: {where}',
                                                                                          text)]
        row.findings.extend(leaks)
        if leaks or any(problems):
            failed[0] += 1
        for problem in filter(None, problems):
            key = (command.name, re.sub(r'\S{60,}', '...', problem)[:160])
            seen, example = failures.get(key, (0, ''))
            shown = f'{problem[:300]!r} with args {({name: _short(args.get(name)) for name in targets})!r}'
            failures[key] = (seen + 1, example if example and len(example) <= len(shown) else shown)
            break
        del mocker.request_history[before:]

    case()
    return count[0]


def _short(value: Any) -> Any:
    return value if not isinstance(value, str) or len(value) <= 80 else value[:40] + f'...<{len(value)} chars>'
