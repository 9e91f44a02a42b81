"""What questionnaires keep about one person, for the export (GDPR Art. 15, 20) and the erasure
(Art. 17); the contacts domain's export, erasure and retention call these.

Erasure removes every free-text answer and every open link of the person; what remains (scale
and choice answers) stays in the figures, marked anonymised, and no longer says anything a
reader could tie to the person once the contact itself is anonymised.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.questionnaires.models import (
    QuestionnaireAnswer,
    QuestionnaireInvitation,
    QuestionnaireResponse,
    QuestionnaireVersion,
)
from shared.questionnaires.service import decode_content


async def export_contact(session: AsyncSession, contact_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    responses = (
        await session.execute(
            select(QuestionnaireResponse, QuestionnaireVersion)
            .join(QuestionnaireVersion, QuestionnaireVersion.id == QuestionnaireResponse.version_id)
            .where(QuestionnaireResponse.contact_id == contact_id)
            .order_by(QuestionnaireResponse.submitted_at)
        )
    ).all()
    answers: dict[uuid.UUID, list[QuestionnaireAnswer]] = {}
    if responses:
        for a in (
            await session.execute(
                select(QuestionnaireAnswer)
                .where(QuestionnaireAnswer.response_id.in_([r.id for r, _ in responses]))
                .order_by(QuestionnaireAnswer.response_id, QuestionnaireAnswer.id)
            )
        ).scalars():
            answers.setdefault(a.response_id, []).append(a)
    invitations = (
        await session.execute(
            select(QuestionnaireInvitation)
            .where(
                QuestionnaireInvitation.contact_id == contact_id, QuestionnaireInvitation.skipped.is_(None)
            )
            .order_by(QuestionnaireInvitation.sent_at)
        )
    ).scalars()
    return {
        "questionnaires_sent": [
            {
                "sent_at": i.sent_at.isoformat(),
                "answered_at": i.submitted_at.isoformat() if i.submitted_at else None,
                "revoked_at": i.revoked_at.isoformat() if i.revoked_at else None,
            }
            for i in invitations
        ],
        "answers": [
            {
                "questionnaire": decode_content(v.content).title.say(r.lang),
                "version": v.number,
                "submitted_at": r.submitted_at.isoformat(),
                "answers": [
                    {
                        "question": a.wording,
                        "number": a.number,
                        "choices": list(a.choices),
                        # The person's own words about a worry: for the admins answering the request.
                        "text": a.text_value if actor.is_admin or not a.confidential else None,
                    }
                    for a in answers.get(r.id, [])
                ],
            }
            for r, v in responses
        ],
    }


async def erase_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    ids = select(QuestionnaireResponse.id).where(QuestionnaireResponse.contact_id == contact_id)
    await session.execute(
        update(QuestionnaireAnswer).where(QuestionnaireAnswer.response_id.in_(ids)).values(text_value=None),
        execution_options={"synchronize_session": False},
    )
    await session.execute(
        update(QuestionnaireResponse)
        .where(QuestionnaireResponse.contact_id == contact_id, QuestionnaireResponse.anonymised_at.is_(None))
        .values(anonymised_at=now),
        execution_options={"synchronize_session": False},
    )
    # Open links of the person open nothing any more.
    await session.execute(
        update(QuestionnaireInvitation)
        .where(
            QuestionnaireInvitation.contact_id == contact_id,
            QuestionnaireInvitation.submitted_at.is_(None),
            QuestionnaireInvitation.revoked_at.is_(None),
        )
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )
