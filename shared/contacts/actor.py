"""Who acts on contacts: a member or an API token, and what their role lets them see."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import ApiToken, Membership, User
from shared.permissions import Permission, Role, can


@dataclass(frozen=True)
class Actor:
    role: Role
    token_id: uuid.UUID | None = None
    membership_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return can(self.role, Permission.SETTINGS_MANAGE)

    def wrote(self, membership_id: uuid.UUID | None, token_id: uuid.UUID | None) -> bool:
        return (membership_id is not None and membership_id == self.membership_id) or (
            token_id is not None and token_id == self.token_id
        )


async def display_name(session: AsyncSession, actor: Actor) -> str:
    """A name for timelines and audit fields: the member's name, or the token's."""
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
    return actor.role.value
