"""Who acts in codo: a member, an API token, or codo itself for a stated reason.

Every domain takes this one ``Actor``: it decides what the caller may see (role), who wrote a
record (membership or token), how logs and history name them (``label``), and, for work that
sends links, the organisation and site address the act happens in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import ApiToken, Membership, User
from shared.permissions import Permission, Role, can


class ActorKind(StrEnum):
    MEMBER = "member"
    TOKEN = "token"
    SYSTEM = "system"


@dataclass(frozen=True, kw_only=True)
class Actor:
    role: Role
    # How logs and history name them: a member's e-mail address, "API token …" or "codo".
    label: str = ""
    user_id: uuid.UUID | None = None
    membership_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    # Why codo itself acts (a sign-in, a public form, a retention rule); empty for people and tokens.
    reason: str = ""
    # Where: links in e-mails and tasks need the organisation's slug and the site's address.
    org_id: uuid.UUID | None = None
    slug: str = ""
    public_url: str = ""

    @classmethod
    def system(
        cls,
        reason: str,
        *,
        role: Role = Role.OWNER,
        org_id: uuid.UUID | None = None,
        slug: str = "",
        public_url: str = "",
    ) -> Actor:
        return cls(role=role, label="codo", reason=reason, org_id=org_id, slug=slug, public_url=public_url)

    @property
    def kind(self) -> ActorKind:
        if self.token_id is not None:
            return ActorKind.TOKEN
        if self.membership_id is not None or self.user_id is not None:
            return ActorKind.MEMBER
        return ActorKind.SYSTEM

    @property
    def is_admin(self) -> bool:
        return can(self.role, Permission.SETTINGS_MANAGE)

    def may(self, permission: Permission) -> bool:
        return can(self.role, permission)

    def wrote(self, membership_id: uuid.UUID | None, token_id: uuid.UUID | None) -> bool:
        return (membership_id is not None and membership_id == self.membership_id) or (
            token_id is not None and token_id == self.token_id
        )

    def within(self, org_id: uuid.UUID, slug: str, public_url: str = "") -> Actor:
        return replace(self, org_id=org_id, slug=slug, public_url=public_url)

    @property
    def organization_id(self) -> uuid.UUID:
        # Only acts that write rows or links through the Actor need it; a missing one is a bug.
        if self.org_id is None:
            raise RuntimeError("this act needs its organisation: build the Actor with within()")
        return self.org_id

    def link(self, path: str) -> str:
        return f"{self.public_url.rstrip('/')}/o/{self.slug}{path}"


SYSTEM_ACTOR = Actor.system("codo")


async def display_name(session: AsyncSession, actor: Actor) -> str:
    """A name for timelines and authorship fields: the member's name, or the token's."""
    if actor.membership_id is not None:
        row = (
            await session.execute(
                select(User.display_name, User.email)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.id == actor.membership_id)
            )
        ).first()
        if row is not None:
            return str(row.display_name or row.email)
    if actor.token_id is not None:
        name = (
            await session.execute(select(ApiToken.name).where(ApiToken.id == actor.token_id))
        ).scalar_one_or_none()
        if name is not None:
            return f"API token {name}"
    if actor.kind is ActorKind.SYSTEM and actor.label:
        return actor.label
    return actor.role.value
