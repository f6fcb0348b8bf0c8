"""MicrosoftGraphUser.yml keeps the public interface of 1.x, as ../shared/reference/commands.md describes it.

Existing playbooks call commands by name, pass arguments by name and read context paths, so every one of those must
still be declared: every command of §0, every argument of §2, every context path of §2 (on the command that declared
it) and of §5 (on some command, with the type §5 asks for; the paths §5 calls optional or opt-in-only, such as
the MFA secret values of D5, may go), every instance parameter of §3.1 with its type, and the
secret flag of every argument the contract marks secret (§2, plus `password` of msgraph-user-create, D4). Adding is
always allowed. Each test lists everything that is missing, so one run shows the whole gap.

The parsing of commands.md is in tests/build/commands_contract.py; ``test_the_contract_parser_*`` pin it, so a change
of the document's notation cannot make these checks pass vacuously.
"""
from collections.abc import Iterable

import pytest
import yaml

from build_tools import INTEGRATION, PROJECT_ROOT
from tests.build import commands_contract as contract

# D4: the new yml must mark the create password secret although 1.x did not.
EXTRA_SECRET_ARGUMENTS = {('msgraph-user-create', 'password')}


@pytest.fixture(scope='module')
def integration_yml() -> dict:
    return yaml.safe_load((PROJECT_ROOT / f'{INTEGRATION}.yml').read_text(encoding='utf-8'))


@pytest.fixture(scope='module')
def yml_commands(integration_yml: dict) -> dict[str, dict]:
    return {command['name']: command for command in integration_yml['script']['commands']}


def declared_outputs(command: dict) -> dict[str, str]:
    return {output['contextPath']: output.get('type', '') for output in command.get('outputs') or []}


def report(title: str, problems: Iterable[str]) -> None:
    problems = sorted(problems)
    if problems:
        pytest.fail(f'{title} ({len(problems)}):\n  ' + '\n  '.join(problems), pytrace=False)


def test_every_1x_command_is_present(yml_commands: dict[str, dict]) -> None:
    report('commands of commands.md §0 missing from the yml',
           (name for name in contract.overview_commands() if name not in yml_commands))


def test_every_1x_argument_is_present(yml_commands: dict[str, dict]) -> None:
    missing = []
    for name, command in contract.command_contracts().items():
        if name in yml_commands:  # a missing command is reported by the test above
            declared = {argument['name'] for argument in yml_commands[name].get('arguments') or []}
            missing += [f'{name}: {argument}' for argument in command.arguments if argument not in declared]
    report('arguments of commands.md §2 missing from the yml', missing)


def test_secret_arguments_stay_secret(yml_commands: dict[str, dict]) -> None:
    problems = []
    for name, command in contract.command_contracts().items():
        arguments = {argument['name']: argument for argument in (yml_commands.get(name) or {}).get('arguments') or []}
        secret = command.secret | {argument for owner, argument in EXTRA_SECRET_ARGUMENTS if owner == name}
        problems += [f'{name}: {argument} must be secret: true' for argument in secret
                     if argument in arguments and not arguments[argument].get('secret')]
        problems += [f'{name}: {argument} must stay readable (not secret)' for argument in command.not_secret
                     if argument in arguments and arguments[argument].get('secret')]
    report('secret flags that differ from commands.md §2 / D4', problems)


def test_every_section2_context_path_is_declared_by_its_command(yml_commands: dict[str, dict]) -> None:
    optional = {path.path for path in contract.section5_paths() if path.optional}
    missing = []
    for name, command in contract.command_contracts().items():
        if name in yml_commands:
            declared = declared_outputs(yml_commands[name])
            missing += [f'{name}: {path}' for path in command.context_paths
                        if path not in declared and path not in optional]
    report('context paths of commands.md §2 not declared by their command', missing)


def test_every_section5_context_path_is_declared(yml_commands: dict[str, dict]) -> None:
    declared: dict[str, set[str]] = {}
    for command in yml_commands.values():
        for path, kind in declared_outputs(command).items():
            declared.setdefault(path, set()).add(kind)
    problems = []
    for wanted in contract.section5_paths():
        if wanted.optional:
            continue
        if wanted.path not in declared:
            problems.append(f'{wanted.path}: not declared by any command')
        elif wanted.type and declared[wanted.path] != {wanted.type}:
            problems.append(f'{wanted.path}: declared as {"/".join(sorted(declared[wanted.path]))}, '
                            f'§5 wants {wanted.type}')
    report('context paths of commands.md §5 not declared (or with another type)', problems)


def test_every_1x_parameter_is_present_with_its_type(integration_yml: dict) -> None:
    params = {param['name']: param for param in integration_yml['configuration']}
    problems = []
    for name, kind in contract.parameters().items():
        if name not in params:
            problems.append(f'{name}: missing')
        elif params[name].get('type') != kind:
            problems.append(f'{name}: type {params[name].get("type")}, 1.x had {kind}')
    report('instance parameters of commands.md §3.1 missing or retyped', problems)


def test_the_contract_parser_reads_the_whole_document() -> None:
    commands = contract.command_contracts()
    assert len(contract.overview_commands()) == 43
    assert set(contract.overview_commands()) <= set(commands)
    assert commands['msgraph-user-update'].arguments == ['user', 'updated_fields', 'updated_fields_delimiter']
    assert commands['msgraph-user-email-method-delete'].arguments == ['user', 'method_id']
    assert commands['msgraph-user-authenticator-method-list'].arguments == ['user', 'method_id', 'limit', 'next_page']
    assert commands['msgraph-user-change-password-on-premise'].arguments == [
        'user', 'password', 'nonsensitive_password', 'password_method_id', 'polling_url']
    assert commands['msgraph-user-create-mfa-client-access-token'].secret == {'client_secret'}
    assert commands['msgraph-user-create-mfa-client-secret'].arguments == []
    assert len(commands['msgraph-user-get-groups'].context_paths) == 37
    assert 'MSGraphUserManager.Manager.UserPrincipalName' in commands['msgraph-user-get-manager'].context_paths
    assert 'Account.Email.Address' in commands['msgraph-user-get'].context_paths
    assert 'MSGraphUser.TAPPolicy' not in commands['msgraph-user-tap-policy-list'].context_paths  # a prefix
    tap_create, tap_list = commands['msgraph-user-tap-policy-create'], commands['msgraph-user-tap-policy-list']
    assert tap_create.context_paths == tap_list.context_paths
    paths = {path.path: path for path in contract.section5_paths()}
    assert len(paths) > 110
    assert paths['MSGraphUser.TAPPolicy.LifetimeInMinutes'].type == 'Number'
    assert paths['MSGraphUserGroups.Groups.MailEnabled'].type == 'Boolean'
    assert paths['MSGraphUser.user'].optional and not paths['MSGraphUser.PasswordResetOperation.user'].optional
    assert paths['MSGraphUser.MFAAccessToken.AccessToken'].optional  # D5: secrets in context only behind an opt-in
    assert contract.parameters()['creds_certificate'] == 9 and len(contract.parameters()) == 21
