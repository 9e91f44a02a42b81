"""What the core keeps about one person: e-mails in the outbox (GDPR Art. 15, 17, 20).

Messages to the person's own address go entirely; other messages (to coordinators, say) keep
their place in the delivery log but lose every mention of the person.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.contacts.models import Contact
from shared.contacts.privacy import person_needles, redact
from shared.models import OutboxMessage


async def export_contact(session: AsyncSession, contact_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    # The delivery log is shown on no page: only an admin answering the person's request gets it.
    if not actor.is_admin:
        return {"emails": []}
    contact = (await session.execute(select(Contact).where(Contact.id == contact_id))).scalar_one_or_none()
    if contact is None or not contact.email:
        return {"emails": []}
    rows = (
        await session.execute(
            select(OutboxMessage).where(func.lower(OutboxMessage.to_address) == contact.email.lower())
        )
    ).scalars()
    return {
        "emails": [
            {
                "subject": m.subject,
                "status": m.status,
                "written_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            }
            for m in rows
        ]
    }


async def erase_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    contact = (await session.execute(select(Contact).where(Contact.id == contact_id))).scalar_one_or_none()
    if contact is None:
        return
    if contact.email:
        await session.execute(
            delete(OutboxMessage).where(func.lower(OutboxMessage.to_address) == contact.email.lower())
        )
    needles = person_needles(contact)
    if not needles:
        return
    columns = ("subject", "body_text", "body_html")
    condition = or_(*[getattr(OutboxMessage, c).ilike(f"%{n}%") for c in columns for n in needles])
    for message in (await session.execute(select(OutboxMessage).where(condition))).scalars():
        message.subject = redact(message.subject, needles)
        message.body_text = redact(message.body_text, needles)
        message.body_html = redact(message.body_html, needles) if message.body_html else None
    await session.flush()
