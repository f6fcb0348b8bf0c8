"""The emulated directory: users, their manager chain, groups, roles, administrative units and devices.

Users are generated deterministically from the seed. Only what every list call needs is built up front (about
twenty properties per user); group memberships, devices and authentication methods are derived from the user's
generator index the first time somebody asks, so 50,000 users load in a second or two.

Every write bumps a tenant-wide ``version`` and stamps the user with it; delta queries use those stamps.
Records are plain dicts keyed by Graph property names; keys starting with ``_`` are internal.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

from .errors import iso_z, utc_now
from .ids import det_uuid

User = dict[str, Any]

_FIRST = ("Adele", "Alex", "Allan", "Bianca", "Brian", "Cameron", "Christie", "Debra", "Diego", "Emily", "Enrico",
          "Grady", "Henrietta", "Irvin", "Isaiah", "Johanna", "Joni", "Lee", "Lidia", "Lynne", "Megan", "Miriam",
          "Nestor", "Patti", "Pradeep", "Raul", "Sofia", "Tariq", "Ulla", "Valentina", "Wei", "Yuki", "Zainab",
          "Olga", "Kwame", "Mateo", "Priya", "Hannah", "Omar", "Ingrid")
_LAST = ("Vance", "Wilber", "Deyoung", "Pincher", "Johnson", "White", "Cline", "Berger", "Siciliani", "Braun",
         "Bianchi", "Archie", "Cerrato", "Bellew", "Patel", "Lauer", "Sherman", "Gu", "Holloway", "Robbins", "Bowen",
         "Graham", "Wilke", "Fernandez", "Gupta", "Razavi", "Nakamura", "Okafor", "Lindqvist", "Moreau", "Kowalski",
         "Haddad", "Silva", "Novak", "Mensah", "Ito", "Schmidt", "Rossi", "Dubois", "Larsen")
_DEPARTMENTS = ("Sales", "Marketing", "Finance", "Engineering", "Operations", "Legal", "Human Resources", "IT",
                "Research", "Support")
_TITLES = ("Analyst", "Engineer", "Manager", "Director", "Specialist", "Consultant", "Administrator", "Designer",
           "Coordinator", "Architect")
_OFFICES = (("Seattle", "US", "WA", "98052", "131/1105"), ("Paris", "FR", None, "75008", "Paris-3/210"),
            ("Tokyo", "JP", None, "100-0005", "TK-12/4"), ("Berlin", "DE", None, "10115", "B-2/19"),
            ("Toronto", "CA", "ON", "M5H 2N2", "TO-7/77"))
_LANGUAGES = ("en-US", "fr-FR", "ja-JP", "de-DE", "en-CA")
_GROUP_TOPICS = ("Sales", "Marketing", "Finance", "Engineering", "Operations", "Legal", "HR", "IT", "Research",
                 "Support", "Security", "Project Falcon", "Project Nova", "Leadership", "All Company")
_EPOCH = dt.datetime(2019, 3, 1, 8, 0, 0, tzinfo=dt.UTC)
_EPOCH_NAIVE = _EPOCH.replace(tzinfo=None)  # isoformat() of a naive datetime is much cheaper than strftime
_LAST_SYNC = iso_z(_EPOCH + dt.timedelta(days=1000))

# Users at these generator indexes have fixed, documented traits (see README "Tenant").
ADMIN, CEO, GUEST, DOLLAR, APOSTROPHE, DISABLED, HYBRID, LONER = range(8)

DIRECTORY_ROLES = (
    ("62e90394-69f5-4237-9190-012177145e10", "Global Administrator",
     "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities."),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator",
     "Can manage all aspects of users and groups, including resetting passwords for limited admins."),
    ("c4e39bd9-1100-46d3-8c65-fb160da0071f", "Authentication Administrator",
     "Can access to view, set and reset authentication method information for any non-admin user."),
    ("7be44c8a-adaf-4e2a-84d6-ab2649e08a13", "Privileged Authentication Administrator",
     "Can access to view, set and reset authentication method information for any user (admin or non-admin)."),
)
ADMINISTRATIVE_UNITS = ("Seattle users", "Paris users", "Remote workers")


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Tenant:
    """One directory. Not thread-safe by itself: the server serialises access with one lock."""

    def __init__(self, seed: int, user_count: int, tenant_id: str, domain: str) -> None:
        self.seed = seed
        self.tenant_id = tenant_id
        self.domain = domain
        self.version = 0
        self.users: dict[str, User] = {}
        self.order: list[str] = []  # position = the user's "_seq"; append-only, gives a stable listing order
        self.upn_index: dict[str, str] = {}
        self.deleted: dict[str, User] = {}
        self.tombstones: dict[str, tuple[int, str]] = {}  # id -> (version, "changed" | "deleted")
        self.reports: dict[str, dict[str, None]] = {}  # manager id -> ordered set of direct report ids
        self.groups: list[dict[str, Any]] = []
        self.roles: list[dict[str, Any]] = []
        self.units: list[dict[str, Any]] = []
        self._generate(user_count)

    # -- generation -----------------------------------------------------------------------------------------------

    def _generate(self, count: int) -> None:
        rng = random.Random(self.seed)
        self._generate_directory_objects(rng, count)
        seen: set[str] = set()
        rand = rng.random  # int(rand() * n) is several times faster than randrange(n) at this volume
        getrandbits = rng.getrandbits
        users = self.users
        order = self.order
        upn_index = self.upn_index
        domain = self.domain
        for index in range(count):
            first = _FIRST[int(rand() * len(_FIRST))]
            last = _LAST[int(rand() * len(_LAST))]
            local = f"{first}.{last}".lower()
            if local in seen:
                local = f"{local}{index}"
            seen.add(local)
            city, country, state, postal, office = _OFFICES[index % len(_OFFICES)]
            department = _DEPARTMENTS[int(rand() * len(_DEPARTMENTS))]
            upn = f"{local}@{domain}"
            user_id = str(uuid.UUID(int=getrandbits(128), version=4))
            user: User = {
                "id": user_id,
                "accountEnabled": True,
                "businessPhones": [f"+1 425 555 {index % 10000:04d}"],
                "city": city,
                "companyName": "Contoso",
                "country": country,
                "createdDateTime": (_EPOCH_NAIVE + dt.timedelta(minutes=37 * index)).isoformat() + "Z",
                "department": department,
                "displayName": f"{first} {last}",
                "employeeId": f"E{100000 + index}",
                "givenName": first,
                "jobTitle": f"{department} {_TITLES[int(rand() * len(_TITLES))]}",
                "mail": upn,
                "mailNickname": local,
                "mobilePhone": f"+1 206 555 {(index * 7) % 10000:04d}" if index % 3 else None,
                "officeLocation": office,
                "postalCode": postal,
                "preferredLanguage": _LANGUAGES[index % len(_LANGUAGES)],
                "state": state,
                "surname": last,
                "usageLocation": country,
                "userPrincipalName": upn,
                "userType": "Member",
                "_seq": index,
                "_idx": index,
                "_v": 0,
                "_manager": None,
            }
            if index % 5 == 1:
                self._make_hybrid(user, index)
            users[user_id] = user
            order.append(user_id)
            upn_index[upn] = user_id
        self._apply_special_users(count)
        self._link_managers(count)

    def _make_hybrid(self, user: User, index: int) -> None:
        sam = user["mailNickname"].replace(".", "")[:20]
        user.update(
            onPremisesSyncEnabled=True,
            onPremisesSamAccountName=sam,
            onPremisesDomainName="corp.contoso.example",
            onPremisesUserPrincipalName=f"{sam}@corp.contoso.example",
            onPremisesImmutableId=uuid.UUID(int=index + 1).hex[:22] + "==",
            onPremisesDistinguishedName=f"CN={user['displayName']},OU=Users,DC=corp,DC=contoso,DC=example",
            onPremisesSecurityIdentifier=f"S-1-5-21-1004336348-1177238915-682003330-{1000 + index}",
            onPremisesLastSyncDateTime=_LAST_SYNC,
        )

    def _rename(self, index: int, local: str, display: str, **extra: Any) -> None:
        user = self.users[self.order[index]]
        del self.upn_index[user["userPrincipalName"].lower()]
        upn = f"{local}@{self.domain}"
        first, _, last = display.partition(" ")
        user.update(userPrincipalName=upn, mail=extra.pop("mail", upn), mailNickname=local.replace("'", ""),
                    displayName=display, givenName=first, surname=last or None, **extra)
        self.upn_index[upn.lower()] = user["id"]

    def _apply_special_users(self, count: int) -> None:
        specials: dict[int, tuple[str, str, dict[str, Any]]] = {
            ADMIN: ("admin", "MOD Administrator", {"jobTitle": "IT Admin", "department": "IT"}),
            CEO: ("ceo", "Patti Fernandez", {"jobTitle": "President"}),
            GUEST: ("jane.doe_fabrikam.example#EXT#", "Jane Doe",
                    {"userType": "Guest", "mail": "jane.doe@fabrikam.example", "externalUserState": "Accepted",
                     "creationType": "Invitation", "businessPhones": []}),
            DOLLAR: ("$svc.backup", "Backup Service", {"jobTitle": "Service account"}),
            APOSTROPHE: ("conor.o'brien", "Conor O'Brien", {}),
            DISABLED: ("disabled.user", "Disabled User", {"accountEnabled": False}),
            HYBRID: ("hybrid.user", "Hybrid User", {}),
            LONER: ("loner", "Lone Wolf", {"mobilePhone": None}),
        }
        for index, (local, display, extra) in specials.items():
            if index < count:
                self._rename(index, local, display, **extra)
        if HYBRID < count:
            self._make_hybrid(self.users[self.order[HYBRID]], HYBRID)
        for index in (ADMIN, CEO, GUEST, DOLLAR, LONER):
            if index < count:  # these are cloud-only whatever their generator index said
                user = self.users[self.order[index]]
                for key in [k for k in user if k.startswith("onPremises")]:
                    del user[key]

    def _manager_index(self, index: int) -> int | None:
        if index in (ADMIN, CEO, GUEST, LONER) or index % 40 == 39:
            return None
        if index < 13:
            return CEO
        return (index - 13) // 5 + 8  # a tree with five reports per manager below the first layer

    def _link_managers(self, count: int) -> None:
        for index in range(count):
            manager_index = self._manager_index(index)
            if manager_index is None or manager_index >= count:
                continue
            user_id = self.order[index]
            manager_id = self.order[manager_index]
            self.users[user_id]["_manager"] = manager_id
            self.reports.setdefault(manager_id, {})[user_id] = None

    def _generate_directory_objects(self, rng: random.Random, count: int) -> None:
        group_count = max(8, count // 25)
        for index in range(group_count):
            topic = _GROUP_TOPICS[index % len(_GROUP_TOPICS)]
            name = topic if index < len(_GROUP_TOPICS) else f"{topic} {index // len(_GROUP_TOPICS)}"
            unified = index % 3 == 0
            nickname = name.lower().replace(" ", "-")
            self.groups.append(
                {
                    "@odata.type": "#microsoft.graph.group",
                    "id": _guid(rng),
                    "deletedDateTime": None,
                    "classification": None,
                    "createdDateTime": iso_z(_EPOCH + dt.timedelta(days=index)),
                    "creationOptions": [],
                    "description": f"{name} team",
                    "displayName": name,
                    "expirationDateTime": None,
                    "groupTypes": ["Unified"] if unified else [],
                    "isAssignableToRole": None,
                    "mail": f"{nickname}@{self.domain}" if unified else None,
                    "mailEnabled": unified,
                    "mailNickname": nickname,
                    "membershipRule": None,
                    "membershipRuleProcessingState": None,
                    "onPremisesDomainName": None,
                    "onPremisesLastSyncDateTime": None,
                    "onPremisesNetBiosName": None,
                    "onPremisesSamAccountName": None,
                    "onPremisesSecurityIdentifier": None,
                    "onPremisesSyncEnabled": None,
                    "preferredDataLocation": None,
                    "preferredLanguage": None,
                    "proxyAddresses": [f"SMTP:{nickname}@{self.domain}"] if unified else [],
                    "renewedDateTime": iso_z(_EPOCH + dt.timedelta(days=index)),
                    "resourceBehaviorOptions": [],
                    "resourceProvisioningOptions": ["Team"] if unified and index % 2 == 0 else [],
                    "securityEnabled": not unified or index % 2 == 0,
                    "securityIdentifier": f"S-1-12-1-{1000 + index}-{2000 + index}",
                    "theme": None,
                    "uniqueName": None,
                    "visibility": "Private" if unified and index % 4 == 0 else ("Public" if unified else None),
                    "onPremisesProvisioningErrors": [],
                    "serviceProvisioningErrors": [],
                }
            )
        for template_id, name, description in DIRECTORY_ROLES:
            self.roles.append(
                {
                    "@odata.type": "#microsoft.graph.directoryRole",
                    "id": det_uuid(self.seed, f"role:{template_id}"),
                    "deletedDateTime": None,
                    "description": description,
                    "displayName": name,
                    "roleTemplateId": template_id,
                }
            )
        for index, name in enumerate(ADMINISTRATIVE_UNITS):
            self.units.append(
                {
                    "@odata.type": "#microsoft.graph.administrativeUnit",
                    "id": det_uuid(self.seed, f"au:{index}"),
                    "deletedDateTime": None,
                    "displayName": name,
                    "description": f"Administrative unit: {name}",
                    "visibility": None,
                    "membershipType": None,
                }
            )

    # -- lookups --------------------------------------------------------------------------------------------------

    def find_user(self, key: str) -> User | None:
        """A live user by object id or userPrincipalName (case-insensitive)."""
        user = self.users.get(key) or self.users.get(key.lower())
        if user is None:
            user_id = self.upn_index.get(key.lower())
            user = self.users.get(user_id) if user_id else None
        return user if user is not None and _visible(user) else None

    def iter_users(self, after_seq: int = -1) -> Iterator[User]:
        """Live users in listing order, starting after position ``after_seq``."""
        users = self.users
        order = self.order
        for seq in range(after_seq + 1, len(order)):
            user = users.get(order[seq])
            if user is not None and ("_visible_at" not in user or _visible(user)):
                yield user

    def manager_of(self, user: User) -> User | None:
        manager_id = user.get("_manager")
        return self.users.get(manager_id) if manager_id else None

    def direct_reports(self, user: User) -> list[User]:
        ids = self.reports.get(user["id"], {})
        return [self.users[i] for i in ids if i in self.users]

    def member_of(self, user: User) -> list[dict[str, Any]]:
        """Groups, directory roles and administrative units the user is a direct member of."""
        if "_member_of" not in user:
            user["_member_of"] = self._derive_memberships(user.get("_idx"))
        return list(user["_member_of"])

    def _derive_memberships(self, index: int | None) -> list[dict[str, Any]]:
        if index is None or index == LONER:
            return []
        groups = self.groups
        picked = {index % len(groups)}
        if index % 3 == 0:
            picked.add((index * 7 + 3) % len(groups))
        if index % 4 == 1:
            picked.add((index * 13 + 5) % len(groups))
        if index == ADMIN:
            picked.update(range(min(3, len(groups))))
        result: list[dict[str, Any]] = [groups[i] for i in sorted(picked)]
        if index == ADMIN:
            result.append(self.roles[0])
        elif index % 50 == 10:
            result.append(self.roles[1])
        elif index % 50 == 20:
            result.append(self.roles[2])
        if index % 4 == 0:
            result.append(self.units[index % len(self.units)])
        return result

    def owned_devices(self, user: User) -> list[dict[str, Any]]:
        if "_devices" not in user:
            user["_devices"] = self._derive_devices(user.get("_idx"))
        return list(user["_devices"])

    def _derive_devices(self, index: int | None) -> list[dict[str, Any]]:
        if index is None or index == LONER:
            return []
        rng = random.Random(f"{self.seed}:devices:{index}")
        count = 3 if index == ADMIN else rng.choice((0, 1, 1, 2, 3))
        devices = []
        kinds = (("Windows", "10.0.22631.3447", "AzureAd"), ("iOS", "17.4.1", "Workplace"),
                 ("Android", "14", "Workplace"), ("MacMDM", "14.4.1", "Workplace"))
        for number in range(count):
            os_name, version, trust = kinds[rng.randrange(len(kinds))]
            device_id = _guid(rng)
            registered = _EPOCH + dt.timedelta(days=rng.randrange(1500), minutes=rng.randrange(1440))
            devices.append(
                {
                    "@odata.type": "#microsoft.graph.device",
                    "id": _guid(rng),
                    "deletedDateTime": None,
                    "accountEnabled": True,
                    "approximateLastSignInDateTime": iso_z(registered + dt.timedelta(days=30)),
                    "complianceExpirationDateTime": None,
                    "createdDateTime": iso_z(registered),
                    "deviceId": device_id,
                    "deviceVersion": 2,
                    "displayName": f"{os_name.upper()}-{index:05d}-{number}",
                    "isCompliant": os_name == "Windows",
                    "isManaged": os_name == "Windows",
                    "operatingSystem": os_name,
                    "operatingSystemVersion": version,
                    "physicalIds": [f"[USER-GID]:{device_id}"] if os_name == "Windows" else [],
                    "profileType": "RegisteredDevice",
                    "registrationDateTime": iso_z(registered),
                    "trustType": trust,
                    "alternativeSecurityIds": [{"type": 2, "identityProvider": None, "key": "WAA1ADAAOQA="}],
                }
            )
        return devices

    # -- writes ---------------------------------------------------------------------------------------------------

    def bump(self) -> int:
        self.version += 1
        return self.version

    def touch(self, user: User, properties: list[str]) -> None:
        """Record that ``properties`` of ``user`` changed (for delta queries)."""
        version = self.bump()
        user["_v"] = version
        changed = user.setdefault("_changed", {})
        for name in properties:
            changed[name] = version

    def add_user(self, properties: dict[str, Any]) -> User:
        """Create a user from already validated ``properties``."""
        now = utc_now()
        user: User = {"id": str(uuid.uuid4()), "createdDateTime": iso_z(now), "creationType": None,
                      "userType": "Member", "businessPhones": [], "_seq": len(self.order), "_idx": None,
                      "_manager": None}
        for key, value in properties.items():
            user[key] = value
        if "passwordProfile" in user:
            profile = user.pop("passwordProfile")
            user["_password"] = profile.get("password")
            user["lastPasswordChangeDateTime"] = iso_z(now)
            for flag in ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"):
                if flag in profile:
                    user[f"_{flag}"] = profile[flag]
        self.users[user["id"]] = user
        self.order.append(user["id"])
        self.upn_index[user["userPrincipalName"].lower()] = user["id"]
        self.touch(user, [k for k in user if not k.startswith("_")])
        return user

    def update_user(self, user: User, changes: dict[str, Any]) -> None:
        """Apply already validated ``changes`` (Graph property names) to ``user``."""
        if "userPrincipalName" in changes:
            del self.upn_index[user["userPrincipalName"].lower()]
            self.upn_index[changes["userPrincipalName"].lower()] = user["id"]
        profile = changes.pop("passwordProfile", None)
        if profile is not None:
            if profile.get("password"):
                user["_password"] = profile["password"]
                user["lastPasswordChangeDateTime"] = iso_z(utc_now())
            for flag in ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"):
                if flag in profile:
                    user[f"_{flag}"] = profile[flag]
        user.update(changes)
        self.touch(user, list(changes) + (["passwordProfile"] if profile is not None else []))

    def delete_user(self, user: User, *, permanent: bool = False) -> None:
        """Soft-delete (recoverable, delta reason ``changed``) or permanently delete (reason ``deleted``)."""
        del self.users[user["id"]]
        self.upn_index.pop(user["userPrincipalName"].lower(), None)
        manager_id = user.get("_manager")
        if manager_id:
            self.reports.get(manager_id, {}).pop(user["id"], None)
        version = self.bump()
        if permanent:
            self.deleted.pop(user["id"], None)
            self.tombstones[user["id"]] = (version, "deleted")
        else:
            user["deletedDateTime"] = iso_z(utc_now())
            self.deleted[user["id"]] = user
            self.tombstones[user["id"]] = (version, "changed")

    def purge_deleted(self, user_id: str) -> bool:
        """Permanently delete a soft-deleted user. Returns False when there is none with that id."""
        if user_id not in self.deleted:
            return False
        del self.deleted[user_id]
        self.tombstones[user_id] = (self.bump(), "deleted")
        return True

    def set_manager(self, user: User, manager: User) -> None:
        old = user.get("_manager")
        if old:
            self.reports.get(old, {}).pop(user["id"], None)
        user["_manager"] = manager["id"]
        self.reports.setdefault(manager["id"], {})[user["id"]] = None
        self.touch(user, ["manager"])

    def remove_manager(self, user: User) -> bool:
        old = user.get("_manager")
        if not old:
            return False
        self.reports.get(old, {}).pop(user["id"], None)
        user["_manager"] = None
        self.touch(user, ["manager"])
        return True

    # -- reporting ------------------------------------------------------------------------------------------------

    def sample_users(self) -> dict[str, dict[str, str]]:
        """The users with fixed traits, for tests and demos (``registrations["users"]["samples"]``)."""
        names = {"admin": ADMIN, "ceo": CEO, "guest": GUEST, "dollar": DOLLAR, "apostrophe": APOSTROPHE,
                 "disabled": DISABLED, "hybrid": HYBRID, "loner": LONER}
        result = {}
        for name, index in names.items():
            if index < len(self.order):
                user = self.users.get(self.order[index]) or self.deleted.get(self.order[index])
                if user is not None:
                    result[name] = {"id": user["id"], "userPrincipalName": user["userPrincipalName"],
                                    "displayName": user["displayName"]}
        return result


def _visible(user: User) -> bool:
    """False while a just-created user is still "replicating" (the replication_delay_ms setting)."""
    return user.get("_visible_at", 0.0) <= time.time()


def user_property(user: User, name: str) -> Any:
    """A property value as Graph shows it (collections default to ``[]``, secrets are never shown)."""
    if name == "passwordProfile":
        return None
    if name == "proxyAddresses":
        mail = user.get("mail")
        return [f"SMTP:{mail}"] if mail and user.get("userType") != "Guest" else []
    if name == "signInActivity":
        created = user.get("createdDateTime")
        return {"lastSignInDateTime": created, "lastSignInRequestId": det_uuid(0, user["id"]),
                "lastNonInteractiveSignInDateTime": created, "lastNonInteractiveSignInRequestId": None,
                "lastSuccessfulSignInDateTime": created, "lastSuccessfulSignInRequestId": None}
    if name in ("businessPhones", "otherMails", "imAddresses", "identities"):
        return list(user.get(name) or [])
    return user.get(name)
