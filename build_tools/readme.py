"""The generated part of README.md: the XSOAR-format reference built from the integration yml.

README.md keeps hand-written sections (quick start, authentication, clouds, permissions, migration) and one
generated block between ``<!-- generated:start -->`` and ``<!-- generated:end -->``. The hand-written sections go
above the block: demisto-sdk's README check (RM102) reads every table after the last command heading as that
command's context outputs. The block holds, in the layout
of the XSOAR reference pages:

* "Configure <display> in Cortex": one row per visible instance parameter (a credentials parameter gives a row for
  each half it shows);
* "Commands": every command of the yml with its description, base command, arguments table (hidden arguments left
  out), context output table and, when ``docs/examples/<command>.md`` exists, that file as the example.

``make docs`` rewrites the block (:func:`update_readme`); ``tests/build/test_readme_in_sync.py`` fails when it is out of
date (:func:`readme_drift`). Only the standard library and PyYAML are used.
"""
import difflib
from pathlib import Path
from typing import Any

import yaml

from build_tools import INTEGRATION, PROJECT_ROOT

START_MARKER = '<!-- generated:start -->'
END_MARKER = '<!-- generated:end -->'
NOTICE = ('<!-- Generated from MicrosoftGraphUser.yml and docs/examples/ by `make docs`. Edit those, not this '
          'block: tests/build/test_readme_in_sync.py fails when it is stale. -->')
README_PATH = PROJECT_ROOT / 'README.md'
YML_PATH = PROJECT_ROOT / f'{INTEGRATION}.yml'
EXAMPLES_DIR = PROJECT_ROOT / 'docs' / 'examples'
CREDENTIALS_TYPE = 9


class ReadmeMarkersError(ValueError):
    """README.md lacks the generated-block markers, or has them more than once or in the wrong order."""


def cell(text: Any) -> str:
    """``text`` made safe for one markdown table cell: pipes escaped, line breaks as <br/>."""
    value = '' if text is None else str(text)
    return value.replace('\\', '\\\\').replace('|', '\\|').replace('\r\n', '\n').strip().replace('\n', '<br/>')


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ['| ' + ' | '.join(f'**{header}**' for header in headers) + ' |',
             '| ' + ' | '.join('---' for _ in headers) + ' |']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return lines


def is_hidden(item: dict) -> bool:
    """Hidden everywhere (``hidden: true``); a list of marketplaces still shows in the others."""
    return item.get('hidden') is True


def sentence(text: Any) -> str:
    value = str(text or '').strip()
    return value if not value or value.endswith(('.', '!', '?', ':')) else f'{value}.'


def parameter_rows(configuration: list[dict]) -> list[list[str]]:
    """Parameter / Description / Required rows for the visible instance parameters, in yml order."""
    rows = []
    for param in configuration:
        if is_hidden(param):
            continue
        required = 'True' if param.get('required') else 'False'
        info = cell(param.get('additionalinfo'))
        if param.get('type') == CREDENTIALS_TYPE:
            # A credentials parameter shows an identifier field and a password field, each possibly hidden.
            if not param.get('hiddenusername'):
                rows.append([cell(param.get('display') or param['name']), info, required])
                info = ''
            if not param.get('hiddenpassword'):
                rows.append([cell(param.get('displaypassword') or 'Password'), info, required])
            continue
        rows.append([cell(param.get('display') or param['name']), info, required])
    return rows


def argument_description(argument: dict) -> str:
    text = sentence(argument.get('description'))
    if argument.get('predefined'):
        text = f'{text} Possible values are: {", ".join(str(value) for value in argument["predefined"])}.'.strip()
    default = argument.get('defaultValue')
    if default not in (None, ''):
        text = f'{text} Default is {default}.'.strip()
    return cell(text)


def command_section(command: dict, example: str | None) -> list[str]:
    name = command['name']
    notes = []
    if command.get('deprecated'):
        notes.append('***Deprecated.***')
    if command.get('hidden'):
        notes.append('*Hidden: not offered in the command line autocomplete.*')
    description = ' '.join([*notes, str(command.get('description') or '').strip()]).strip()
    lines = [f'### {name}', '', '***', description, '', '#### Base Command', '', f'`{name}`', '', '#### Input', '']
    arguments = [argument for argument in command.get('arguments') or [] if not is_hidden(argument)]
    if arguments:
        lines += table(['Argument Name', 'Description', 'Required'],
                       [[argument['name'], argument_description(argument),
                         'Required' if argument.get('required') else 'Optional'] for argument in arguments])
    else:
        lines.append('There are no input arguments for this command.')
    lines += ['', '#### Context Output', '']
    outputs = command.get('outputs') or []
    if outputs:
        lines += table(['Path', 'Type', 'Description'],
                       [[cell(output['contextPath']), cell(output.get('type') or 'Unknown'),
                         cell(output.get('description'))] for output in outputs])
    else:
        lines.append('There is no context output for this command.')
    if example and example.strip():
        lines += ['', example.strip()]
    return lines + ['']


def load_examples(examples_dir: Path = EXAMPLES_DIR) -> dict[str, str]:
    """Command name -> the text of ``docs/examples/<command>.md``."""
    if not examples_dir.is_dir():
        return {}
    return {path.stem: path.read_text(encoding='utf-8') for path in sorted(examples_dir.glob('*.md'))}


def generated_block(integration_yml: dict, examples: dict[str, str]) -> str:
    """The markdown between the markers (without them) for ``integration_yml``."""
    display = integration_yml.get('display') or integration_yml.get('name')
    lines = [NOTICE, '', f'## Configure {display} in Cortex', '']
    lines += table(['Parameter', 'Description', 'Required'], parameter_rows(integration_yml.get('configuration') or []))
    lines += ['', '## Commands', '',
              'You can execute these commands from the CLI, as part of an automation, or in a playbook.',
              'After you successfully execute a command, a DBot message appears in the War Room with the command '
              'details.', '']
    for command in (integration_yml.get('script') or {}).get('commands') or []:
        lines += command_section(command, examples.get(command['name']))
    return '\n'.join(lines).rstrip('\n') + '\n'


def split_readme(text: str) -> tuple[str, str, str]:
    """(before the start marker, the generated block, from the end marker on); ReadmeMarkersError if malformed."""
    starts, ends = text.count(START_MARKER), text.count(END_MARKER)
    if starts != 1 or ends != 1:
        raise ReadmeMarkersError(f'README.md must contain {START_MARKER} and {END_MARKER} exactly once each '
                                 f'(found {starts} and {ends})')
    if text.index(END_MARKER) < text.index(START_MARKER):
        raise ReadmeMarkersError(f'{END_MARKER} comes before {START_MARKER} in README.md')
    head, rest = text.split(START_MARKER)
    block, tail = rest.split(END_MARKER)
    return head + START_MARKER, block, END_MARKER + tail


def expected_readme(current: str, integration_yml: dict, examples: dict[str, str]) -> str:
    head, _, tail = split_readme(current)
    return f'{head}\n{generated_block(integration_yml, examples)}{tail}'


def stale_examples(integration_yml: dict, examples: dict[str, str]) -> list[str]:
    """Example files that name no command of the yml (a renamed or removed command leaves them behind)."""
    commands = {command['name'] for command in (integration_yml.get('script') or {}).get('commands') or []}
    return sorted(f'docs/examples/{name}.md' for name in examples if name not in commands and name != 'README')


def load_yml(path: Path = YML_PATH) -> dict:
    return yaml.safe_load(path.read_text(encoding='utf-8'))


def readme_drift(readme: Path = README_PATH, yml: Path = YML_PATH, examples_dir: Path = EXAMPLES_DIR) -> str:
    """A unified diff from README.md to what ``make docs`` would write; empty when in sync."""
    current = readme.read_text(encoding='utf-8')
    expected = expected_readme(current, load_yml(yml), load_examples(examples_dir))
    return ''.join(difflib.unified_diff(current.splitlines(keepends=True), expected.splitlines(keepends=True),
                                        'README.md', 'README.md (make docs)', n=2))


def update_readme(readme: Path = README_PATH, yml: Path = YML_PATH, examples_dir: Path = EXAMPLES_DIR) -> bool:
    """Rewrites the generated block of README.md; returns whether the file changed."""
    current = readme.read_text(encoding='utf-8')
    integration_yml, examples = load_yml(yml), load_examples(examples_dir)
    stale = stale_examples(integration_yml, examples)
    if stale:
        raise ValueError(f'example files for commands the yml does not have: {", ".join(stale)}')
    expected = expected_readme(current, integration_yml, examples)
    if expected == current:
        return False
    readme.write_text(expected, encoding='utf-8')
    return True
