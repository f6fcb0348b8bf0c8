"""Every command of the yml has an end-to-end test: a new command without one fails here."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.e2e.test_e2e_auth_method_commands import METHOD_TYPES

E2E_DIR = Path(__file__).resolve().parent
YML = E2E_DIR.parents[1] / 'MicrosoftGraphUser.yml'


def test_every_yml_command_runs_end_to_end() -> None:
    declared = {command['name'] for command in yaml.safe_load(YML.read_text())['script']['commands']}
    sources = '\n'.join(path.read_text() for path in E2E_DIR.glob('test_*.py') if path.name != Path(__file__).name)
    run = set(re.findall(r"'((?:msgraph-|test-module)[a-z0-9-]*)'", sources))
    run |= {f'msgraph-user-{stem}-method-{action}' for stem, *_ in METHOD_TYPES for action in ('list', 'delete')}

    assert declared - run == set()
