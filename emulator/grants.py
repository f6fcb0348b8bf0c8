"""Authorization codes and refresh tokens: single-use codes, rotating refresh tokens, revocation.

Error codes (all ``invalid_grant``):

* 54005 — the code was already redeemed;
* 70008 — the code expired, or the refresh token was already used (rotation: with the ``refresh_token_single_use``
  setting on, the default, each refresh token works once; off, it stays valid after use, as in Entra);
* 50173 — the refresh token was revoked (revokeSignInSessions, a password change, or the "revoke" fault knob);
* 500112 — the code is redeemed with another redirect URI; 501481 — the PKCE verifier does not match;
* 9002313 — the code or refresh token is unknown; 70000 — it was issued to another app.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field

from .errors import OAuthError

CODE_LIFETIME = 600


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: list[str]
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    nonce: str | None = None
    used: bool = False


@dataclass
class RefreshGrant:
    token: str
    client_id: str
    subject: str  # user object id, or the oproxy registration id
    scopes: list[str]
    issued_at: float = field(default_factory=time.time)
    status: str = "active"  # active | used | revoked


def _stamp(moment: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(moment))


class GrantStore:
    def __init__(self) -> None:
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.valid_from: dict[str, float] = {}  # subject -> refresh tokens issued before this are revoked

    def issue_code(self, client_id: str, redirect_uri: str, user_id: str, scopes: list[str], *,
                   code: str | None = None, lifetime: int = CODE_LIFETIME, code_challenge: str | None = None,
                   code_challenge_method: str | None = None, nonce: str | None = None) -> AuthCode:
        value = code or "1.AXoA" + secrets.token_urlsafe(96)
        grant = AuthCode(value, client_id, redirect_uri, user_id, scopes, time.time() + lifetime, code_challenge,
                         code_challenge_method, nonce)
        self.codes[value] = grant
        return grant

    def redeem_code(self, code: str, client_id: str, redirect_uri: str | None, verifier: str | None) -> AuthCode:
        grant = self.codes.get(code)
        if grant is None:
            raise OAuthError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
        if grant.used:
            raise OAuthError(400, "invalid_grant", 54005,
                             "OAuth2 Authorization code was already redeemed, please retry with a new valid code or "
                             "use an existing refresh token.")
        if time.time() > grant.expires_at:
            raise OAuthError(400, "invalid_grant", 70008,
                             "The provided authorization code or refresh token has expired due to inactivity. Send a "
                             "new interactive authorization request for this user and resource.")
        if (redirect_uri or "") != grant.redirect_uri:
            raise OAuthError(400, "invalid_grant", 500112,
                             f"The reply address '{redirect_uri or ''}' does not match the reply address "
                             f"'{grant.redirect_uri}' provided when requesting Authorization code.")
        if grant.code_challenge and not _pkce_matches(grant, verifier):
            raise OAuthError(400, "invalid_grant", 501481,
                             "The Code_Verifier does not match the code_challenge supplied in the authorization "
                             "request.")
        grant.used = True
        return grant

    def issue_refresh(self, client_id: str, subject: str, scopes: list[str]) -> RefreshGrant:
        grant = RefreshGrant("1.AXoA" + secrets.token_urlsafe(160), client_id, subject, scopes)
        self.refresh_tokens[grant.token] = grant
        return grant

    def redeem_refresh(self, token: str, client_id: str, single_use: bool = True) -> RefreshGrant:
        """Validate and consume a refresh token (the caller issues the replacement).

        ``single_use=False`` is Entra's behaviour for confidential clients: the token stays valid after use.
        """
        grant = self.refresh_tokens.get(token)
        if grant is None:
            raise OAuthError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
        valid_from = self.valid_from.get(grant.subject, 0.0)
        if grant.status == "revoked" or grant.issued_at < valid_from:
            raise OAuthError(400, "invalid_grant", 50173,
                             "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
                             "The user might have changed or reset their password. The grant was issued on "
                             f"'{_stamp(grant.issued_at)}' and the TokensValidFrom date (before which tokens are not "
                             f"valid) for this user is '{_stamp(valid_from)}'.")
        if grant.status == "used" and single_use:
            raise OAuthError(400, "invalid_grant", 70008,
                             "The provided authorization code or refresh token has expired due to inactivity. Send a "
                             "new interactive authorization request for this user and resource.")
        grant.status = "used"
        return grant

    def revoke_subject(self, subject: str) -> None:
        """Invalidate every refresh token of ``subject`` issued so far (revokeSignInSessions, password change)."""
        self.valid_from[subject] = time.time()

    def revoke_all(self) -> None:
        # "used" too: when refresh tokens may be reused (Entra's behaviour), a used one is still a live grant.
        for grant in self.refresh_tokens.values():
            if grant.status != "revoked":
                grant.status = "revoked"


def _pkce_matches(grant: AuthCode, verifier: str | None) -> bool:
    if not verifier:
        return False
    if (grant.code_challenge_method or "plain").upper() == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=") == grant.code_challenge
    return verifier == grant.code_challenge
