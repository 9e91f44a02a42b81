"""API tokens as an organisation's admins manage them: every creation and revocation is audited."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared import tokens
from shared.actor import Actor
from shared.identity.members import audit
from shared.permissions import Role
from shared.tokens import NewToken, TokenOut


async def create(
    session: AsyncSession,
    org_id: uuid.UUID,
    actor: Actor,
    *,
    name: str,
    role: Role,
    expires_at: datetime | None = None,
) -> NewToken:
    new = await tokens.create_token(
        session,
        org_id,
        name=name,
        role=role,
        expires_at=expires_at,
        granted_by=actor.role,
        created_by_membership_id=actor.membership_id,
        created_by_token_id=actor.token_id,
    )
    await audit(session, org_id, actor, "token.created", new.name, role=new.role)
    return new


async def revoke(session: AsyncSession, org_id: uuid.UUID, actor: Actor, token_id: uuid.UUID) -> TokenOut:
    revoked = await tokens.revoke_token(session, token_id, revoked_by=actor.role)
    await audit(session, org_id, actor, "token.revoked", revoked.name)
    return revoked
