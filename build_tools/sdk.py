"""Runs demisto-sdk (installed in ``.venv-build``) on a content layout, offline.

Why a separate environment: demisto-sdk 1.39.13 pins versions that clash with this project's dev tools and runtime
lock (``mypy<0.983`` against mypy 2.x, ``click==8.1.8``, ``packaging<25``, and through demisto-py ``certifi<2025``
against the runtime lock's certifi), so it cannot share ``.venv``; see README "Build and validation".

Offline by construction: ``sdk_entry.py`` refuses every non-loopback lookup and connection inside the SDK process and
logs what was refused; :func:`run_sdk` fails when anything was. The environment below also switches off the SDK's own
remote look-ups (version check, remote Config files) so that nothing is tried in the first place.
"""
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from build_tools import PROJECT_ROOT

BUILD_VENV = PROJECT_ROOT / '.venv-build'
SDK_ENTRY = Path(__file__).resolve().parent / 'sdk_entry.py'
VALIDATION_CONFIG = Path(__file__).resolve().parent / 'validation_config.toml'
SDK_TIMEOUT_SECONDS = 300
# Proxy settings would hide the real destination from the guard (the connection would go to the proxy).
_PROXY_VARIABLES = ('HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy')


class SdkError(RuntimeError):
    """demisto-sdk could not run, failed, or tried to reach the network."""


@dataclass
class SdkRun:
    """One finished demisto-sdk command."""
    args: list[str]
    returncode: int
    output: str
    seconds: float
    refused_network: list[str]


def sdk_python() -> Path:
    """The build environment's interpreter; SdkError when ``make build-env`` has not created it."""
    python = BUILD_VENV / 'bin' / 'python'
    if not python.is_file():
        raise SdkError(f'{python} does not exist: run `make build-env` (it installs demisto-sdk from '
                       'build_tools/Pipfile.lock into .venv-build)')
    return python


def sdk_environment(content_root: Path, net_log: Path, log_dir: Path, *, offline_flag: bool) -> dict[str, str]:
    """The process environment for one SDK run on ``content_root``.

    ``offline_flag`` sets ``DEMISTO_SDK_OFFLINE_ENV``: prepare-content then skips remote look-ups, but ``validate``
    refuses to start with it, so validation relies on the local ``Config/`` copies and the socket guard instead.
    """
    env = {name: value for name, value in os.environ.items() if name not in _PROXY_VARIABLES}
    env.update({
        'DEMISTO_SDK_CONTENT_PATH': str(content_root),
        'DEMISTO_SDK_IGNORE_CONTENT_WARNING': 'true',
        'DEMISTO_SDK_LOG_FILE_PATH': str(log_dir),
        'CI': 'true',  # no "newer version available" look-up on PyPI
        'GIT_TERMINAL_PROMPT': '0',
        'BUILD_TOOLS_NET_LOG': str(net_log),
        'NO_COLOR': '1',
        'COLUMNS': '200',
    })
    if offline_flag:
        env['DEMISTO_SDK_OFFLINE_ENV'] = 'true'
    else:
        env.pop('DEMISTO_SDK_OFFLINE_ENV', None)
    return env


def run_sdk(content_root: Path, args: list[str], *, offline_flag: bool = True,
            timeout: float = SDK_TIMEOUT_SECONDS) -> SdkRun:
    """Runs ``demisto-sdk <args>`` in ``content_root``; returns its output (it does not judge the exit code).

    Raises SdkError when the SDK is not installed, runs past ``timeout`` seconds, or tried to reach the network.
    """
    python = sdk_python()
    with tempfile.TemporaryDirectory(prefix='sdk-run-') as scratch:
        net_log = Path(scratch) / 'refused.txt'
        log_dir = Path(scratch) / 'logs'
        log_dir.mkdir()
        env = sdk_environment(content_root, net_log, log_dir, offline_flag=offline_flag)
        started = time.monotonic()
        try:
            # -I: no script directory or PYTHONPATH on sys.path, so nothing from this project shadows SDK modules.
            completed = subprocess.run([str(python), '-I', str(SDK_ENTRY), *args], cwd=content_root, env=env,
                                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise SdkError(f'demisto-sdk {" ".join(args)} ran past {timeout:.0f} s') from error
        seconds = time.monotonic() - started
        refused = sorted(set(net_log.read_text().split())) if net_log.exists() else []
    run = SdkRun(args, completed.returncode, completed.stdout + completed.stderr, seconds, refused)
    if refused:
        raise SdkError(f'demisto-sdk {" ".join(args)} tried to reach the network (refused: {", ".join(refused)}).\n'
                       f'{run.output}')
    return run


_ANSI_ESCAPE = re.compile(r'\x1b\[[0-9;]*m')


def echo(run: SdkRun) -> None:
    """Prints what the SDK printed (without colour codes), for the make log."""
    text = _ANSI_ESCAPE.sub('', run.output)
    sys.stdout.write(text if text.endswith('\n') or not text else text + '\n')
