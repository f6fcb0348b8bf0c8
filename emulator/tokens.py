"""Access tokens the emulator issues (RS256 JWTs) and the client assertions it accepts.

Tokens carry the claims Graph looks at: ``aud`` (the Graph base URL of *this* emulator, so a token from another
emulator instance — another cloud — is refused), ``iss``/``tid`` (the tenant), ``exp``, ``roles`` (application
permissions) or ``scp`` (delegated scopes), ``appid``, ``oid`` and ``idtyp``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import OAuthError
from .registry import Registry, thumbprint_bytes


class TokenRejected(Exception):
    """A bearer token Graph would refuse; ``str(e)`` is Graph's message."""


@dataclass(frozen=True)
class Principal:
    """Who a token is issued to."""

    app_id: str
    object_id: str
    display_name: str
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    user_id: str | None = None  # delegated tokens only
    upn: str | None = None


def _b64url_uint(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TokenService:
    """Issues and verifies the access tokens of one emulator instance."""

    def __init__(self, base_url: str, tenant_id: str, lifetime: int = 3599) -> None:
        self.base_url = base_url
        self.tenant_id = tenant_id
        self.lifetime = lifetime
        self.not_before = 0.0  # tokens issued before this moment count as expired ("expire tokens" knob)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        der = self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        # Entra's key ids look like x5t values (base64url of a SHA-1); any stable id would do.
        self.key_id = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{self.tenant_id}/v2.0"

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.key_id, "x5t": self.key_id,
                          "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e), "issuer": self.issuer}]}

    def issue(self, principal: Principal, audience: str | None = None, lifetime: int | None = None
              ) -> tuple[str, int]:
        """(JWT, lifetime in seconds) for ``principal``; the audience defaults to this emulator's Graph."""
        now = int(time.time())
        ttl = self.lifetime if lifetime is None else lifetime
        claims: dict[str, Any] = {
            "aud": audience or self.base_url,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "tid": self.tenant_id,
            "oid": principal.object_id,
            "sub": principal.object_id,
            "appid": principal.app_id,
            "azp": principal.app_id,
            "app_displayname": principal.display_name,
            "idtyp": "user" if principal.user_id else "app",
            "uti": uuid.uuid4().hex[:22],
            "ver": "1.0",
            "emu_iat": time.time(),  # sub-second issue time, for the "expire tokens" knob
        }
        if principal.user_id:
            claims["scp"] = " ".join(principal.scopes)
            claims["upn"] = principal.upn
            claims["name"] = principal.upn
        else:
            claims["roles"] = list(principal.roles)
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id, "x5t": self.key_id})
        return token, ttl

    def id_token(self, client_id: str, user_id: str, upn: str, name: str, nonce: str | None = None) -> str:
        """An OpenID Connect id_token for the auth-code flow (msal reads it to build the account)."""
        now = int(time.time())
        claims = {"aud": client_id, "iss": self.issuer, "iat": now, "nbf": now, "exp": now + 3600,
                  "oid": user_id, "sub": user_id, "tid": self.tenant_id, "preferred_username": upn, "name": name,
                  "ver": "2.0"}
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a bearer token Graph accepts; raises TokenRejected with Graph's message."""
        if token.count(".") != 2:
            raise TokenRejected("IDX14100: JWT is not well formed, there are no dots (.).")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise TokenRejected("Access token validation failure.") from exc
        audience = str(unverified.get("aud", "")).rstrip("/")
        if audience not in (self.base_url, self.base_url.replace("127.0.0.1", "localhost")):
            raise TokenRejected("Access token validation failure. Invalid audience.")
        try:
            claims: dict[str, Any] = jwt.decode(token, self._public_pem, algorithms=["RS256"],
                                                options={"verify_aud": False, "verify_exp": False})
        except jwt.PyJWTError as exc:
            raise TokenRejected("Access token validation failure.") from exc
        if claims.get("exp", 0) <= time.time() or claims.get("emu_iat", 0) < self.not_before:
            raise TokenRejected("Lifetime validation failed, the token is expired.")
        if claims.get("tid") != self.tenant_id or claims.get("iss") != self.issuer:
            raise TokenRejected("Access token validation failure. Invalid issuer.")
        return claims


def verify_client_assertion(assertion: str, client_id: str, registry: Registry, token_urls: set[str]) -> None:
    """Check a ``client_assertion`` the way Entra does; raises OAuthError(invalid_client) when it fails.

    Accepted: RS256 with ``x5t`` (SHA-1 thumbprint) or PS256 with ``x5t#S256``, signed by the certificate registered
    on the app, ``aud`` = the token URL, ``iss`` = ``sub`` = client id, ``exp`` in the future.
    """
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise OAuthError(401, "invalid_client", 50027, "JWT token is invalid or malformed.") from exc
    algorithm = header.get("alg")
    if algorithm not in ("RS256", "PS256"):
        raise OAuthError(401, "invalid_client", 5002738,
                         f"Invalid JWT token. '{algorithm}' is not a supported signature algorithm.")
    sha1 = thumbprint_bytes(header["x5t"]) if "x5t" in header else None
    sha256 = thumbprint_bytes(header["x5t#S256"]) if "x5t#S256" in header else None
    if sha1 is None and sha256 is None:
        raise OAuthError(401, "invalid_client", 700027,
                         "Client assertion failed signature validation. [Reason - The key was not found.]")
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise OAuthError(401, "invalid_client", 700021,
                         "Client assertion application identifier doesn't match 'client_id' parameter. Review the "
                         "documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/"
                         "active-directory-certificate-credentials .")
    certificate = registry.app_by_thumbprint(client_id, sha1, sha256)
    if certificate is None:
        shown = (sha1 or sha256 or b"").hex().upper()
        raise OAuthError(401, "invalid_client", 700027,
                         "Client assertion failed signature validation. [Reason - The key was not found., "
                         f"Thumbprint of key used by client: '{shown}', Please visit the Azure Portal, Graph Explorer "
                         "or directly use MS Graph to see configured keys for app Id "
                         f"'{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/"
                         "api/application-get?view=graph-rest-1.0 .]")
    public_key = certificate.certificate.public_key()
    try:
        jwt.decode(assertion, public_key, algorithms=[algorithm],  # type: ignore[arg-type]
                   options={"verify_aud": False, "verify_exp": False})
    except jwt.InvalidSignatureError as exc:
        raise OAuthError(401, "invalid_client", 700027,
                         "Client assertion failed signature validation. [Reason - The provided signature value "
                         "did not match the expected signature value.]") from exc
    except jwt.PyJWTError as exc:
        raise OAuthError(401, "invalid_client", 50027, "JWT token is invalid or malformed.") from exc
    if claims.get("aud") not in token_urls:
        raise OAuthError(401, "invalid_client", 700023,
                         "Client assertion audience claim does not match Realm issuer. Review the documentation at "
                         "https://docs.microsoft.com/en-us/azure/active-directory/develop/"
                         "active-directory-certificate-credentials .")
    now = time.time()
    expires = claims.get("exp")
    if not isinstance(expires, (int, float)) or expires <= now or claims.get("nbf", 0) > now + 300:
        raise OAuthError(401, "invalid_client", 700024,
                         f"Client assertion is not within its valid time range. Current time: "
                         f"{time.strftime('%Y-%m-%dT%H:%M:%S.0000000Z', time.gmtime(now))}, expiry time of "
                         f"assertion {time.strftime('%Y-%m-%dT%H:%M:%S.0000000Z', time.gmtime(expires or 0))}.")


def client_info(user_id: str, tenant_id: str) -> str:
    """The ``client_info`` blob Entra returns when asked (``uid`` / ``utid``), which msal uses as account id."""
    raw = json.dumps({"uid": user_id, "utid": tenant_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
