"""What the change history keeps about one person (GDPR Art. 15, 17, 20).

The export lists what was changed about them (for admins, who may read the history); the erasure
replaces every recorded value about them by a mark and keeps that, when and by whom it changed.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.contacts.models import Contact
from shared.contacts.privacy import person_needles
from shared.history.service import Search, entries, entry_out, scrub_person
from shared.permissions import Permission


async def export_contact(session: AsyncSession, contact_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    if not actor.may(Permission.HISTORY_READ):
        return {"changes": []}
    found = await entries(session, Search(contact_id=contact_id), limit=10_000)
    return {"changes": [msgspec.to_builtins(entry_out(e)) for e in found]}


async def erase_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    contact = (await session.execute(select(Contact).where(Contact.id == contact_id))).scalar_one_or_none()
    await scrub_person(session, contact_id, person_needles(contact) if contact is not None else [])
