"""Nothing lost: the authorization-code flow with refresh-token rotation over many consecutive runs of one instance,
some killed between receiving a token (or a delta page) and saving it, and commands of one instance running at once.

Every run refreshes (its access token is aged first, as an hour would), so every run rotates the refresh token.
Every fifth run is `msgraph-user-get-delta` after a user was renamed out of band: the rename must show up in the next
delta run that completes, whatever was killed in between (a lost delta link would skip it). A run is killed:
* in process: the context write that would save a new refresh token (or a new delta link) raises SystemExit instead
  - the run ends there, as the server ends a run whose code exits;
* in a real process: `reliability.killing_runner` SIGKILLs itself at that write.

Refresh-token semantics (emulator knob `refresh_token_single_use`):
* Entra (off): for confidential clients a refresh returns a new refresh token and the old one stays valid until it
  expires or is revoked ("refresh tokens aren't revoked when used"), so a run killed before saving loses nothing:
  the next run uses the old token. Lockouts must be zero.
* strict single use (on, stricter than Entra): the token a killed run received is gone with it, so the next run
  *must* be refused - no client can avoid that. What it can do is say how to recover: the harness follows the error
  text (generate a login URL, new code, msgraph-user-test) and the instance must work again. Lockouts right after a
  kill count as inherent loss; any other lockout is data lost.
Concurrent runs (forked processes sharing the file-backed, versioned, flock'ed context, released together): two
`get-delta` runs with different properties refresh the same token at once; neither token nor either delta link may
be lost - under strict single use too (the slower refresh must pick up the successor the faster run saved).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliability.harness import Outcome, UnifiedRunner, environment, run_subprocess, scan
from reliability.killing_runner import install, new_delta_link, new_refresh_token
from reliability.report import Row

DELTA_PROPERTIES = 'displayName'
RENAMED_USER_INDEX = 30


class Killed(SystemExit):
    """The in-process stand-in for a process killed at a context write."""


@dataclass
class Instance:
    """One integration instance: its params, its file-backed context and where its files go."""

    emulator: Any
    directory: Path
    params: dict[str, Any]

    @property
    def store(self) -> Any:
        from xsoar_runner.context_store import FileContextStore

        return FileContextStore(self.directory / 'integration_context.json')

    def context(self) -> dict[str, Any]:
        return self.store.read()[0]

    def age_tokens(self) -> None:
        """An hour passes: every cached access token expires (refresh tokens and the msal cache stay)."""
        store = self.store
        context, version = store.read()
        for entry in (context.get('ms_auth') or {}).values():
            if isinstance(entry, dict) and 'valid_until' in entry:
                entry['valid_until'] = 0
        store.write(context, version)

    def refresh_token(self) -> str:
        tokens = [entry.get('refresh_token') for entry in (self.context().get('ms_auth') or {}).values()
                  if isinstance(entry, dict)]
        return next((token for token in tokens if token), '')

    def delta_link(self, properties: str) -> str | None:
        """The link get-delta keeps for `properties` (its key: the sorted, lower-cased $select, which always holds
        userPrincipalName)."""
        key = ','.join(sorted({item.strip().lower() for item in properties.split(',')} | {'userprincipalname'}))
        saved = (self.context().get('graph_user_delta') or {}).get(key)
        return saved.get('link') if isinstance(saved, dict) else saved

    def sign_in_again(self) -> None:
        """What the error text asks for: a new code from the login URL, into the parameter."""
        self.params = {**self.params, 'creds_auth_code': {'identifier': '', 'password': self.emulator.mint_auth_code()}}


def new_instance(env: Any, name: str) -> Instance:
    emulator = env.emulator
    instance = Instance(emulator, Path(env.work_dir) / 'nothing_lost' / name,
                        dict(emulator.info['instance_params']['authorization_code']))
    instance.sign_in_again()
    return instance


def returned_delta_link(outcome: Outcome) -> str | None:
    for entry in outcome.entries:
        delta = (entry.get('EntryContext') or {}).get('MSGraphUserDelta(true)')
        if isinstance(delta, dict):
            return delta.get('DeltaLink')
    return None


def runner_of(env: Any) -> UnifiedRunner:
    if 'runner' not in env.extra:
        env.extra['runner'] = UnifiedRunner()
    return env.extra['runner']


def network(env: Any) -> dict[str, str]:
    return {'REQUESTS_CA_BUNDLE': env.emulator.ca_bundle, 'CURL_CA_BUNDLE': env.emulator.ca_bundle}


# ---------------------------------------------------------------------------------------------------------------
# Consecutive runs (in process, or real processes)
# ---------------------------------------------------------------------------------------------------------------

class Chain:
    """Consecutive runs on one instance, with the bookkeeping of what must not be lost."""

    def __init__(self, env: Any, instance: Instance, row: Row, strict: bool) -> None:
        self.env, self.instance, self.row, self.strict = env, instance, row, strict
        self.pending: list[str] = []  # renames no completed delta run has shown yet
        self.lockouts = 0
        self.last_kill, self.last_kill_kind = -10, ''  # the run last killed, and where

    def start(self, run: Any) -> bool:
        first = run('msgraph-user-test', {}, None)
        if not first.ok:
            self.row.fail(f'the first sign-in failed: {first.error_text[:200]}')
        return first.ok

    def step(self, number: int, run: Any, kill: str | None) -> None:
        """One run: `kill` None, 'token' or 'delta' (where it is killed; a delta kill only on a delta run)."""
        self.instance.age_tokens()
        is_delta = number % 5 == 0
        kill = kill if (kill != 'delta' or is_delta) else None
        if is_delta:  # a user of its own each time: a later rename of the same user would supersede this one
            name = f'Renamed {number}'
            key = self.env.emulator.tenant.order[RENAMED_USER_INDEX + (number // 5) % 500]
            self.env.emulator.update_user(key, displayName=name)
            self.pending.append(name)
        command, args = ('msgraph-user-get-delta', {'properties': DELTA_PROPERTIES}) if is_delta else (
            'msgraph-user-get', {'user': 'admin@emulator.onmicrosoft.com', 'properties': 'id'})
        before_token, before_link = self.instance.refresh_token(), self.instance.delta_link(DELTA_PROPERTIES)
        outcome = run(command, args, kill)
        self.row.cases += 1
        self.row.findings.extend(scan(self.env.book, outcome))
        killed = outcome.exit_code == -9 or outcome.exception == 'killed'
        if killed:
            self.last_kill, self.last_kill_kind = number, str(kill)
            # What the run was killed before saving did not reach the context (a token saved before a delta-link
            # kill did, legitimately).
            unchanged = (self.instance.refresh_token() == before_token if kill == 'token'
                         else self.instance.delta_link(DELTA_PROPERTIES) == before_link)
            self.row.passed += unchanged
            if not unchanged:
                self.row.fail(f'run {number}: a killed run changed the context')
            return
        if outcome.ok:
            self.row.passed += self.check_delta(number, outcome) if is_delta else 1
            return
        if 'invalid_grant' in outcome.error_text and 'msgraph-user-generate-login-url' in outcome.error_text:
            self.lockouts += 1
            if self.strict and self.last_kill == number - 1 and self.last_kill_kind == 'token':
                self.row.inherent_loss += 1
                self.row.passed += 1  # the refusal no client can avoid, with the way out named
            else:
                self.row.data_lost = (self.row.data_lost or 0) + 1
                self.row.fail(f'run {number}: locked out: {outcome.error_text[:200]}')
            self.instance.sign_in_again()
            if not run('msgraph-user-test', {}, None).ok:
                self.row.fail(f'run {number}: following the error text did not recover the instance')
            return
        self.row.fail(f'run {number} ({command}) failed: {outcome.error_text[:300]}')

    def check_delta(self, number: int, outcome: Outcome) -> int:
        shown = json.dumps(outcome.entries)
        lost = [name for name in self.pending if name not in shown]
        stored, returned = self.instance.delta_link(DELTA_PROPERTIES), returned_delta_link(outcome)
        if lost:
            self.row.data_lost = (self.row.data_lost or 0) + len(lost)
            self.row.fail(f'run {number}: changes never shown by a delta run: {lost}')
        if not returned or stored != returned:
            self.row.data_lost = (self.row.data_lost or 0) + 1
            self.row.fail(f'run {number}: the delta link returned is not the one kept')
        self.pending = []
        return int(not lost and bool(returned) and stored == returned)


def issued_refresh_tokens(env: Any) -> int:
    return sum(1 for label in env.book.secrets.values() if label == 'emulator-issued refresh_token')


def kill_plan(number: int, every: int) -> str | None:
    """Which runs die: every `every`-th at the token save, and every 7th delta run at the delta-link save."""
    if every and number % every == every - 1:
        return 'token'
    if number % 35 == 0 and number:
        return 'delta'
    return None


def consecutive_in_process(env: Any, runs: int, strict: bool) -> Row:
    started = time.perf_counter()
    semantics = 'strict single-use refresh tokens, stricter than Entra' if strict else 'Entra refresh-token semantics'
    row = Row(f'Nothing lost: {runs} consecutive auth-code runs in process, 1 in 10 killed before saving ({semantics})',
              data_lost=0)
    env.emulator.reset()
    env.emulator.configure(refresh_token_single_use=strict)
    instance = new_instance(env, f'chain-{"strict" if strict else "entra"}')
    chain = Chain(env, instance, row, strict)
    issued_before = issued_refresh_tokens(env)
    runner = runner_of(env)

    def run(command: str, args: dict[str, str], kill: str | None) -> Outcome:
        undo = None
        if kill:
            def die() -> None:
                raise Killed('killed')
            undo = install(new_refresh_token if kill == 'token' else new_delta_link, die)
        try:
            outcome = runner.run(command, instance.params, args, instance.store, instance.directory / 'files')
        finally:
            if undo:
                undo()
        if kill and not outcome.entries and outcome.exception is None:
            outcome.exception = 'killed'
        return outcome

    with environment(network(env)):
        if chain.start(run):
            for number in range(1, runs + 1):
                chain.step(number, run, kill_plan(number, 10))
            final = run('msgraph-user-get', {'user': 'admin@emulator.onmicrosoft.com'}, None)
            if not final.ok:
                row.fail(f'the instance does not work after the last run: {final.error_text[:200]}')
    kills = sum(1 for number in range(1, runs + 1) if kill_plan(number, 10) == 'token')
    row.note = (f'{issued_refresh_tokens(env) - issued_before} refresh tokens issued (every run that signed in '
                f'rotated it); {kills} runs killed before saving a token, {runs // 35} before saving a delta link; '
                f'{chain.lockouts} lockouts')
    if strict:
        row.note += ', each right after a token kill, each recovered by following the error text'
    row.seconds = time.perf_counter() - started
    return row


def consecutive_processes(env: Any, runs: int) -> Row:
    started = time.perf_counter()
    row = Row(f'Nothing lost: {runs} consecutive auth-code runs, each a real runner process, some SIGKILLed before '
              'saving (Entra semantics)', data_lost=0)
    env.emulator.reset()
    env.emulator.configure(refresh_token_single_use=False)
    instance = new_instance(env, 'processes')
    chain = Chain(env, instance, row, strict=False)
    state_dir = instance.directory.parent / 'process-state'
    instance.directory = state_dir / 'default'

    def run(command: str, args: dict[str, str], kill: str | None) -> Outcome:
        return run_subprocess(command, instance.params, args, state_dir, env=network(env),
                              module='xsoar_runner' if not kill else 'reliability.killing_runner',
                              prefix_args=[kill] if kill else None)

    if chain.start(run):
        for number in range(1, runs + 1):
            chain.step(number, run, 'token' if number % 5 == 3 else ('delta' if number % 10 == 5 else None))
    row.note = (f'{chain.lockouts} lockouts; {runs // 5} runs SIGKILLed at the write of a new refresh token, '
                f'{(runs + 5) // 10} at the write of a new delta link')
    row.seconds = time.perf_counter() - started
    return row


# ---------------------------------------------------------------------------------------------------------------
# Concurrent runs
# ---------------------------------------------------------------------------------------------------------------

def concurrent(env: Any, pairs: int, strict: bool) -> Row:
    started = time.perf_counter()
    semantics = 'strict single-use refresh tokens' if strict else 'Entra semantics'
    row = Row(f'Nothing lost: 2 commands at once on one instance, {pairs} rounds ({semantics})', data_lost=0)
    env.emulator.reset()
    env.emulator.configure(refresh_token_single_use=strict)
    instance = new_instance(env, f'concurrent-{"strict" if strict else "entra"}')
    runner = runner_of(env)
    properties = ('displayName', 'jobTitle')
    since = (env.emulator.requests() or [{'seq': 0}])[-1]['seq']
    with environment(network(env)):
        first = runner.run('msgraph-user-test', instance.params, {}, instance.store, instance.directory / 'files')
        if not first.ok:
            row.fail(f'first sign-in failed: {first.error_text[:200]}')
            return row
        for number in range(pairs):
            instance.age_tokens()
            key = env.emulator.tenant.order[RENAMED_USER_INDEX + number % 5]
            env.emulator.update_user(key, displayName=f'Concurrent {number}', jobTitle=f'Title {number}')
            results = in_forked_processes(runner, instance, [
                ('msgraph-user-get-delta', {'properties': prop}) for prop in properties])
            row.cases += len(results)
            for prop, result in zip(properties, results, strict=True):
                stored = instance.delta_link(prop)
                if not result['ok']:
                    row.fail(f'round {number} ({prop}): {result["error"][:300]}')
                    if 'invalid_grant' in result['error']:
                        row.data_lost = (row.data_lost or 0) + 1
                        instance.sign_in_again()
                elif number and f'Concurrent {number}' not in result['shown'] and f'Title {number}' not in \
                        result['shown']:
                    row.data_lost = (row.data_lost or 0) + 1
                    row.fail(f'round {number} ({prop}): the change of this round was not shown')
                elif stored != result['link']:
                    row.data_lost = (row.data_lost or 0) + 1
                    row.fail(f'round {number} ({prop}): its delta link was lost (kept: {stored is not None})')
                else:
                    row.passed += 1
        final = runner.run('msgraph-user-get', instance.params, {'user': 'admin@emulator.onmicrosoft.com'},
                           instance.store, instance.directory / 'files')
        if not final.ok:
            row.data_lost = (row.data_lost or 0) + 1
            row.fail(f'the refresh token kept after the last round does not work: {final.error_text[:200]}')
    refused = [entry for entry in env.emulator.requests(since=since)
               if entry['path'].endswith('/oauth2/v2.0/token') and entry['status'] == 400]
    row.note = (f'forked processes released together, sharing the file-backed versioned context (flock), as on the '
                f'server; {len(refused)} refresh(es) refused as already used and recovered from the saved successor')
    if not strict:
        row.note = row.note.split(';')[0]
    row.seconds = time.perf_counter() - started
    return row


def in_forked_processes(runner: UnifiedRunner, instance: Instance,
                        commands: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
    """Run each command in its own forked process, all released at the same moment; their results, in order."""
    gate_read, gate_write = os.pipe()
    children = []
    for index, (command, args) in enumerate(commands):
        result_path = instance.directory / f'result-{index}.json'
        pid = os.fork()
        if pid == 0:  # the child: wait for the gate, run, report, leave without any cleanup of the parent's
            code = 1
            try:
                os.close(gate_write)
                os.read(gate_read, 1)
                outcome = runner.run(command, instance.params, args, instance.store, instance.directory / 'files')
                result_path.write_text(json.dumps({'ok': outcome.ok, 'error': outcome.error_text,
                                                   'link': returned_delta_link(outcome),
                                                   'shown': json.dumps(outcome.entries)}))
                code = 0
            finally:
                os._exit(code)
        children.append((pid, result_path))
    os.close(gate_read)
    os.write(gate_write, b'go' * len(commands))
    os.close(gate_write)
    results = []
    for pid, result_path in children:
        os.waitpid(pid, 0)
        try:
            results.append(json.loads(result_path.read_text()))
            result_path.unlink()
        except (OSError, ValueError):
            results.append({'ok': False, 'error': 'the process died without a result', 'link': None, 'shown': ''})
    return results


def run(env: Any) -> list[Row]:
    rows = [consecutive_in_process(env, env.runs, strict=False),
            consecutive_in_process(env, max(20, env.runs // 10), strict=True),
            consecutive_processes(env, env.subprocess_runs),
            concurrent(env, 15, strict=False),
            concurrent(env, 15, strict=True)]
    env.emulator.configure(refresh_token_single_use=True)
    return rows
