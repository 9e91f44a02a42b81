"""Roles and what each may do: the one permission table of codo."""

from __future__ import annotations

from enum import StrEnum

from shared.errors import InvalidValue
from shared.i18n import N_


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    VIEWER = "viewer"
    # Board members and funders' contacts: reports and dashboard figures, never personal data.
    REPORTER = "reporter"


class Permission(StrEnum):
    ORG_READ = "org:read"
    MEMBERS_READ = "members:read"
    MEMBERS_MANAGE = "members:manage"
    TOKENS_MANAGE = "tokens:manage"
    DATA_READ = "data:read"
    DATA_WRITE = "data:write"
    SETTINGS_MANAGE = "settings:manage"
    # Erasing a person cannot be undone: admins only; others request it (shared.tasks.erasure).
    PERSON_ERASE = "person:erase"
    # The change history names every person and member: admins only.
    HISTORY_READ = "history:read"
    REPORTS_READ = "reports:read"


# Messages name roles and permissions by key; these mark the keys for the catalogues, which hold
# their labels ("settings:manage" reads "Einstellungen verwalten").
LABELS = (
    N_("owner"),
    N_("admin"),
    N_("coordinator"),
    N_("viewer"),
    N_("reporter"),
    N_("org:read"),
    N_("members:read"),
    N_("members:manage"),
    N_("tokens:manage"),
    N_("data:read"),
    N_("data:write"),
    N_("settings:manage"),
    N_("person:erase"),
    N_("history:read"),
    N_("reports:read"),
)

_REPORTS = {Permission.ORG_READ, Permission.REPORTS_READ}
_READ = _REPORTS | {Permission.MEMBERS_READ, Permission.DATA_READ}
_WORK = _READ | {Permission.DATA_WRITE}
_ADMIN = _WORK | {
    Permission.MEMBERS_MANAGE,
    Permission.TOKENS_MANAGE,
    Permission.SETTINGS_MANAGE,
    Permission.PERSON_ERASE,
    Permission.HISTORY_READ,
}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(_ADMIN),
    Role.ADMIN: frozenset(_ADMIN),
    Role.COORDINATOR: frozenset(_WORK),
    Role.VIEWER: frozenset(_READ),
    Role.REPORTER: frozenset(_REPORTS),
}

# A role may only hand out roles at or below its own rank (an admin cannot mint an owner token).
RANK: dict[Role, int] = {
    Role.REPORTER: 0,
    Role.VIEWER: 0,
    Role.COORDINATOR: 1,
    Role.ADMIN: 2,
    Role.OWNER: 3,
}


def can(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def can_grant(granter: Role, role: Role) -> bool:
    return RANK[role] <= RANK[granter]


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidValue(
            "unknown role %(value)r; choose one of %(roles)s",
            value=value,
            roles=", ".join(r.value for r in Role),
        ) from None
