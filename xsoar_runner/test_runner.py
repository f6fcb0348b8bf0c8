"""Pins the runner's server-like behaviour with a tiny fake integration and fake ApiModules (not the real ones)."""
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import demistomock as demisto
import pytest

from xsoar_runner import PROJECT_ROOT, RUNTIME_DIR
from xsoar_runner.cli import main
from xsoar_runner.context_store import FileContextStore
from xsoar_runner.execute import build_server_code
from xsoar_runner.render import markdown_to_text, merged_context
from xsoar_runner.unify import unify_integration

FAKE_API_MODULE = '''\
import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401


def fake_greeting(name):
    return f'hello {name}'


def fake_raise():
    raise ValueError('raised in the api module')
'''

FAKE_INTEGRATION = '''\
import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401
from CommonServerUserPython import *  # noqa: F401
from FakeApiModule import *  # noqa: E402
from pathlib import Path
from typing import Any


def count_command(args):
    context = get_integration_context()
    context['count'] = context.get('count', 0) + 1
    set_integration_context(context)
    row = {'Name': args.get('name'), 'Greeting': fake_greeting(args.get('name')), 'Count': context['count']}
    return CommandResults(outputs_prefix='Fake.Count', outputs_key_field='Name', outputs=row,
                          readable_output=tableToMarkdown('Counted', row, headers=['Name', 'Greeting', 'Count']))


def race_command(args):
    """Reads the versioned context, waits until the other runner has read it too, then writes."""
    _, version = get_integration_context_with_version()
    Path(f"ready-{args['who']}").touch()
    deadline = time.time() + 30
    while len(list(Path('.').glob('ready-*'))) < 2 and time.time() < deadline:
        time.sleep(0.02)
    set_integration_context({'writer': args['who']}, version=version)
    return f"{args['who']} wrote"


def main():
    command = demisto.command()
    demisto.debug(f"client secret is {demisto.params().get('client_secret')}")
    print('a printed line')
    try:
        if command == 'test-module':
            return_results('ok')
        elif command == 'fake-whoami':
            return_results(f'__name__={__name__} exit is sys.exit: {exit is sys.exit}')
        elif command == 'fake-count':
            return_results(count_command(demisto.args()))
        elif command == 'fake-file':
            return_results([CommandResults(readable_output='see file'), fileResult('report.txt', 'data')])
        elif command == 'fake-race':
            return_results(race_command(demisto.args()))
        elif command == 'fake-proxy-off':
            BaseClient('https://127.0.0.1', proxy=False)
            return_results(os.environ.get('HTTPS_PROXY', 'unset'))
        elif command == 'fake-raise':
            fake_raise()
        elif command == 'fake-raise-here':
            raise KeyError('raised in the integration')
        else:
            raise NotImplementedError(f'Command {command} is not implemented')
    except (ValueError, KeyError):
        raise
    except Exception as e:
        return_error(f'Failed to execute {command} command.\\nError:\\n{e}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / 'project'
    (root / 'FakeApiModule').mkdir(parents=True)
    (root / 'FakeApiModule' / 'FakeApiModule.py').write_text(FAKE_API_MODULE)
    (root / 'Fake.py').write_text(FAKE_INTEGRATION)
    (root / 'Fake.yml').write_text("commonfields:\n  id: Fake Integration\nname: 'Fake Integration'\nscript:\n"
                                   "  script: '-'\n")
    return root


@pytest.fixture(autouse=True)
def clean_mock() -> None:
    demisto.reset()


def run_cli(project: Path, state: Path, *argv: str) -> int:
    return main(['--project-root', str(project), '--integration', 'Fake', '--state-dir', str(state), *argv])


# ------------------------------------------------------------------------------------------------ unification

def test_unify_inlines_api_modules_like_demisto_sdk(tmp_path: Path) -> None:
    (tmp_path / 'OuterApiModule').mkdir()
    (tmp_path / 'InnerApiModule').mkdir()
    (tmp_path / 'OuterApiModule' / 'OuterApiModule.py').write_text(
        'from CommonServerPython import *  # noqa: F401\nfrom InnerApiModule import *\nOUTER = 1\n')
    (tmp_path / 'InnerApiModule' / 'InnerApiModule.py').write_text('import demistomock as demisto\nINNER = 2\n')
    (tmp_path / 'Mini.py').write_text(
        'import demistomock as demisto  # noqa: F401\n'
        'from CommonServerPython import *  # noqa: F401\n'
        'from CommonServerUserPython import *\n'
        '\n'
        'def main():\n'
        '    return OUTER\n'
        'from OuterApiModule import *  # noqa: E402\n'
        'main()\n')
    inner = ('\n### GENERATED CODE ###: from InnerApiModule import *\n'
             '# This code was inserted in place of an API module.\n'
             "register_module_line('InnerApiModule', 'start', __line__(), wrapper=-3)\n"
             '\nINNER = 2\n\n'
             "register_module_line('InnerApiModule', 'end', __line__(), wrapper=1)\n"
             '### END GENERATED CODE ###')
    outer = ('\n### GENERATED CODE ###: from OuterApiModule import *  # noqa: E402\n'
             '# This code was inserted in place of an API module.\n'
             "register_module_line('OuterApiModule', 'start', __line__(), wrapper=-3)\n"
             f'\n{inner}\nOUTER = 1\n\n'
             "register_module_line('OuterApiModule', 'end', __line__(), wrapper=1)\n"
             '### END GENERATED CODE ###')
    assert unify_integration(tmp_path, 'Mini') == (
        "register_module_line('Mini', 'start', __line__())\n"
        '\n\n\n\ndef main():\n    return OUTER\n'
        f'{outer}\nmain()\n\n'
        "register_module_line('Mini', 'end', __line__())\n")


def test_unify_uses_the_yml_name_and_optional_pack_version(project: Path) -> None:
    unified = unify_integration(project, 'Fake', pack_version=('FakePack', '1.2.3'))
    assert unified.startswith("register_module_line('Fake Integration', 'start', __line__())\n"
                              "CONSTANT_PACK_VERSION = '1.2.3'\n"
                              "demisto.debug('pack id = FakePack, pack version = 1.2.3')\n")
    assert unified.endswith("register_module_line('Fake Integration', 'end', __line__())\n")
    assert 'import demistomock' not in unified and 'from CommonServer' not in unified
    assert '### GENERATED CODE ###: from FakeApiModule import *  # noqa: E402\n' in unified


def test_unify_reports_a_missing_api_module(project: Path) -> None:
    (project / 'Fake.py').write_text('from MissingApiModule import *\n')
    with pytest.raises(ValueError, match=r'^Could not retrieve the module \[MissingApiModule\] code'):
        unify_integration(project, 'Fake')


def test_server_code_is_one_string_in_server_order(project: Path) -> None:
    code = build_server_code(project, 'Fake')
    csp = (RUNTIME_DIR / 'CommonServerPython.py').read_text()
    csup = (RUNTIME_DIR / 'CommonServerUserPython.py').read_text()
    assert code == f'{csp}\n{csup}\n{unify_integration(project, "Fake")}'


# ------------------------------------------------------------------------------------------------ execution

def test_exec_without_name_runs_main(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, tmp_path / 'state', 'fake-whoami') == 0
    out = capsys.readouterr().out
    assert '[1] note\n__name__=builtins exit is sys.exit: True' in out


def test_entries_are_printed(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, tmp_path / 'state', 'fake-count', 'name=bob') == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(
        '[1] note\nCounted\n-------\n'
        'Name | Greeting  | Count\n'
        '-----+-----------+------\n'
        'bob  | hello bob | 1\n\n'
        'Context:\n')
    assert json.loads(captured.out.split('Context:\n', 1)[1]) == {
        'Fake.Count(val.Name && val.Name == obj.Name)': {'Name': 'bob', 'Greeting': 'hello bob', 'Count': 1}}
    assert '[log] a printed line' in captured.err  # print() goes to the war-room log


def test_file_entries_are_written_to_the_instance_files_folder(project: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, tmp_path / 'state', '--instance', 'one', 'fake-file') == 0
    out = capsys.readouterr().out
    written = list((tmp_path / 'state' / 'one' / 'files').glob('1_*'))
    assert len(written) == 1 and written[0].read_text() == 'data'
    assert f'[2] file\nFile: report.txt -> {written[0]}' in out
    assert Path.cwd() != written[0].parent  # the working directory is restored


def test_context_persists_across_runs(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / 'state'
    assert run_cli(project, state, 'fake-count', 'name=a') == 0
    assert run_cli(project, state, 'fake-count', 'name=a') == 0
    assert run_cli(project, state, '--instance', 'other', 'fake-count', 'name=a') == 0
    stored = json.loads((state / 'default' / 'integration_context.json').read_text())
    assert stored == {'version': 2, 'context': {'count': 2}}
    assert json.loads((state / 'other' / 'integration_context.json').read_text())['context'] == {'count': 1}


def test_exit_code_is_1_for_an_error_entry(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, tmp_path / 'state', 'fake-unknown') == 1
    assert '[1] error\nFailed to execute fake-unknown command.\nError:\nCommand fake-unknown is not implemented' \
        in capsys.readouterr().out


def test_exit_code_is_1_when_the_code_raises(project: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, tmp_path / 'state', 'fake-raise') == 1
    out = capsys.readouterr().out
    raise_line = FAKE_API_MODULE.splitlines().index("    raise ValueError('raised in the api module')") + 1
    assert f'File "<FakeApiModule>", line {raise_line}, in fake_raise' in out  # lines mapped back to the module
    assert 'ValueError: raised in the api module' in out
    assert run_cli(project, tmp_path / 'state', 'fake-raise-here') == 1
    here_line = FAKE_INTEGRATION.splitlines().index("            raise KeyError('raised in the integration')") + 1
    assert f'File "<Fake Integration>", line {here_line}, in main' in capsys.readouterr().out


def test_test_module_and_json_output(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, tmp_path / 'state', '--json', 'test-module') == 0
    document = json.loads(capsys.readouterr().out)
    assert document['entries'] == [{'Type': 1, 'Contents': 'ok', 'ContentsFormat': 'text'}]
    assert (document['command'], document['errors'], document['context']) == ('test-module', [], {})
    assert 'integration_context' not in document  # it holds tokens
    assert run_cli(project, tmp_path / 'state', '--json', 'fake-nope') == 1
    assert json.loads(capsys.readouterr().out)['errors'] == [
        'Failed to execute fake-nope command.\nError:\nCommand fake-nope is not implemented']


def test_usage_errors_exit_2(project: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli(project, tmp_path / 'state', 'fake-count', 'no-equals-sign')
    assert exited.value.code == 2


def test_debug_logs_go_to_stderr_masked(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(project, tmp_path / 'state', '--debug', '--param', 'client_secret=Sup3r-S3cret', 'test-module') == 0
    err = capsys.readouterr().err
    assert '[debug] client secret is <XX_REPLACED>' in err
    assert 'Sup3r-S3cret' not in err
    # the stand-in records what the server log would receive: demisto.debug itself does not mask
    assert 'client secret is Sup3r-S3cret' in demisto.log_lines('debug')


def test_params_precedence(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv('XSOAR_PARAMS', json.dumps({'client_secret': 'from-env', 'a': 'env', 'b': 'env'}))
    params_file = tmp_path / 'params.json'
    params_file.write_text(json.dumps({'b': 'file', 'c': 'file'}))
    assert run_cli(project, tmp_path / 'state', '--params', str(params_file), '--param', 'c=flag',
                   '--param', 'insecure=true', '--param', 'creds={"identifier": "i", "password": "p"}',
                   'test-module') == 0
    assert demisto.params() == {'client_secret': 'from-env', 'a': 'env', 'b': 'file', 'c': 'flag', 'insecure': True,
                                'creds': {'identifier': 'i', 'password': 'p'}}
    assert 'XSOAR_PARAMS' not in os.environ  # the run never sees it


def test_process_environment_is_restored(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy:3128')
    assert run_cli(project, tmp_path / 'state', 'fake-proxy-off') == 0
    assert '[1] note\nunset' in capsys.readouterr().out  # BaseClient(proxy=False) deleted it during the run
    assert os.environ['HTTPS_PROXY'] == 'http://proxy:3128'


def test_markdown_rendering_and_context_merge() -> None:
    markdown = '### Users\n|Name|Groups|\n|---|---|\n| a\\|b | g1,<br>g2 |\n\n**Total**: 1'
    assert markdown_to_text(markdown) == (
        'Users\n-----\n'
        'Name | Groups\n'
        '-----+-------\n'
        'a|b  | g1,\n'
        '     | g2\n'
        '\nTotal: 1')
    entries: list[dict[str, Any]] = [{'EntryContext': {'A': {'x': 1}}}, {'EntryContext': {'A': [{'x': 2}], 'B': 1}},
                                     {'Type': 1}]
    assert merged_context(entries) == {'A': [{'x': 1}, {'x': 2}], 'B': 1}


# ------------------------------------------------------------------------------------------------ concurrency

def test_file_store_rejects_a_stale_version(tmp_path: Path) -> None:
    first = FileContextStore(tmp_path / 'ctx.json')
    second = FileContextStore(tmp_path / 'ctx.json')
    (_, v1), (_, v2) = first.read(), second.read()
    assert first.write({'who': 'first'}, v1) == 1
    with pytest.raises(ValueError, match='version conflict'):
        second.write({'who': 'second'}, v2)
    assert second.write({'who': 'last'}, -1) == 2
    assert first.read() == ({'who': 'last'}, 2)
    with pytest.raises(TypeError):
        first.write({'bad': object()}, -1)
    assert first.read() == ({'who': 'last'}, 2)


def test_two_runner_processes_conflict_like_the_server(project: Path, tmp_path: Path) -> None:
    state = tmp_path / 'state'
    base = [sys.executable, '-m', 'xsoar_runner', '--project-root', str(project), '--integration', 'Fake',
            '--state-dir', str(state), 'fake-race']
    env = {k: v for k, v in os.environ.items() if k != 'XSOAR_PARAMS'}
    runners = [subprocess.Popen(base + [f'who={who}'], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for who in ('a', 'b')]
    outcomes = [(runner.wait(timeout=120), runner.stdout.read() if runner.stdout else '') for runner in runners]
    for runner in runners:
        runner.stdout and runner.stdout.close()
        runner.stderr and runner.stderr.close()
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 1], outcomes
    loser_output = next(out for code, out in outcomes if code == 1)
    assert 'Integration context version conflict' in loser_output
    winner_output = next(out for code, out in outcomes if code == 0)
    stored = json.loads((state / 'default' / 'integration_context.json').read_text())
    assert stored['version'] == 1 and f"{stored['context']['writer']} wrote" in winner_output


def test_yml_default_values_fill_missing_arguments(tmp_path: Path) -> None:
    from xsoar_runner.cli import with_yml_defaults

    (tmp_path / 'Fake.yml').write_text(
        'name: Fake\nscript:\n  commands:\n  - name: fake-list\n    arguments:\n'
        '    - name: limit\n      defaultValue: 50\n    - name: filter\n'
        '    - name: flag\n      defaultValue: "false"\n')

    assert with_yml_defaults(tmp_path, 'Fake', 'fake-list', {'flag': 'true'}) == {'limit': '50', 'flag': 'true'}
    assert with_yml_defaults(tmp_path, 'Fake', 'other', {'a': '1'}) == {'a': '1'}
    assert with_yml_defaults(tmp_path, 'Missing', 'fake-list', {}) == {}
