"""Property names and types of the Graph entities the emulator serves."""

from __future__ import annotations

STRING = "Edm.String"
BOOL = "Edm.Boolean"
DATE = "Edm.DateTimeOffset"
STRINGS = "Collection(Edm.String)"
COMPLEX = "complex"
COMPLEXES = "Collection(complex)"

# Exactly what Graph v1.0 returns for a user when no $select is sent (graph.md §1), in Graph's order.
USER_DEFAULT_PROPERTIES: tuple[str, ...] = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)

USER_SCHEMA: dict[str, str] = {
    "id": STRING,
    "accountEnabled": BOOL,
    "ageGroup": STRING,
    "businessPhones": STRINGS,
    "city": STRING,
    "companyName": STRING,
    "country": STRING,
    "createdDateTime": DATE,
    "creationType": STRING,
    "deletedDateTime": DATE,
    "department": STRING,
    "displayName": STRING,
    "employeeHireDate": DATE,
    "employeeId": STRING,
    "employeeType": STRING,
    "externalUserState": STRING,
    "faxNumber": STRING,
    "givenName": STRING,
    "identities": COMPLEXES,
    "imAddresses": STRINGS,
    "jobTitle": STRING,
    "lastPasswordChangeDateTime": DATE,
    "mail": STRING,
    "mailNickname": STRING,
    "mobilePhone": STRING,
    "officeLocation": STRING,
    "onPremisesDistinguishedName": STRING,
    "onPremisesDomainName": STRING,
    "onPremisesImmutableId": STRING,
    "onPremisesLastSyncDateTime": DATE,
    "onPremisesSamAccountName": STRING,
    "onPremisesSecurityIdentifier": STRING,
    "onPremisesSyncEnabled": BOOL,
    "onPremisesUserPrincipalName": STRING,
    "otherMails": STRINGS,
    "passwordPolicies": STRING,
    "passwordProfile": COMPLEX,
    "postalCode": STRING,
    "preferredDataLocation": STRING,
    "preferredLanguage": STRING,
    "proxyAddresses": STRINGS,
    "securityIdentifier": STRING,
    "showInAddressList": BOOL,
    "signInActivity": COMPLEX,
    "signInSessionsValidFromDateTime": DATE,
    "state": STRING,
    "streetAddress": STRING,
    "surname": STRING,
    "usageLocation": STRING,
    "userPrincipalName": STRING,
    "userType": STRING,
}

USER_READ_ONLY: frozenset[str] = frozenset(
    {
        "id",
        "createdDateTime",
        "creationType",
        "deletedDateTime",
        "externalUserState",
        "lastPasswordChangeDateTime",
        "onPremisesDistinguishedName",
        "onPremisesDomainName",
        "onPremisesLastSyncDateTime",
        "onPremisesSamAccountName",
        "onPremisesSecurityIdentifier",
        "onPremisesSyncEnabled",
        "onPremisesUserPrincipalName",
        "proxyAddresses",
        "securityIdentifier",
        "signInActivity",
        "signInSessionsValidFromDateTime",
    }
)

# Attributes mastered on-premises for directory-synced users: Graph refuses to change them in the cloud.
USER_SYNCED_PROPERTIES: frozenset[str] = frozenset(
    {"displayName", "givenName", "surname", "jobTitle", "department", "mailNickname", "userPrincipalName", "mail",
     "companyName", "onPremisesImmutableId"}
)

USER_REQUIRED_ON_CREATE: tuple[str, ...] = (
    "accountEnabled",
    "displayName",
    "mailNickname",
    "passwordProfile",
    "userPrincipalName",
)

# Properties that $filter accepts on users, and the subset on which endsWith works (advanced queries only).
USER_FILTERABLE: frozenset[str] = frozenset(
    {"id", "accountEnabled", "ageGroup", "businessPhones", "city", "companyName", "country", "createdDateTime",
     "creationType", "department", "displayName", "employeeHireDate", "employeeId", "employeeType",
     "externalUserState", "faxNumber", "givenName", "imAddresses", "jobTitle", "mail", "mailNickname", "mobilePhone",
     "officeLocation", "onPremisesDistinguishedName", "onPremisesImmutableId", "onPremisesSamAccountName",
     "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails",
     "passwordPolicies", "postalCode", "preferredLanguage", "proxyAddresses", "securityIdentifier",
     "showInAddressList", "signInActivity", "state", "streetAddress", "surname", "usageLocation",
     "userPrincipalName", "userType"}
)
USER_ENDSWITH: frozenset[str] = frozenset({"mail", "otherMails", "userPrincipalName", "proxyAddresses"})

PASSWORD_PROFILE_KEYS: frozenset[str] = frozenset(
    {"password", "forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"}
)

DEVICE_SCHEMA: dict[str, str] = {
    "id": STRING,
    "accountEnabled": BOOL,
    "alternativeSecurityIds": COMPLEXES,
    "approximateLastSignInDateTime": DATE,
    "createdDateTime": DATE,
    "deviceId": STRING,
    "deviceVersion": STRING,
    "displayName": STRING,
    "isCompliant": BOOL,
    "isManaged": BOOL,
    "operatingSystem": STRING,
    "operatingSystemVersion": STRING,
    "physicalIds": STRINGS,
    "profileType": STRING,
    "registrationDateTime": DATE,
    "trustType": STRING,
}

SERVICE_PRINCIPAL_SCHEMA: dict[str, str] = {
    "id": STRING,
    "appId": STRING,
    "displayName": STRING,
    "appDisplayName": STRING,
    "servicePrincipalType": STRING,
    "accountEnabled": BOOL,
    "passwordCredentials": COMPLEXES,
}
