"""What coordinators do by hand with a tandem's questionnaires (sending one now, revoking a
link), recorded in the change history like every other change to a tandem."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history
from shared.actor import Actor
from shared.matching.models import Match
from shared.questionnaires import sending
from shared.questionnaires.schemas import InvitationOut, SendIn, SentOut
from shared.questionnaires.service import latest_version, title_of


async def _pair(session: AsyncSession, match_id: uuid.UUID) -> list[uuid.UUID]:
    row = (await session.execute(select(Match.mentor_id, Match.mentee_id).where(Match.id == match_id))).one()
    return [row.mentor_id, row.mentee_id]


async def send(
    session: AsyncSession, actor: Actor, match_id: uuid.UUID, data: SendIn, now: datetime, public_url: str
) -> SentOut:
    sent = await sending.send_by_hand(session, actor, match_id, data, now, public_url)
    if sent.items:
        title = title_of(await latest_version(session, data.questionnaire_id))
        pair = await _pair(session, match_id)
        for item in sent.items:
            await history.record(
                session,
                "questionnaire_invitation",
                item.id,
                "sent",
                history.created({"audience": item.audience, "contact_id": str(item.contact_id)}),
                actor=actor,
                contact_ids=[*pair, item.contact_id],
                match_id=match_id,
                target=title,
            )
    return sent


async def revoke(
    session: AsyncSession, actor: Actor, invitation_id: uuid.UUID, now: datetime
) -> InvitationOut:
    before = await sending.get_invitation(session, invitation_id)
    was_open = before.revoked_at is None and before.submitted_at is None
    out = await sending.revoke(session, invitation_id, now)
    if was_open and out.revoked_at is not None:
        await history.record(
            session,
            "questionnaire_invitation",
            out.id,
            "revoked",
            {"revoked_at": [None, history.jsonable(out.revoked_at)]},
            actor=actor,
            contact_ids=[*await _pair(session, out.match_id), out.contact_id],
            match_id=out.match_id,
            target=title_of(await latest_version(session, out.questionnaire_id)),
        )
    return out
