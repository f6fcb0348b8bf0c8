"""Faults through the emulator's knobs, over real HTTPS: every case ends in success within a bounded time, or in an
error entry that names the cause and the id to trace it by, and none outlives its bound.

Runs are in process (the imported integration, a fresh integration context per case unless the case primes one)
with `ms_sleep` replaced by a virtual clock: a Retry-After of 30 s or an IMDS outage of 30 s costs no wall time,
while the time the client would have waited is still added up and checked against the retry budgets. Socket
timeouts are real (instance `timeout` = 1 s). A watchdog ends any case that runs past its bound.

Ids: a Graph answer must be named by its `request-id` (the one the emulator logged); an error without an answer
(connection reset, timeout) by the `client-request-id` the client sent; a token failure by Entra's error code.
"""
from __future__ import annotations

import contextlib
import functools
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from reliability.harness import Outcome, VirtualClock, environment, integration_patched, run_module, scan
from reliability.report import Row

GRAPH_ROUTE = '/v1.0/users*'
RETRY_BUDGET = 120.0        # MicrosoftApiModule.MS_RETRY_BUDGET: the most a Graph call may wait for throttling
IMDS_BUDGET = 101.0         # MS_IMDS_RETRIES with its backoff: 0+1.6+3.2+6.4+12.8+25.6+51.2 s
WALL_LIMIT = 15.0           # no case may take longer than this in real time


class Hung(BaseException):
    """Raised by the watchdog inside a case that ran past its bound (BaseException: the entry point must not turn it
    into an error entry)."""


@dataclass
class Case:
    family: str
    label: str
    command: str
    args: dict[str, str] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    mode: str = 'client_credentials'
    expect: str = 'ok'                      # 'ok' | 'error'
    cause: tuple[str, ...] = ()             # words the error must contain (case-insensitive)
    trace: str = 'graph'                    # 'graph' request-id | 'client' client-request-id | 'entra' | 'none'
    timeout: str | None = None              # the instance's `timeout` parameter
    prime: bool = False                     # get a token first, so the faults meet a cached token
    after: Callable[[Any, Any], str | None] | None = None  # a follow-up check: (env, context) -> problem or None
    virtual_limit: float = RETRY_BUDGET
    pages: int = 0                          # the Graph GETs the case must have sent (a fault on a later page fired)
    on_sleep: Callable[[Any, float], None] | None = None


def status(status: int, *, route: str = GRAPH_ROUTE, count: int | None = 1, retry_after: float | None = None,
           method: str = '*', server: str = 'https', fmt: str = 'seconds', skip: int = 0) -> dict[str, Any]:
    return {'kind': 'status', 'status': status, 'route': route, 'count': count, 'retry_after': retry_after,
            'method': method, 'server': server, 'retry_after_format': fmt, 'skip': skip}


def fault(kind: str, **fields: Any) -> dict[str, Any]:
    return {'kind': kind, 'route': GRAPH_ROUTE, 'count': 1, **fields}


def cases(env: Any) -> list[Case]:
    samples = env.emulator.registrations['users']['samples']
    admin, loner = samples['admin']['userPrincipalName'], samples['loner']['userPrincipalName']
    get = ('msgraph-user-get', {'user': admin})
    listing = ('msgraph-user-list', {'all_results': 'true'})  # 3 pages of 999 (the emulator holds 2,100 users)
    update = ('msgraph-user-update', {'user': loner, 'updated_fields': 'jobTitle=Reliability'})
    revoke = ('msgraph-user-session-revoke', {'user': loner})
    delta = ('msgraph-user-get-delta', {'properties': 'displayName'})
    create = ('msgraph-user-create', {'display_name': 'Fault Probe', 'mail_nickname': 'faultprobe',
                                      'user_principal_name': 'fault.probe@emulator.onmicrosoft.com',
                                      'password': 'Fault-Pr0be!pass'})
    reads, writes = (get, listing, delta), (update, revoke)
    result: list[Case] = []
    family = '429 storms (Retry-After honoured)'
    for command, args in (*reads, *writes, create):
        for count, after_s, fmt in ((1, 1, 'seconds'), (3, 5, 'seconds'), (5, 20, 'http-date')):
            result.append(Case(family, f'{count} x 429 Retry-After {after_s} s ({fmt})', command, args,
                               [status(429, count=count, retry_after=after_s, fmt=fmt)]))
        result.append(Case(family, '429 without end', command, args, [status(429, count=None, retry_after=10)],
                           expect='error', cause=('429', 'throttled', 'retry after')))
    result.append(Case(family, '429 Retry-After 3600 s', *get, [status(429, count=None, retry_after=3600)],
                       expect='error', cause=('429', 'retry after 3600')))
    family = '503/504 bursts'
    for command, args in (*reads, *writes):
        result.append(Case(family, '2 x 503, no Retry-After', command, args, [status(503, count=2)]))
        if command == 'msgraph-user-session-revoke':  # a POST: after a 504 it may have run, so it is not repeated
            result.append(Case(family, '3 x 504 (POST: not repeated)', command, args, [status(504, count=3)],
                               expect='error', cause=('504',)))
        else:
            result.append(Case(family, '3 x 504', command, args, [status(504, count=3)]))
        result.append(Case(family, '503 without end', command, args, [status(503, count=None)], expect='error',
                           cause=('503',)))
    result.append(Case(family, '504 on a create (not repeated: it may have run)', *create, [status(504)],
                       expect='error', cause=('504',)))
    result.append(Case(family, '503 on a create (refused: repeated)', *create, [status(503, count=2)]))
    family = 'connection resets'
    for command, args in (*reads, *writes, create):
        result.append(Case(family, 'connection dropped', command, args, [fault('drop')], expect='error',
                           cause=('connection',), trace='client'))
    for command, args in (listing, delta):
        result.append(Case(family, 'dropped on the 2nd page', command, args, [fault('drop', skip=1)],
                           expect='error', cause=('connection',), trace='client'))
    result.append(Case(family, 'token endpoint dropped', *get, [fault('drop', route='/*/oauth2/v2.0/token')],
                       expect='error', cause=('could not reach', 'connection'), trace='none'))
    family = 'responses slower than the timeout'
    for command, args in (get, listing, update):
        result.append(Case(family, '2.5 s answer, timeout 1 s', command, args, [fault('latency', latency_ms=2500)],
                           expect='error', cause=('timeout',), trace='client', timeout='1'))
    result.append(Case(family, '0.3 s answer, timeout 1 s', *get, [fault('latency', latency_ms=300)], timeout='1'))
    result.append(Case(family, 'token endpoint 2.5 s, timeout 1 s', *get,
                       [fault('latency', latency_ms=2500, route='/*/oauth2/v2.0/token')], expect='error',
                       cause=('timeout',), trace='none', timeout='1'))
    result.append(Case(family, 'IMDS 2.5 s, timeout 1 s', *get,
                       [fault('latency', latency_ms=2500, route='/metadata/*', server='imds', count=None)],
                       mode='managed_identity', expect='error', cause=('timeout',), trace='none', timeout='1'))
    result.append(Case(family, 'oproxy 2.5 s, timeout 1 s', *get,
                       [fault('latency', latency_ms=2500, route='/obtain-token')], mode='oproxy', expect='error',
                       cause=('timeout',), trace='none', timeout='1'))
    family = 'malformed JSON'
    for command, args in (get, listing, delta):
        result.append(Case(family, 'truncated JSON body', command, args, [fault('malformed', method='GET')],
                           expect='error', cause=('not json',)))
    result.append(Case(family, 'token endpoint', *get, [fault('malformed', route='/*/oauth2/v2.0/token')],
                       expect='error', cause=('authorization',), trace='none'))
    result.append(Case(family, 'oproxy', *get, [fault('malformed', route='/obtain-token')], mode='oproxy',
                       expect='error', cause=('did not contain the expected content',), trace='none'))
    result.append(Case(family, 'IMDS', *get, [fault('malformed', route='/metadata/*', server='imds')],
                       mode='managed_identity', expect='error', cause=('managed identit',), trace='none'))
    family = 'token revoked mid-run (401)'
    for mode in ('client_credentials', 'certificate', 'oproxy', 'managed_identity', 'authorization_code'):
        result.append(Case(family, f'{mode}: access token revoked', *get, [fault('expire_tokens')], mode=mode,
                           prime=True))
        for command, args in (listing, delta):
            result.append(Case(family, f'{mode}: revoked on the 3rd page', command, args,
                               [fault('expire_tokens', skip=2)], mode=mode, prime=True, pages=3))
    # The refresh after the 401 meets a revoked grant (rules fire one per request: expire on Graph, revoke at login).
    result.append(Case(family, 'authorization_code: sessions revoked too', *get,
                       [fault('expire_tokens'), fault('revoke', route='/*/oauth2/v2.0/token')],
                       mode='authorization_code', prime=True,
                       expect='error', cause=('invalid_grant', 'msgraph-user-generate-login-url'), trace='entra'))
    family = 'IMDS 410 for 30 s, then recovering'
    for mode in ('managed_identity', 'managed_identity_system'):
        result.append(Case(family, f'{mode}: 410 for 30 s', *get,
                           [status(410, route='/metadata/*', server='imds', count=None)], mode=mode,
                           virtual_limit=IMDS_BUDGET, on_sleep=recover_after(30.0)))
    result.append(Case(family, '410 for ever: gives up in time', *get,
                       [status(410, route='/metadata/*', server='imds', count=None)], mode='managed_identity',
                       expect='error', cause=('410',), trace='none', virtual_limit=IMDS_BUDGET))
    result.append(Case(family, '429 x 2 then ok', *get, [status(429, route='/metadata/*', server='imds', count=2)],
                       mode='managed_identity', virtual_limit=IMDS_BUDGET))
    result.append(Case(family, '500 x 2 then ok', *get, [status(500, route='/metadata/*', server='imds', count=2)],
                       mode='managed_identity', virtual_limit=IMDS_BUDGET))
    family = 'oproxy and token endpoint 5xx'
    for code in (500, 502, 503):
        result.append(Case(family, f'oproxy {code}', *get, [status(code, route='/obtain-token')], mode='oproxy',
                           expect='error', cause=(str(code),), trace='none',
                           after=oproxy_backs_off(wait=code == 503)))
    # msal keeps a 5xx for its Retry-After (5 s without one, in the http cache this instance persists) and answers
    # from it until then: the next run says so, and the one after the wait works.
    for mode in ('client_credentials', 'certificate', 'authorization_code'):
        for code, retry_after in ((500, None), (503, 2.0)):
            wait = (retry_after or 5.0) if mode == 'client_credentials' else None  # the real wait once per kind
            result.append(Case(family, f'{mode}: token endpoint {code}', *get,
                               [status(code, route='/*/oauth2/v2.0/token', retry_after=retry_after)], mode=mode,
                               expect='error', cause=(str(code), 'temporarily_unavailable'), trace='entra',
                               after=next_run_recovers(wait)))
    return result


def recover_after(seconds: float) -> Callable[[Any, float], None]:
    """An on_sleep hook: once the virtual clock passes `seconds`, the emulator's faults are cleared."""
    def hook(env: Any, slept: float) -> None:
        if slept >= seconds:
            env.emulator.clear_faults()
    return hook


def oproxy_backs_off(wait: bool) -> Callable[[Any, Any], str | None]:
    """A follow-up check: after a broker failure the next run waits (no request) and names until when; with `wait`,
    the run after that time works."""
    def check(env: Any, runner: Any) -> str | None:
        since = last_seq(env)
        waiting = runner('msgraph-user-get', {'user': 'admin@emulator.onmicrosoft.com'})
        if 'delayed until' not in waiting.error_text or env.emulator.requests(since=since):
            return f'the run after a broker failure did not wait: {waiting.error_text[:200]!r}'
        if not wait:
            return None
        time.sleep(2.1)  # the first backoff is 2 s (auth.md §2)
        again = runner('msgraph-user-get', {'user': 'admin@emulator.onmicrosoft.com'})
        return None if again.ok else f'no recovery after the backoff: {again.error_text[:200]!r}'
    return check


def next_run_recovers(wait: float | None) -> Callable[[Any, Any], str | None]:
    """A follow-up check: a run at once is refused from msal's cache with a clear text (no request); with `wait`,
    the next run once it has passed works."""
    def check(env: Any, runner: Any) -> str | None:
        since = last_seq(env)
        at_once = runner('msgraph-user-get', {'user': 'admin@emulator.onmicrosoft.com'})
        if at_once.ok or env.emulator.requests(since=since) or 'again' not in at_once.error_text:
            return f'a run within the wait was not answered from the cache: {at_once.error_text[:200]!r}'
        if wait is None:
            return None
        time.sleep(wait + 0.2)
        again = runner('msgraph-user-get', {'user': 'admin@emulator.onmicrosoft.com'})
        return None if again.ok else f'no recovery after {wait:.0f} s: {again.error_text[:200]!r}'
    return check


def last_seq(env: Any) -> int:
    entries = env.emulator.requests()
    return entries[-1]['seq'] if entries else 0


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hung(f'still running after {seconds:.0f} s')

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(env: Any) -> list[Row]:
    import demistomock

    emulator = env.emulator
    network = {'REQUESTS_CA_BUNDLE': emulator.ca_bundle, 'CURL_CA_BUNDLE': emulator.ca_bundle,
               'AZURE_POD_IDENTITY_AUTHORITY_HOST': emulator.imds_url}
    rows: dict[str, Row] = {}
    longest: dict[str, tuple[float, float]] = {}  # family -> (most virtual seconds waited, most wall seconds)
    clock = VirtualClock()
    with environment(network), integration_patched(clock) as integration:
        for case in cases(env):
            row = rows.setdefault(case.family, Row(f'Faults: {case.family}', data_lost=None))
            started = time.perf_counter()
            emulator.reset()
            params = {**emulator.info['instance_params'][case.mode]}
            if case.mode == 'authorization_code':
                params['creds_auth_code'] = {'identifier': '', 'password': emulator.mint_auth_code()}
            if case.timeout:
                params['timeout'] = case.timeout
            store = demistomock.MemoryContextStore()

            def runner(command: str, args: dict[str, str], params: dict = params, store: Any = store) -> Outcome:
                return run_module(integration, command, params, args, store=store)

            if case.prime and not runner('msgraph-user-test', {}).ok:
                row.cases += 1
                row.fail(f'{case.label}: could not get a first token')
                continue
            emulator.configure(page_size=100)
            for rule in case.faults:
                emulator.add_fault(**rule)
            since = last_seq(env)
            clock.slept = 0.0
            clock.on_sleep = [functools.partial(case.on_sleep, env)] if case.on_sleep else []
            try:
                with watchdog(WALL_LIMIT):
                    outcome = runner(case.command, case.args)
            except Hung as error:  # pragma: no cover - only when a case hangs
                outcome = Outcome(case.command, [], exception=f'Hung: {error}')
            elapsed = time.perf_counter() - started
            waited, took = longest.get(case.family, (0.0, 0.0))
            longest[case.family] = (max(waited, clock.slept), max(took, elapsed))
            problem = judge(case, outcome, emulator.requests(since=since), clock.slept, elapsed)
            emulator.clear_faults()
            if problem is None and case.after is not None:
                problem = case.after(env, runner)
            row.cases += 1
            row.findings.extend(scan(env.book, outcome))
            if problem:
                row.fail(f'{case.command} / {case.label}: {problem}')
            else:
                row.passed += 1
            row.seconds += time.perf_counter() - started
    for family, row in rows.items():
        waited, took = longest[family]
        row.note = (f'success within the budget or an error naming the cause and the id; longest case: '
                    f'{waited:.0f} s of (virtual) retry waits, {took:.1f} s wall time')
    return list(rows.values())


def judge(case: Case, outcome: Outcome, requests: list[dict[str, Any]], slept: float, elapsed: float) -> str | None:
    if outcome.exception:
        return f'exception: {outcome.exception.strip().splitlines()[-1][:200]}'
    if slept > case.virtual_limit:
        return f'waited {slept:.0f} s (budget {case.virtual_limit:.0f} s)'
    if elapsed > WALL_LIMIT:
        return f'took {elapsed:.1f} s'
    pages = [entry for entry in requests if entry['method'] == 'GET' and entry['path'].startswith('/v1.0/')]
    if len(pages) < case.pages:
        return f'only {len(pages)} Graph GETs: the fault on a later page never fired'
    if case.expect == 'ok':
        return None if outcome.ok else f'failed: {outcome.error_text[:300]!r}'
    if outcome.ok:
        return 'succeeded where an error was expected'
    text = outcome.error_text
    missing = [word for word in case.cause if word.lower() not in text.lower()]
    if missing:
        return f'error does not name {missing}: {text[:300]!r}'
    if case.trace == 'graph':
        graph = [entry for entry in requests if entry['path'].startswith(('/v1.0/', '/beta/')) and entry['status']]
        request_id = graph[-1]['request_id'] if graph else None
        if not request_id or request_id not in text:
            return f'error does not name the request-id {request_id}: {text[:300]!r}'
    if case.trace == 'client':
        sent = [entry['headers'].get('Client-Request-Id') or entry['headers'].get('client-request-id')
                for entry in requests if entry['path'].startswith(('/v1.0/', '/beta/'))]
        if not sent or not sent[-1] or sent[-1] not in text:
            return f'error does not name the client-request-id {sent[-1:]}: {text[:300]!r}'
    if case.trace == 'entra' and 'AADSTS' not in text and 'trace id' not in text.lower():
        return f'token error names no Entra code or trace id: {text[:300]!r}'
    return None
