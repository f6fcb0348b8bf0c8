"""The yml and the code describe the same integration, for every command (users, auth methods, utilities).

What a command writes at runtime is checked by the command tests through `yml_contract.assert_outputs_declared`;
here are the checks that need no Graph response.
"""
import inspect
import re

import pytest
from yml_contract import (
    OUTPUT_TYPES,
    SOURCE_PATH,
    declared_args,
    declared_outputs,
    integration_yml,
    source_arg_reads,
    static_context_roots,
    undeclared_paths,
    yml_commands,
)

import MicrosoftGraphUser as integration

COMMAND_NAMES = sorted(yml_commands())
# Declared arguments the code may leave unread, each with the reason. Keep this empty unless a yml argument is
# deliberately kept for compatibility only.
UNREAD_ARGS_ALLOWED: dict[tuple[str, str], str] = {}


def command_function_name(command: str) -> str:
    return inspect.unwrap(integration.COMMANDS[command]).__qualname__


def list_arguments(command: str) -> set[str]:
    """The arguments the code parses as a list: `user` of the commands that accept several users."""
    # functools.wraps copies __qualname__; the code object still names the wrapper that accepts_user_list made.
    accepts_list = integration.COMMANDS[command].__code__.co_qualname.startswith('accepts_user_list.')
    return {'user'} if accepts_list else set()


# ----- the command list -----

def test_every_yml_command_is_dispatched():
    assert set(yml_commands()) == set(integration.COMMANDS)


def test_test_module_is_dispatched_and_not_a_yml_command():
    assert 'test-module' not in yml_commands()
    assert "command == 'test-module'" in SOURCE_PATH.read_text(encoding='utf-8')


def test_command_names_are_unique_and_vendor_prefixed():
    names = [command['name'] for command in integration_yml()['script']['commands']]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r'msgraph-[a-z0-9-]+', name) for name in names)


@pytest.mark.parametrize('command', COMMAND_NAMES)
def test_dispatched_function_takes_client_and_args(command):
    parameters = list(inspect.signature(inspect.unwrap(integration.COMMANDS[command])).parameters)
    assert parameters[:2] == ['client', 'args']


# ----- arguments -----

@pytest.mark.parametrize('command', COMMAND_NAMES)
def test_every_argument_the_code_reads_is_declared(command):
    reads = source_arg_reads().command_reads(command_function_name(command))
    assert reads <= set(declared_args(command)), f'undeclared: {sorted(reads - set(declared_args(command)))}'


@pytest.mark.parametrize('command', COMMAND_NAMES)
def test_every_declared_argument_is_read(command):
    reads = source_arg_reads().command_reads(command_function_name(command))
    unread = {name for name in declared_args(command) if name not in reads
              and (command, name) not in UNREAD_ARGS_ALLOWED}
    assert not unread, f'declared but never read: {sorted(unread)}'


@pytest.mark.parametrize('command', COMMAND_NAMES)
def test_arguments_are_well_formed(command):
    arguments = yml_commands()[command].get('arguments') or []
    names = [argument['name'] for argument in arguments]
    assert len(names) == len(set(names)), 'duplicate argument'
    for argument in arguments:
        assert argument.get('description', '').strip(), f'{argument["name"]} has no description'
        assert bool(argument.get('isArray')) == (argument['name'] in list_arguments(command)), argument['name']
        assert not argument.get('default'), argument['name']
        if argument.get('auto') == 'PREDEFINED' or argument.get('predefined'):
            assert argument.get('auto') == 'PREDEFINED' and argument.get('predefined'), argument['name']
            if 'defaultValue' in argument:
                assert argument['defaultValue'] in argument['predefined'], argument['name']


@pytest.mark.parametrize('command', COMMAND_NAMES)
def test_secret_arguments_are_marked_secret(command):
    secret_names = set(integration.SECRET_ARGS) - {'nonsensitive_password'}
    for name, argument in declared_args(command).items():
        if name in secret_names:
            assert argument.get('secret') is True, f'{name} must be secret: true'


# ----- outputs -----

@pytest.mark.parametrize('command', COMMAND_NAMES)
def test_outputs_are_well_formed(command):
    outputs = yml_commands()[command].get('outputs') or []
    paths = [output['contextPath'] for output in outputs]
    assert len(paths) == len(set(paths)), 'duplicate context path'
    for output in outputs:
        assert output.get('type') in OUTPUT_TYPES, f'{output["contextPath"]}: type {output.get("type")!r}'
        assert output.get('description', '').strip(), f'{output["contextPath"]} has no description'


def test_every_context_root_in_the_code_is_declared():
    declared = {path for command in COMMAND_NAMES for path in declared_outputs(command)}
    for root in static_context_roots():
        assert any(path.startswith(f'{root}.') for path in declared), f'no yml output under {root}'


def test_undeclared_paths_finds_what_the_yml_lacks():
    # The checker itself: selectors are stripped, lists walked, open objects accept any child, types are checked.
    context = {
        'MSGraphUser(val.ID && val.ID == obj.ID)': [{'ID': '1', 'AnyProperty': 'x'}],
        'MSGraphUser(val.NextPage !== undefined)': {'NextPage': None},
        'Account(val.ID && val.ID == obj.ID)': [{'ID': '1', 'Email': {'Address': None}, 'Surprise': 1}],
    }
    assert undeclared_paths('msgraph-user-list', context, open_objects=['MSGraphUser']) == ['Account.Surprise']
    assert undeclared_paths('msgraph-user-get-groups',
                            {'MSGraphUserGroups(val.ID && val.ID == obj.ID)': {'Groups': [{'MailEnabled': 'yes'}]}}
                            ) == ['MSGraphUserGroups.Groups.MailEnabled (declared Boolean, got str)']
