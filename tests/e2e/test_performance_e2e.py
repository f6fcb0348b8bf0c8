"""Round trips over real HTTP: each command runs in its own runner process (measured by `bench.probe`, the probe of
`make bench`) against the emulator, which counts what it received. The same budgets as tests/unit/test_performance.py,
on a 200-user tenant."""
from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

import emulator as emulator_package
from bench.main import BULK_KEY_PREFIX, USERS_KEY_PREFIX, Bench

GUARD_DIR = Path(__file__).resolve().parent / 'loopback_guard'


@pytest.fixture
def bench(emulator: emulator_package.Emulator, tmp_path: Path) -> Bench:
    measured = Bench(emulator, tmp_path)
    # Every runner process also refuses connections to anything but loopback.
    measured.env['PYTHONPATH'] = os.pathsep.join([str(GUARD_DIR), measured.env['PYTHONPATH']])
    return measured


def user_ids(emulator: emulator_package.Emulator, start: int, count: int) -> list[str]:
    with emulator.lock:
        return [user['id'] for user in itertools.islice(emulator.tenant.iter_users(), start, start + count)]


def test_cold_then_warm_commands_send_the_fewest_requests_and_import_nothing_heavy(bench: Bench) -> None:
    ceo = bench.samples['ceo']['userPrincipalName']

    first = bench.ours('i', 'msgraph-user-get', user=ceo, properties='displayName')
    assert (first.exit_code, first.requests, first.token_requests) == (0, 3, 1)  # discovery, token, the call
    assert first.heavy_modules == ['msal']  # a client secret needs neither cryptography nor pyzipper

    for command, args in (('msgraph-user-get', {'user': ceo}), ('msgraph-user-list', {'limit': '5'}),
                          ('msgraph-user-session-revoke', {'user': f'{ceo},admin@emulator.onmicrosoft.com'})):
        warm = bench.ours('i', command, **args)
        assert (warm.exit_code, warm.requests, warm.token_requests, warm.heavy_modules) == (0, 1, 0, []), command


def test_a_cold_command_reuses_the_discovery_metadata_of_earlier_runs(bench: Bench) -> None:
    bench.emulator.configure(token_lifetime=2)  # kept for 1 s
    bench.ours('i', 'msgraph-user-test')
    bench.emulator.configure(token_lifetime=3599)
    time.sleep(1.2)  # the cached token is stale now, as it is an hour later

    cold = bench.ours('i', 'msgraph-user-get', user=bench.samples['ceo']['userPrincipalName'])

    assert (cold.exit_code, cold.requests, cold.token_requests) == (0, 2, 1)


def test_bulk_disable_and_revoke_of_30_users_is_3_requests_with_inner_throttling_retried(bench: Bench) -> None:
    users = user_ids(bench.emulator, 20, 30)
    bench.ours('i', 'msgraph-user-test')
    bench.emulator.add_fault('status', route=f'/v1.0/users/{users[7]}', method='PATCH', status=429, retry_after=1,
                             count=1)

    result = bench.ours('i', 'msgraph-user-account-disable', user=','.join(users), revoke_sessions='true')

    assert result.exit_code == 0
    assert result.requests == 4  # 60 sub-requests in 3 batches, then the throttled user's two again
    assert 1.0 <= result.slept_s < 1.5
    rows = result.context_items(BULK_KEY_PREFIX)
    assert [row['User'] for row in rows] == users and all(row['Success'] for row in rows)
    assert all((bench.emulator.user(user_id) or {}).get('accountEnabled') is False for user_id in users)


def test_delta_changes_after_a_full_sync_take_one_request(bench: Bench) -> None:
    full = bench.ours('i', 'msgraph-user-get-delta', properties='jobTitle')
    assert full.exit_code == 0 and len(full.context_items(USERS_KEY_PREFIX)) == 200
    changed = user_ids(bench.emulator, 40, 10)
    for user_id in changed:
        bench.emulator.update_user(user_id, jobTitle='Changed')

    changes = bench.ours('i', 'msgraph-user-get-delta', properties='jobTitle')

    assert changes.exit_code == 0 and changes.requests == 1
    assert sorted(user['ID'] for user in changes.context_items(USERS_KEY_PREFIX)) == sorted(changed)
