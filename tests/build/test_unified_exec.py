"""The unified integration runs the way the XSOAR server runs it.

One code string — the stand-in CommonServerPython, CommonServerUserPython, then the unified script — is compiled as
``<string>`` and ``exec``-ed in globals without ``__name__`` (so the entry guard calls ``main()``), in a separate
process with nothing of this project on ``sys.path`` (tests/build/server_exec.py). Two unified scripts are run:

* the one ``xsoar_runner.unify`` builds (always; no demisto-sdk needed);
* the one demisto-sdk ``prepare-content`` wrote to ``dist/`` (when ``make build`` ran on the current sources;
  ``make validate`` runs this file right after building).

Each runs ``test-module`` and then ``msgraph-user-get`` against requests-mock, with the real authentication path
(msal, client credentials): a missing import, a name only the pytest import path provides, or a module-level use
of ``__name__``/``__file__`` fails here although the unit tests pass.
"""
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from build_tools import BUILD_STAMP, INTEGRATION, PROJECT_ROOT, UNIFIED_YML
from build_tools.layout import inputs_fingerprint, pack_version
from tests.common import CLIENT_CREDENTIALS_PARAMS
from xsoar_runner import RUNTIME_DIR
from xsoar_runner.unify import unify_integration

HARNESS = Path(__file__).with_name('server_exec.py')
TENANT = CLIENT_CREDENTIALS_PARAMS['creds_tenant_id']['password']  # type: ignore[index]
AUTHORITY = f'https://login.microsoftonline.com/{TENANT}'
GRAPH = 'https://graph.microsoft.com/v1.0'
TOKEN = 'exec-test-access-token'
USER = json.loads((PROJECT_ROOT / 'test_data' / 'user_get.json').read_text(encoding='utf-8'))
UPN = USER['userPrincipalName']
UPN_IN_PATH = UPN.replace('.', r'\.').replace('@', '(%40|@)')

MOCKS = [
    {'method': 'GET', 'url': f'{AUTHORITY}/v2.0/.well-known/openid-configuration',
     'json': {'token_endpoint': f'{AUTHORITY}/oauth2/v2.0/token', 'issuer': f'{AUTHORITY}/v2.0',
              'authorization_endpoint': f'{AUTHORITY}/oauth2/v2.0/authorize'}},
    {'method': 'POST', 'url': f'{AUTHORITY}/oauth2/v2.0/token',
     'json': {'token_type': 'Bearer', 'expires_in': 3599, 'ext_expires_in': 3599, 'access_token': TOKEN}},
    {'method': 'GET', 'url': rf'^{GRAPH}/users/?(\?.*)?$', 'regex': True,
     'json': {'@odata.context': f'{GRAPH}/$metadata#users(id)', 'value': [{'id': USER['id']}]}},
    {'method': 'GET', 'url': rf'^{GRAPH}/users/{UPN_IN_PATH}(\?.*)?$', 'regex': True, 'json': USER},
]
RUNS = [{'command': 'test-module', 'args': {}}, {'command': 'msgraph-user-get', 'args': {'user': UPN}}]


def runtime_prefix() -> str:
    """What the server puts before the integration: CommonServerPython, then CommonServerUserPython."""
    csp = (RUNTIME_DIR / 'CommonServerPython.py').read_text(encoding='utf-8')
    csup = (RUNTIME_DIR / 'CommonServerUserPython.py').read_text(encoding='utf-8')
    return f'{csp}\n{csup}\n'


def runner_unified_script() -> str:
    return unify_integration(PROJECT_ROOT, INTEGRATION, pack_version=(INTEGRATION, pack_version()))


def sdk_unified_script() -> str:
    """script.script of dist/'s unified yml; skips unless `make build` ran on exactly the current sources."""
    if not UNIFIED_YML.is_file():
        pytest.skip(f'{UNIFIED_YML.relative_to(PROJECT_ROOT)} not built (make build; make validate runs this test)')
    stamp = BUILD_STAMP.read_text().strip() if BUILD_STAMP.is_file() else ''
    if stamp != inputs_fingerprint():
        pytest.skip(f'{UNIFIED_YML.relative_to(PROJECT_ROOT)} is stale: the sources changed since make build')
    return str(yaml.safe_load(UNIFIED_YML.read_text(encoding='utf-8'))['script']['script'])


def run_like_the_server(script: str, tmp_path: Path) -> list[dict[str, Any]]:
    code_file = tmp_path / 'server_code.py'
    code_file.write_text(runtime_prefix() + script, encoding='utf-8')
    spec = {'code_file': str(code_file), 'demistomock_file': str(RUNTIME_DIR / 'demistomock.py'),
            'params': CLIENT_CREDENTIALS_PARAMS, 'runs': RUNS, 'mocks': MOCKS}
    spec_file, result_file = tmp_path / 'spec.json', tmp_path / 'result.json'
    spec_file.write_text(json.dumps(spec), encoding='utf-8')
    process = subprocess.run([sys.executable, '-I', str(HARNESS), str(spec_file), str(result_file)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, f'the harness failed:\n{process.stdout}\n{process.stderr}'
    return json.loads(result_file.read_text(encoding='utf-8'))


def describe(run: dict[str, Any]) -> str:
    entries = [{key: entry.get(key) for key in ('Type', 'Contents', 'HumanReadable')} for entry in run['entries']]
    return (f"{run['command']}: exception={run['exception']}\nentries={json.dumps(entries, default=str)[:3000]}\n"
            f"requests={[(request['method'], request['url']) for request in run['requests']]}")


def assert_graph_calls_authorised(run: dict[str, Any]) -> list[dict[str, Any]]:
    graph_calls = [request for request in run['requests'] if request['url'].startswith(GRAPH)]
    assert graph_calls, describe(run)
    for request in graph_calls:
        assert request['headers'].get('Authorization') == f'Bearer {TOKEN}', describe(run)
    return graph_calls


def check_server_runs(runs: list[dict[str, Any]]) -> None:
    test_module, user_get = runs
    for run in runs:
        assert run['exception'] is None, describe(run)
        assert not [entry for entry in run['entries'] if entry.get('Type') == 4], describe(run)

    assert [entry.get('Contents') for entry in test_module['entries']] == ['ok'], describe(test_module)
    assert any(request['method'] == 'POST' and request['url'] == f'{AUTHORITY}/oauth2/v2.0/token'
               for request in test_module['requests']), describe(test_module)
    assert_graph_calls_authorised(test_module)

    # The token test-module stored in the integration context serves the next command: one request, to Graph.
    assert [request['method'] for request in user_get['requests']] == ['GET'], describe(user_get)
    assert_graph_calls_authorised(user_get)
    [entry] = user_get['entries']
    context = entry.get('EntryContext') or {}
    users = [value for key, value in context.items() if key.split('(')[0] == 'MSGraphUser']
    accounts = [value for key, value in context.items() if key.split('(')[0] == 'Account']
    assert users and accounts, describe(user_get)
    user = users[0][0] if isinstance(users[0], list) else users[0]
    account = accounts[0][0] if isinstance(accounts[0], list) else accounts[0]
    assert user.get('ID') == USER['id'] and user.get('UserPrincipalName') == UPN, describe(user_get)
    assert account.get('ID') == USER['id'] and account.get('Type') == 'Azure AD', describe(user_get)
    assert USER['displayName'] in str(entry.get('HumanReadable')), describe(user_get)


def test_runner_unified_script_runs_like_on_the_server(tmp_path: Path) -> None:
    check_server_runs(run_like_the_server(runner_unified_script(), tmp_path))


def test_sdk_unified_script_runs_like_on_the_server(tmp_path: Path) -> None:
    check_server_runs(run_like_the_server(sdk_unified_script(), tmp_path))


def test_sdk_and_runner_unify_identically() -> None:
    """xsoar_runner.unify (used by the runner and the e2e tests) produces byte-for-byte what demisto-sdk ships."""
    sdk, runner = sdk_unified_script(), runner_unified_script()
    if sdk != runner:
        sdk_lines, runner_lines = sdk.splitlines(), runner.splitlines()
        first = next((index for index, pair in enumerate(zip(sdk_lines, runner_lines, strict=False))
                      if pair[0] != pair[1]), min(len(sdk_lines), len(runner_lines)))
        pytest.fail(f'unified scripts differ from line {first + 1}:\n'
                    f'  demisto-sdk:      {sdk_lines[first] if first < len(sdk_lines) else "<end>"!r}\n'
                    f'  xsoar_runner:     {runner_lines[first] if first < len(runner_lines) else "<end>"!r}')


def test_a_missing_import_fails_the_server_run(tmp_path: Path) -> None:
    """The harness really isolates the code: an import only pytest's path can satisfy breaks the run."""
    script = runner_unified_script().replace('def main()', 'import MicrosoftGraphUser  # noqa\n\n\ndef main()', 1)
    test_module = run_like_the_server(script, tmp_path)[0]
    assert test_module['exception'] and 'MicrosoftGraphUser' in test_module['exception']
