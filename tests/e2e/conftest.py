"""Fixtures of the end-to-end tests: the session emulator (reset before every test, from tests/conftest.py) and
`e2e`, which runs one command per runner process against it, with the state of the test's instances under
tmp_path and the emulator's ready-made instance parameters of every authentication mode (see harness.py)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import emulator as emulator_package
from tests.e2e.harness import E2E


@pytest.fixture(scope='session')
def emulator_info(emulator_session: emulator_package.Emulator) -> dict[str, Any]:
    return emulator_session.info


@pytest.fixture
def e2e(emulator: emulator_package.Emulator, emulator_info: dict[str, Any], tmp_path: Path) -> E2E:
    return E2E(emulator, emulator_info, tmp_path / 'runner_state')


@pytest.fixture(scope='module')
def other_emulator() -> Iterator[emulator_package.Emulator]:
    """A second emulated cloud (same seed, so the same tenant and app ids, but its own token audience)."""
    instance = emulator_package.start(users=20)
    yield instance
    instance.stop()
