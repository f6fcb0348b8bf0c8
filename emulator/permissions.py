"""Which Graph permission (app role or delegated scope) each operation accepts — graph.md §8.

Each operation lists the least privileged permission first and then the broader ones that also work. A token is
accepted when its ``roles`` (application) or ``scp`` (delegated) claim holds any one of them.
"""

from __future__ import annotations

from collections.abc import Iterable

_USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
_USER_WRITE = ("User.ReadWrite.All", "Directory.ReadWrite.All")
_METHODS_READ = ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All")
_METHODS_WRITE = ("UserAuthenticationMethod.ReadWrite.All",)
_TAP_READ = _METHODS_READ + ("UserAuthMethod-TAP.Read.All", "UserAuthMethod-TAP.ReadWrite.All")
_TAP_WRITE = _METHODS_WRITE + ("UserAuthMethod-TAP.ReadWrite.All",)

# The delegated "act as the signed-in user" scope satisfies every directory operation.
_DELEGATED_ALL = ("Directory.AccessAsUser.All",)

OPERATIONS: dict[str, tuple[str, ...]] = {
    "users.read": _USER_READ + ("User.ReadBasic.All",),
    "users.create": _USER_WRITE,
    "users.update": _USER_WRITE,
    "users.delete": _USER_WRITE + ("User.DeleteRestore.All",),
    "users.enable_disable": ("User.EnableDisableAccount.All",) + _USER_WRITE,
    "users.password_profile": ("User-PasswordProfile.ReadWrite.All",) + _USER_WRITE,
    "users.revoke_sessions": ("User.RevokeSessions.All",) + _USER_WRITE,
    "users.manager_write": _USER_WRITE,
    "users.member_of": ("GroupMember.Read.All", "Group.Read.All") + _USER_READ,
    "users.owned_devices": _USER_READ,
    "methods.read": _METHODS_READ,
    "methods.write": _METHODS_WRITE,
    "tap.read": _TAP_READ,
    "tap.write": _TAP_WRITE,
    "service_principals.read": ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
                                "Directory.ReadWrite.All"),
    "service_principals.write": ("Application.ReadWrite.All", "Directory.ReadWrite.All"),
}

ALL_APP_ROLES: tuple[str, ...] = (
    "User.Read.All",
    "User.ReadWrite.All",
    "User.EnableDisableAccount.All",
    "User-PasswordProfile.ReadWrite.All",
    "User.RevokeSessions.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "GroupMember.Read.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "Application.ReadWrite.All",
    "AuditLog.Read.All",
)

# Least privilege for every command of the integration (graph.md §8, "Least privileged" column).
LEAST_PRIVILEGE_APP_ROLES: tuple[str, ...] = (
    "User.Read.All",
    "User.ReadWrite.All",
    "User.EnableDisableAccount.All",
    "User-PasswordProfile.ReadWrite.All",
    "User.RevokeSessions.All",
    "GroupMember.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "Application.ReadWrite.All",
)

ALL_DELEGATED_SCOPES: tuple[str, ...] = (
    "User.Read",
    "User.ReadWrite.All",
    "Directory.AccessAsUser.All",
    "User-PasswordProfile.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "GroupMember.Read.All",
)


def allowed(operation: str, granted: Iterable[str], delegated: bool) -> bool:
    """True when ``granted`` (the token's roles or scopes) holds a permission that ``operation`` accepts."""
    accepted = OPERATIONS[operation] + (_DELEGATED_ALL if delegated else ())
    return any(permission in accepted for permission in granted)
