"""App registrations, managed identities, oproxy registrations and service principals of the emulated tenant.

Everything except the certificate key pair is derived from the seed, so a given seed always yields the same
client ids, secrets, oproxy token and key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from .ids import det_bytes, det_client_secret, det_token, det_uuid
from .permissions import ALL_APP_ROLES, ALL_DELEGATED_SCOPES, LEAST_PRIVILEGE_APP_ROLES
from .tls import AppCertificate

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MFA_APP_ID = "981f26a1-7f43-403b-a875-f8b09b8cd720"
MFA_RESOURCE = "https://adnotifications.windowsazure.com/StrongAuthenticationService.svc/Connector"
OPROXY_APP_NAME = "ms-graph-user"
DEFAULT_REDIRECT_URI = "https://localhost/myapp"


@dataclass
class AppRegistration:
    """An app registration plus its service principal in the tenant (consented permissions included)."""

    key: str
    client_id: str
    display_name: str
    sp_id: str
    secrets: list[str] = field(default_factory=list)
    expired_secrets: list[str] = field(default_factory=list)
    certificate: AppCertificate | None = None
    redirect_uris: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)


@dataclass
class ManagedIdentity:
    key: str
    client_id: str
    object_id: str
    resource_id: str
    roles: list[str]


@dataclass
class OproxyRegistration:
    registration_id: str
    token: str
    key: bytes
    app_name: str
    app: AppRegistration


@dataclass
class ServicePrincipal:
    id: str
    app_id: str
    display_name: str
    password_credentials: list[dict[str, Any]] = field(default_factory=list)

    def to_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "appId": self.app_id,
            "displayName": self.display_name,
            "appDisplayName": self.display_name,
            "servicePrincipalType": "Application",
            "accountEnabled": True,
            "passwordCredentials": [
                {k: v for k, v in cred.items() if k != "secretText"} for cred in self.password_credentials
            ],
        }


class Registry:
    """All credentials of one emulated tenant, built deterministically from ``seed``."""

    def __init__(self, seed: int, tenant_id: str, app_certificate: AppCertificate) -> None:
        self.seed = seed
        self.tenant_id = tenant_id
        self.apps: dict[str, AppRegistration] = {}
        self._add_app(
            "default",
            "Entra ID Users (emulator)",
            roles=list(ALL_APP_ROLES),
            scopes=list(ALL_DELEGATED_SCOPES),
            certificate=app_certificate,
            expired_secret=True,
        )
        self._add_app("least_privilege", "Entra ID Users - least privilege", roles=list(LEAST_PRIVILEGE_APP_ROLES),
                      scopes=["User.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"])
        self._add_app("read_only", "Entra ID Users - read only", roles=["User.Read.All"], scopes=["User.Read"])
        self._add_app("no_permissions", "Entra ID Users - no permissions", roles=[], scopes=[])
        oproxy_app = self._add_app("oproxy", "Cortex XSOAR - MS Graph User (multi-tenant)", roles=list(ALL_APP_ROLES),
                                   scopes=[])
        self.managed_identities: dict[str, ManagedIdentity] = {}
        self._add_identity("system_assigned", list(ALL_APP_ROLES))
        self._add_identity("user_assigned", list(ALL_APP_ROLES))
        self._add_identity("user_assigned_read_only", ["User.Read.All"])
        self.identity_header = det_token(seed, "identity-header", 32)
        registration_id = det_uuid(seed, "oproxy-registration")
        self.oproxy: dict[str, OproxyRegistration] = {
            registration_id: OproxyRegistration(
                registration_id=registration_id,
                token=det_token(seed, "oproxy-token", 48),
                key=det_bytes(seed, "oproxy-key", 32),
                app_name=OPROXY_APP_NAME,
                app=oproxy_app,
            )
        }
        self.service_principals: dict[str, ServicePrincipal] = {}
        for app in self.apps.values():
            self.service_principals[app.sp_id] = ServicePrincipal(app.sp_id, app.client_id, app.display_name)
        for app_id, name in ((MFA_APP_ID, "Azure Multi-Factor Auth Connector"), (GRAPH_APP_ID, "Microsoft Graph")):
            sp_id = det_uuid(seed, f"sp:{app_id}")
            self.service_principals[sp_id] = ServicePrincipal(sp_id, app_id, name)

    # -- construction -------------------------------------------------------------------------------------------

    def _add_app(self, key: str, name: str, *, roles: list[str], scopes: list[str],
                 certificate: AppCertificate | None = None, expired_secret: bool = False) -> AppRegistration:
        app = AppRegistration(
            key=key,
            client_id=det_uuid(self.seed, f"app:{key}"),
            display_name=name,
            sp_id=det_uuid(self.seed, f"sp:{key}"),
            secrets=[det_client_secret(self.seed, f"secret:{key}")],
            expired_secrets=[det_client_secret(self.seed, f"expired-secret:{key}")] if expired_secret else [],
            certificate=certificate,
            redirect_uris=[DEFAULT_REDIRECT_URI],
            roles=roles,
            scopes=scopes,
        )
        self.apps[app.client_id] = app
        return app

    def _add_identity(self, key: str, roles: list[str]) -> None:
        client_id = det_uuid(self.seed, f"mi:{key}:client")
        resource_id = (
            f"/subscriptions/{det_uuid(self.seed, 'subscription')}/resourceGroups/emulator/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{key}"
        )
        self.managed_identities[key] = ManagedIdentity(key, client_id, det_uuid(self.seed, f"mi:{key}:object"),
                                                       resource_id, roles)

    def add_redirect_uri(self, uri: str) -> None:
        """Register ``uri`` on every app that takes part in the authorization-code flow."""
        for app in self.apps.values():
            if app.scopes and uri not in app.redirect_uris:
                app.redirect_uris.append(uri)

    # -- lookups --------------------------------------------------------------------------------------------------

    def app(self, client_id: str) -> AppRegistration | None:
        return self.apps.get(client_id)

    def app_by_key(self, key: str) -> AppRegistration:
        return next(app for app in self.apps.values() if app.key == key)

    def app_by_thumbprint(self, client_id: str, sha1: bytes | None, sha256: bytes | None) -> AppCertificate | None:
        """The certificate registered on ``client_id`` whose SHA-1 or SHA-256 thumbprint matches."""
        app = self.apps.get(client_id)
        if app is None or app.certificate is None:
            return None
        cert = app.certificate
        if sha1 is not None and sha1.hex().upper() == cert.thumbprint:
            return cert
        if sha256 is not None and sha256.hex().upper() == cert.thumbprint_sha256:
            return cert
        return None

    def identity(self, *, client_id: str | None = None, object_id: str | None = None,
                 resource_id: str | None = None) -> ManagedIdentity | None:
        """The managed identity selected by one of the IMDS selectors; the system-assigned one when none is given."""
        if not (client_id or object_id or resource_id):
            return self.managed_identities["system_assigned"]
        for identity in self.managed_identities.values():
            if client_id and identity.client_id.lower() == client_id.lower():
                return identity
            if object_id and identity.object_id.lower() == object_id.lower():
                return identity
            if resource_id and identity.resource_id.lower() == resource_id.lower():
                return identity
        return None

    def service_principal_secret_valid(self, app_id: str, secret: str) -> bool:
        """True when ``secret`` was minted for ``app_id`` through ``addPassword``."""
        for sp in self.service_principals.values():
            if sp.app_id == app_id and any(c.get("secretText") == secret for c in sp.password_credentials):
                return True
        return False

    # -- reporting ------------------------------------------------------------------------------------------------

    def to_json(self, base_url: str, imds_url: str, state_dir: str) -> dict[str, Any]:
        """The ``registrations`` section of ``emulator.json`` (see emulator/README.md for every key)."""
        apps: dict[str, Any] = {}
        for app in self.apps.values():
            entry: dict[str, Any] = {
                "client_id": app.client_id,
                "client_secret": app.secrets[0],
                "display_name": app.display_name,
                "service_principal_id": app.sp_id,
                "redirect_uris": list(app.redirect_uris),
                "roles": list(app.roles),
                "scopes": list(app.scopes),
            }
            if app.expired_secrets:
                entry["expired_client_secret"] = app.expired_secrets[0]
            if app.certificate is not None:
                entry["certificate"] = {
                    "thumbprint": app.certificate.thumbprint,
                    "thumbprint_sha256": app.certificate.thumbprint_sha256,
                    "cert_path": f"{state_dir}/app_cert.pem",
                    "key_path": f"{state_dir}/app_key.pem",
                }
            apps[app.key] = entry
        identities = {
            key: {
                "client_id": mi.client_id,
                "object_id": mi.object_id,
                "resource_id": mi.resource_id,
                "roles": list(mi.roles),
            }
            for key, mi in self.managed_identities.items()
        }
        oproxy = next(iter(self.oproxy.values()))
        token_url = f"{base_url}/obtain-token"
        return {
            "tenant_id": self.tenant_id,
            "authority": f"{base_url}/{self.tenant_id}",
            "token_url": f"{base_url}/{self.tenant_id}/oauth2/v2.0/token",
            "authorize_url": f"{base_url}/{self.tenant_id}/oauth2/v2.0/authorize",
            "scope": f"{base_url}/.default",
            "apps": apps,
            "managed_identities": {
                **identities,
                "imds_endpoint": imds_url,
                "identity_endpoint": f"{imds_url}/msi/token",
                "identity_header": self.identity_header,
                "resource": base_url,
            },
            "oproxy": {
                "url": token_url,
                "app_name": oproxy.app_name,
                "registration_id": oproxy.registration_id,
                "auth_id": f"{oproxy.registration_id}@{token_url}",
                "token": oproxy.token,
                "key": base64.b64encode(oproxy.key).decode(),
                "client_id": oproxy.app.client_id,
            },
            "mfa_app_id": MFA_APP_ID,
            "mfa_service_principal_id": next(
                sp.id for sp in self.service_principals.values() if sp.app_id == MFA_APP_ID
            ),
        }


def thumbprint_bytes(x5t: str) -> bytes:
    """Decode a JWT ``x5t`` / ``x5t#S256`` header (base64url, no padding)."""
    return base64.urlsafe_b64decode(x5t + "=" * (-len(x5t) % 4))
