"""Shared fixtures for every test suite: the loopback Entra ID / Graph / IMDS / oproxy emulator (emulator/README.md).

``emulator`` is one instance per test session (200 users, default seed), reset before each test that uses it, so
every test starts from the same tenant with no faults, an empty request log and fresh grants.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import emulator as emulator_package


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[emulator_package.Emulator]:
    instance = emulator_package.start(users=200)
    yield instance
    instance.stop()


@pytest.fixture
def emulator(emulator_session: emulator_package.Emulator) -> emulator_package.Emulator:
    emulator_session.reset()
    return emulator_session
