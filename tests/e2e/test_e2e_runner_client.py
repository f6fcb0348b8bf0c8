"""The environment every runner process of these tests gets: only loopback is reachable, only the emulator's CA
is trusted."""
from __future__ import annotations

import subprocess
import sys

from tests.e2e.runner_client import PROJECT_ROOT, child_env

PROBE = '''
import os, socket
try:
    socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1: never routed, so no real traffic
except ConnectionRefusedError as error:
    print("refused:", error)
print(os.environ["REQUESTS_CA_BUNDLE"], os.environ["CURL_CA_BUNDLE"], "XSOAR_PARAMS" in os.environ)
'''


def test_child_processes_reach_only_loopback_and_trust_the_emulator_ca() -> None:
    env = child_env({'REQUESTS_CA_BUNDLE': '/emulator/ca.pem'})

    probe = subprocess.run([sys.executable, '-c', PROBE], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                           timeout=30, check=True)

    refused, bundles = probe.stdout.splitlines()
    assert refused == "refused: end-to-end tests may only reach loopback, not ('192.0.2.1', 443)"
    assert bundles == '/emulator/ca.pem /emulator/ca.pem False'
