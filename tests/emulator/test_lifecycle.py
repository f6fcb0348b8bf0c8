"""Start/stop, TLS through the generated CA, emulator.json, the CLI, and the admin API guard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import emulator as emulator_package

ROOT = Path(__file__).resolve().parents[2]


def test_https_is_trusted_through_the_ca_bundle_only(emulator):
    url = f"{emulator.base_url}/{emulator.tenant_id}/v2.0/.well-known/openid-configuration"
    assert requests.get(url, verify=emulator.ca_bundle, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=True, timeout=10)  # the system store does not know the throwaway CA
    localhost = url.replace("127.0.0.1", "localhost")
    assert requests.get(localhost, verify=emulator.ca_bundle, timeout=10).status_code == 200


def test_start_writes_state_files_and_binds_loopback(tmp_path):
    with emulator_package.start(users=3, state_dir=tmp_path) as instance:
        assert instance.base_url.startswith("https://127.0.0.1:")
        assert instance.imds_url.startswith("http://127.0.0.1:")
        for name in ("ca.pem", "app_cert.pem", "app_key.pem", "emulator.json"):
            assert (tmp_path / name).is_file(), name
        assert (tmp_path / "app_key.pem").stat().st_mode & 0o077 == 0
        info = json.loads((tmp_path / "emulator.json").read_text())
        assert info["base_url"] == instance.base_url
        assert info["registrations"]["apps"]["default"]["certificate"]["key_path"] == str(tmp_path / "app_key.pem")
        assert set(info["instance_params"]) == {"client_credentials", "certificate", "authorization_code",
                                                "managed_identity", "managed_identity_system", "oproxy"}
    assert (tmp_path / "ca.pem").is_file()  # a caller-provided state dir is kept


def test_registrations_are_deterministic_per_seed():
    with emulator_package.start(users=2, seed=7) as first, emulator_package.start(users=2, seed=7) as second:
        a, b = first.registrations, second.registrations
        assert a["tenant_id"] == b["tenant_id"]
        assert a["apps"]["default"]["client_secret"] == b["apps"]["default"]["client_secret"]
        assert a["oproxy"]["key"] == b["oproxy"]["key"]
        assert a["users"]["samples"] == b["users"]["samples"]


def test_registrations_shape(emulator):
    registrations = emulator.registrations
    assert set(registrations) == {"tenant_id", "authority", "token_url", "authorize_url", "scope", "apps",
                                  "managed_identities", "oproxy", "mfa_app_id", "mfa_service_principal_id", "domain",
                                  "delegated_user", "users"}
    assert set(registrations["apps"]) == {"default", "least_privilege", "read_only", "no_permissions", "oproxy"}
    assert registrations["scope"] == f"{emulator.base_url}/.default"
    assert registrations["users"]["count"] == 200


def test_cli_prints_one_json_line_and_stops_on_sigterm(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--imds-port", "0",
                                "--state-dir", str(tmp_path), "--users", "5"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        info = json.loads(line)
        assert info == json.loads((tmp_path / "emulator.json").read_text())
        ca = info["ca_bundle"]
        assert requests.get(f"{info['base_url']}/_emulator/info", verify=ca, timeout=10,
                            headers={"X-Emulator-Admin-Token": info["admin_token"]}).json()["pid"] == process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_admin_api_requires_the_admin_token(emulator):
    url = f"{emulator.base_url}/_emulator/requests"
    assert requests.get(url, verify=emulator.ca_bundle, timeout=10).status_code == 401
    wrong = {"X-Emulator-Admin-Token": "nope"}
    assert requests.get(url, verify=emulator.ca_bundle, timeout=10, headers=wrong).status_code == 401
    ok = requests.get(url, verify=emulator.ca_bundle, timeout=10, headers=emulator.admin_headers)
    assert ok.status_code == 200 and ok.json() == []


def test_admin_api_over_http(emulator, graph):
    headers = emulator.admin_headers
    base = f"{emulator.base_url}/_emulator"
    rule = requests.post(f"{base}/faults", json={"kind": "status", "status": 503, "route": "/v1.0/users"},
                         headers=headers, verify=emulator.ca_bundle, timeout=10)
    assert rule.status_code == 201
    assert graph.get("users").status_code == 503
    assert requests.get(f"{base}/faults", headers=headers, verify=emulator.ca_bundle,
                        timeout=10).json()[0]["fired"] == 1
    bad = requests.post(f"{base}/faults", json={"kind": "explode"}, headers=headers, verify=emulator.ca_bundle,
                        timeout=10)
    assert bad.status_code == 400 and "kind" in bad.json()["error"]
    sample = emulator.registrations["users"]["samples"]["ceo"]["id"]
    changed = requests.patch(f"{base}/users/{sample}", json={"jobTitle": "Chair"}, headers=headers,
                             verify=emulator.ca_bundle, timeout=10)
    assert changed.json()["jobTitle"] == "Chair"
    config = requests.post(f"{base}/config", json={"page_size": 7}, headers=headers, verify=emulator.ca_bundle,
                           timeout=10)
    assert config.json()["page_size"] == 7
    assert len(graph.get("users").json()["value"]) == 7
    assert requests.post(f"{base}/reset", headers=headers, verify=emulator.ca_bundle, timeout=10).status_code == 200
    assert graph.get(f"users/{sample}", params={"$select": "jobTitle"}).json()["jobTitle"] == "President"
    assert len(graph.get("users").json()["value"]) == 100
