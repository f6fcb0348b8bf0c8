"""TLS and proxy, against the emulator's HTTPS (a throwaway CA) in every authentication mode.

* Default: the machine's CA bundle (REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE pointing at the system bundle, as this machine
  sets them globally) does not know the emulator's CA: the run must be refused with a message that says the
  certificate could not be verified and what to do - on the first HTTPS call of the mode (login, oproxy or Graph).
* `insecure=true` accepts; a CA bundle holding the emulator's CA (REQUESTS_CA_BUNDLE) accepts.
* `proxy=true` with HTTPS_PROXY / HTTP_PROXY pointing at a loopback CONNECT proxy: every HTTPS call goes through it
  (the proxy records each CONNECT), the managed-identity endpoint never does (it is plain HTTP on another port and
  must be reached directly); `proxy=false` with the same variables set: nothing goes through the proxy; a proxy that
  refuses connections gives a message naming the proxy.
"""
from __future__ import annotations

import socket
import ssl
import time
import urllib.parse
from pathlib import Path
from typing import Any

from reliability.harness import ORIGINAL_ENV, Outcome, UnifiedRunner, environment, scan
from reliability.proxy import recording_proxy
from reliability.report import Row

MODES = ('client_credentials', 'certificate', 'authorization_code', 'oproxy', 'managed_identity')
COMMAND = ('msgraph-user-get', {'user': 'admin@emulator.onmicrosoft.com', 'properties': 'id'})


def system_bundle() -> str:
    """The machine's CA bundle - the one REQUESTS_CA_BUNDLE names when it is set globally, as here - which does not
    hold the emulator's throwaway CA."""
    paths = ssl.get_default_verify_paths()
    for candidate in (ORIGINAL_ENV.get('REQUESTS_CA_BUNDLE'), ORIGINAL_ENV.get('CURL_CA_BUNDLE'), paths.cafile,
                      paths.openssl_cafile, '/etc/ssl/certs/ca-certificates.crt'):
        if candidate and Path(candidate).is_file():
            return candidate
    import certifi

    return certifi.where()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def run(env: Any) -> list[Row]:
    started = time.perf_counter()
    emulator = env.emulator
    runner = env.extra.get('runner') or UnifiedRunner()
    env.extra['runner'] = runner
    import demistomock

    tls = Row('TLS: system CA bundle refuses, insecure=true / the CA bundle accept (every mode)', data_lost=None)
    proxy_row = Row('Proxy: proxy=true uses HTTPS_PROXY, proxy=false ignores it, managed identity bypasses it',
                    data_lost=None)
    base = {'AZURE_POD_IDENTITY_AUTHORITY_HOST': emulator.imds_url}
    system = {**base, 'REQUESTS_CA_BUNDLE': system_bundle(), 'CURL_CA_BUNDLE': system_bundle()}
    ours = {**base, 'REQUESTS_CA_BUNDLE': emulator.ca_bundle, 'CURL_CA_BUNDLE': emulator.ca_bundle}
    https_target = urllib.parse.urlsplit(emulator.base_url).netloc
    imds_port = urllib.parse.urlsplit(emulator.imds_url).port

    def one(mode: str, variables: dict[str, str], **overrides: Any) -> Outcome:
        emulator.reset()
        params = {**emulator.info['instance_params'][mode], **overrides}
        if mode == 'authorization_code':
            params['creds_auth_code'] = {'identifier': '', 'password': emulator.mint_auth_code()}
        command = ('msgraph-user-test', {}) if mode == 'authorization_code' else COMMAND
        with environment(variables):
            return runner.run(command[0], params, command[1], demistomock.MemoryContextStore(),
                              Path(env.work_dir) / 'tls')

    def count(row: Row, label: str, outcome: Outcome, problem: str | None) -> None:
        row.cases += 1
        row.findings.extend(scan(env.book, outcome))
        if problem:
            row.fail(f'{label}: {problem}')
        else:
            row.passed += 1

    for mode in MODES:
        refused = one(mode, system)
        text = refused.error_text
        count(tls, f'{mode}, system bundle', refused,
              None if not refused.ok and 'certificate could not be verified' in text
              and 'Trust any certificate' in text else f'not refused clearly: {text[:300]!r}')
        insecure = one(mode, system, insecure=True)
        count(tls, f'{mode}, insecure=true', insecure, None if insecure.ok else insecure.error_text[:300])
        bundle = one(mode, ours)
        count(tls, f'{mode}, CA bundle', bundle, None if bundle.ok else bundle.error_text[:300])

    with recording_proxy() as proxy:
        url = f'http://127.0.0.1:{proxy.server_address[1]}'
        proxied = {**ours, 'HTTPS_PROXY': url, 'HTTP_PROXY': url, 'https_proxy': url, 'http_proxy': url}
        for mode in MODES:
            proxy.seen.clear()
            since = (emulator.requests() or [{'seq': 0}])[-1]['seq']
            through = one(mode, proxied, proxy=True)
            https_calls = [entry for entry in emulator.requests(since=since) if entry['server'] == 'https']
            tunnels = [target for method, target in proxy.seen if method == 'CONNECT']
            problem = None
            if not through.ok:
                problem = f'failed through the proxy: {through.error_text[:300]}'
            elif not tunnels or any(target != https_target for target in tunnels):
                problem = f'HTTPS did not go through the proxy (proxy saw {proxy.seen})'
            elif len(tunnels) < min(2, len(https_calls)):
                problem = f'{len(https_calls)} HTTPS calls, only {len(tunnels)} through the proxy'
            elif any(method != 'CONNECT' or str(imds_port) in target for method, target in proxy.seen):
                problem = f'the managed-identity endpoint went through the proxy: {proxy.seen}'
            count(proxy_row, f'{mode}, proxy=true', through, problem)

            proxy.seen.clear()
            direct = one(mode, proxied, proxy=False)
            count(proxy_row, f'{mode}, proxy=false', direct,
                  None if direct.ok and not proxy.seen else f'ok={direct.ok}, proxy saw {proxy.seen}: '
                                                            f'{direct.error_text[:200]}')
        dead = f'http://127.0.0.1:{closed_port()}'
        refusing = {**ours, 'HTTPS_PROXY': dead, 'https_proxy': dead}
        for mode in ('client_credentials', 'managed_identity'):
            failed = one(mode, refusing, proxy=True)
            count(proxy_row, f'{mode}, a proxy that refuses', failed,
                  None if not failed.ok and 'proxy' in failed.error_text.lower()
                  else f'no clear proxy error: {failed.error_text[:300]!r}')
    tls.note = f'{len(MODES)} modes; system bundle: {system_bundle()}'
    proxy_row.note = 'a loopback CONNECT proxy records every tunnel; plain HTTP through it would be recorded too'
    tls.seconds = proxy_row.seconds = (time.perf_counter() - started) / 2
    return [tls, proxy_row]
