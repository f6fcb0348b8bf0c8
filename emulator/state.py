"""Everything one emulator instance knows, shared by its HTTPS app, its IMDS app and the Python API.

Request handlers reach it through ``current_state()``. One re-entrant lock serialises every read and write of the
directory, grants and sessions; the servers are threaded, so handlers hold it while they touch state (never while
they sleep for a latency fault).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from .faults import FaultEngine, FaultRule
from .grants import GrantStore
from .ids import det_token, det_uuid
from .registry import DEFAULT_REDIRECT_URI, Registry
from .requestlog import RequestLog
from .tenant import ADMIN, Tenant
from .tls import AppCertificate
from .tokens import TokenService

DOMAIN = "emulator.onmicrosoft.com"
PRESEEDED_CODES = 5
OIDC_SCOPES = ("openid", "profile", "offline_access", "email")


@dataclass
class Settings:
    """Knobs the admin API can change at run time (``POST /_emulator/config``)."""

    token_lifetime: int = 3599
    page_size: int = 100
    delta_page_size: int = 100
    operation_polls: int = 2  # GETs answered notStarted/running before a resetPassword operation finishes
    replication_delay_ms: int = 0  # a created user stays invisible this long (Graph's eventual consistency)
    # True: a refresh token works once (70008 on reuse). False: Entra's behaviour for confidential clients, where a
    # refresh returns a new token but the old one stays valid until it expires or is revoked.
    refresh_token_single_use: bool = True
    tap_policy: dict[str, Any] = field(default_factory=lambda: {
        "isEnabled": True, "minimumLifetimeInMinutes": 10, "maximumLifetimeInMinutes": 43200,
        "defaultLifetimeInMinutes": 60, "isUsableOnce": False})

    def update(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key == "tap_policy":
                if not isinstance(value, dict) or set(value) - set(self.tap_policy):
                    raise ValueError("tap_policy takes " + ", ".join(self.tap_policy))
                self.tap_policy.update(value)
            elif key in ("token_lifetime", "page_size", "delta_page_size", "operation_polls",
                         "replication_delay_ms"):
                if not isinstance(value, int) or value < 0 or (key.endswith("page_size") and value < 1):
                    raise ValueError(f"{key} must be a non-negative integer")
                setattr(self, key, value)
            elif key == "refresh_token_single_use":
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
                setattr(self, key, value)
            else:
                raise ValueError(f"unknown setting: {key}")

    def to_json(self) -> dict[str, Any]:
        return {"token_lifetime": self.token_lifetime, "page_size": self.page_size,
                "delta_page_size": self.delta_page_size, "operation_polls": self.operation_polls,
                "replication_delay_ms": self.replication_delay_ms, "tap_policy": dict(self.tap_policy),
                "refresh_token_single_use": self.refresh_token_single_use}


class EmulatorState:
    def __init__(self, *, seed: int, users: int, base_url: str, imds_url: str, state_dir: str,
                 app_certificate: AppCertificate, admin_token: str, ca_bundle: str) -> None:
        self.seed = seed
        self.user_count = users
        self.base_url = base_url
        self.imds_url = imds_url
        self.state_dir = state_dir
        self.ca_bundle = ca_bundle
        self.admin_token = admin_token
        self.lock = threading.RLock()
        self.tenant_id = det_uuid(seed, "tenant")
        self.domain = DOMAIN
        self.registry = Registry(seed, self.tenant_id, app_certificate)
        self.registry.add_redirect_uri(f"{base_url}/_emulator/callback")
        self.tokens = TokenService(base_url, self.tenant_id)
        self.faults = FaultEngine()
        self.log = RequestLog()
        self.settings = Settings()
        self.tenant: Tenant
        self.grants: GrantStore
        self.delta_rounds: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.batch_counter = 0
        self.reset()

    # -- lifecycle --------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the state right after start: fresh tenant, grants, sessions, settings; no faults, empty log."""
        with self.lock:
            self.tenant = Tenant(self.seed, self.user_count, self.tenant_id, self.domain)
            self.grants = GrantStore()
            self.delta_rounds.clear()
            self.operations.clear()
            self.settings = Settings()
            self.tokens.lifetime = self.settings.token_lifetime
            self.tokens.not_before = 0.0
            self.faults.clear()
            self.log.clear()
            for sp in self.registry.service_principals.values():
                sp.password_credentials.clear()
            self._seed_auth_codes()

    def _seed_auth_codes(self) -> None:
        admin = self.delegated_user()
        if admin is None:
            return
        for app in self.registry.apps.values():
            if not app.scopes:
                continue
            for number in range(PRESEEDED_CODES):
                code = "0.AXoA" + det_token(self.seed, f"auth-code:{app.key}:{number}", 64)
                self.grants.issue_code(app.client_id, DEFAULT_REDIRECT_URI, admin["id"],
                                       list(app.scopes) + list(OIDC_SCOPES), code=code, lifetime=86400)

    def preseeded_codes(self, app_key: str) -> list[str]:
        return ["0.AXoA" + det_token(self.seed, f"auth-code:{app_key}:{n}", 64) for n in range(PRESEEDED_CODES)]

    def delegated_user(self) -> dict[str, Any] | None:
        """The user who "signs in" on the authorize endpoint unless a login_hint names another one."""
        if not self.tenant.order:
            return None
        return self.tenant.users.get(self.tenant.order[ADMIN])

    # -- fault side effects -------------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        self.tokens.not_before = time.time()

    def revoke_refresh_tokens(self) -> None:
        with self.lock:
            self.grants.revoke_all()

    def apply_side_effect(self, rule: FaultRule) -> None:
        if rule.kind == "expire_tokens":
            self.expire_tokens()
        elif rule.kind == "revoke":
            self.revoke_refresh_tokens()

    # -- reporting ----------------------------------------------------------------------------------------------

    def registrations(self) -> dict[str, Any]:
        with self.lock:
            data = self.registry.to_json(self.base_url, self.imds_url, self.state_dir)
            for app in self.registry.apps.values():
                if app.scopes:
                    data["apps"][app.key]["auth_codes"] = self.preseeded_codes(app.key)
            admin = self.delegated_user()
            data["domain"] = self.domain
            data["delegated_user"] = (
                {"id": admin["id"], "userPrincipalName": admin["userPrincipalName"]} if admin else None)
            data["users"] = {"count": self.user_count, "samples": self.tenant.sample_users()}
            return data

    def info(self, pid: int) -> dict[str, Any]:
        """The one JSON document ``emulator.json`` holds and the CLI prints (README "emulator.json")."""
        registrations = self.registrations()
        return {
            "base_url": self.base_url,
            "graph_url": self.base_url,
            "login_url": self.base_url,
            "imds_url": self.imds_url,
            "ca_bundle": self.ca_bundle,
            "state_dir": self.state_dir,
            "admin_token": self.admin_token,
            "pid": pid,
            "seed": self.seed,
            "registrations": registrations,
            "instance_params": instance_params(self.base_url, registrations),
            "env": {"REQUESTS_CA_BUNDLE": self.ca_bundle, "AZURE_POD_IDENTITY_AUTHORITY_HOST": self.imds_url},
            "env_app_service": {"REQUESTS_CA_BUNDLE": self.ca_bundle,
                                "IDENTITY_ENDPOINT": f"{self.imds_url}/msi/token",
                                "IDENTITY_HEADER": self.registry.identity_header},
        }


def instance_params(base_url: str, registrations: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Ready-made integration instance parameters (commands.md §3.1 names) for every authentication mode."""
    app = registrations["apps"]["default"]
    tenant = registrations["tenant_id"]
    common = {"azure_cloud": "Custom", "host": base_url, "login_host": base_url, "insecure": False, "proxy": False}

    def cred(value: str, identifier: str = "") -> dict[str, str]:
        return {"identifier": identifier, "password": value}

    self_deployed = {**common, "self_deployed": True, "creds_auth_id": cred(app["client_id"]),
                     "creds_tenant_id": cred(tenant)}
    with open(app["certificate"]["key_path"]) as handle:
        private_key = handle.read()
    oproxy = registrations["oproxy"]
    identities = registrations["managed_identities"]
    return {
        "client_credentials": {**self_deployed, "creds_enc_key": cred(app["client_secret"])},
        "certificate": {**self_deployed, "creds_certificate": cred(private_key, app["certificate"]["thumbprint"])},
        "authorization_code": {**self_deployed, "creds_enc_key": cred(app["client_secret"]),
                               "redirect_uri": DEFAULT_REDIRECT_URI, "creds_auth_code": cred(app["auth_codes"][0])},
        "managed_identity": {**common, "use_managed_identities": True,
                             "managed_identities_client_id": cred(identities["user_assigned"]["client_id"])},
        "managed_identity_system": {**common, "use_managed_identities": True,
                                    "managed_identities_client_id": cred("")},
        "oproxy": {**common, "self_deployed": False, "creds_auth_id": cred(oproxy["auth_id"]),
                   "creds_tenant_id": cred(oproxy["token"]), "creds_enc_key": cred(oproxy["key"])},
    }


def current_state() -> EmulatorState:
    state: EmulatorState = current_app.extensions["emulator"]
    return state
