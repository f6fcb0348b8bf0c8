"""README.md's generated block is what `make docs` makes of MicrosoftGraphUser.yml and docs/examples/."""
from pathlib import Path

import pytest
import yaml

from build_tools import readme
from build_tools.readme import (
    END_MARKER,
    START_MARKER,
    ReadmeMarkersError,
    expected_readme,
    generated_block,
    load_examples,
    load_yml,
    readme_drift,
    stale_examples,
    update_readme,
)

SAMPLE_YML = {
    'display': 'Sample',
    'configuration': [
        {'name': 'url', 'display': 'Server URL', 'type': 0, 'required': True, 'additionalinfo': 'The | host'},
        {'name': 'creds', 'display': 'Client ID', 'displaypassword': 'Client Secret', 'type': 9,
         'additionalinfo': 'From the app'},
        {'name': 'token', 'display': '', 'displaypassword': 'Token', 'type': 9, 'hiddenusername': True},
        {'name': 'legacy', 'display': 'Legacy', 'type': 4, 'hidden': True},
        {'name': 'xsiam_only', 'display': 'Shown in xsoar', 'type': 8, 'hidden': ['marketplacev2']},
    ],
    'script': {'commands': [
        {'name': 'sample-get', 'description': 'Gets a thing',
         'arguments': [{'name': 'id', 'required': True, 'description': 'The ID'},
                       {'name': 'mode', 'description': 'Mode.', 'predefined': ['a', 'b'], 'defaultValue': 'a'},
                       {'name': 'cursor', 'hidden': True, 'description': 'internal'}],
         'outputs': [{'contextPath': 'Sample.ID', 'type': 'String', 'description': 'ID\nof the thing'}]},
        {'name': 'sample-old', 'description': 'Use sample-get.', 'deprecated': True, 'arguments': []},
    ]},
}


def test_readme_generated_block_matches_the_yml() -> None:
    drift = readme_drift()
    assert not drift, f'README.md is out of date with MicrosoftGraphUser.yml: run `make docs`.\n{drift[:6000]}'


def test_every_example_file_names_a_command() -> None:
    assert stale_examples(load_yml(), load_examples()) == []


def test_every_command_and_visible_parameter_is_documented() -> None:
    block = readme.split_readme(readme.README_PATH.read_text(encoding='utf-8'))[1]
    integration = load_yml()
    missing = [command['name'] for command in integration['script']['commands']
               if f"### {command['name']}\n" not in block]
    missing += [param['name'] for param in integration['configuration']
                if param.get('hidden') is not True and param.get('type') != readme.CREDENTIALS_TYPE
                and f"| {readme.cell(param.get('display') or param['name'])} |" not in block]
    assert not missing, f'not in the generated README block: {missing}'


def test_block_layout_for_parameters_arguments_and_outputs() -> None:
    block = generated_block(SAMPLE_YML, {'sample-get': '#### Command example\n```!sample-get id=1```\n'})
    assert '## Configure Sample in Cortex' in block
    assert '| Server URL | The \\| host | True |' in block
    assert '| Client ID | From the app | False |' in block and '| Client Secret |  | False |' in block
    assert '| Token |  | False |' in block
    assert 'Legacy' not in block and '| Shown in xsoar |' in block
    assert '| id | The ID. | Required |' in block
    assert '| mode | Mode. Possible values are: a, b. Default is a. | Optional |' in block
    assert 'cursor' not in block
    assert '| Sample.ID | String | ID<br/>of the thing |' in block
    assert block.index('#### Context Output') < block.index('#### Command example')
    assert '### sample-old' in block and '***Deprecated.***' in block
    assert 'There are no input arguments for this command.' in block
    assert 'There is no context output for this command.' in block


def test_update_keeps_hand_written_sections_and_is_idempotent(tmp_path: Path) -> None:
    yml, examples = tmp_path / 'x.yml', tmp_path / 'examples'
    yml.write_text(yaml.safe_dump(SAMPLE_YML), encoding='utf-8')
    examples.mkdir()
    target = tmp_path / 'README.md'
    target.write_text(f'# Title\n\nHand text.\n\n{START_MARKER}\nstale text\n{END_MARKER}\n\n## After\n',
                      encoding='utf-8')
    assert update_readme(target, yml, examples) is True
    text = target.read_text(encoding='utf-8')
    assert text.startswith('# Title\n\nHand text.\n\n') and text.endswith(f'{END_MARKER}\n\n## After\n')
    assert 'stale text' not in text and '### sample-get' in text
    assert update_readme(target, yml, examples) is False
    assert readme_drift(target, yml, examples) == ''


def test_example_for_an_unknown_command_is_refused(tmp_path: Path) -> None:
    yml, examples = tmp_path / 'x.yml', tmp_path / 'examples'
    yml.write_text(yaml.safe_dump(SAMPLE_YML), encoding='utf-8')
    examples.mkdir()
    (examples / 'sample-gone.md').write_text('old example', encoding='utf-8')
    target = tmp_path / 'README.md'
    target.write_text(f'{START_MARKER}\n{END_MARKER}\n', encoding='utf-8')
    with pytest.raises(ValueError, match='sample-gone'):
        update_readme(target, yml, examples)


@pytest.mark.parametrize('text', ['no markers', f'{START_MARKER}\n', f'{END_MARKER}\n{START_MARKER}\n',
                                  f'{START_MARKER}{END_MARKER}{START_MARKER}{END_MARKER}'])
def test_malformed_markers_are_reported(text: str) -> None:
    with pytest.raises(ReadmeMarkersError):
        expected_readme(text, SAMPLE_YML, {})
