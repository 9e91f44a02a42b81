"""What the pages offer to link a task or an appointment to: contacts by name, found by search."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contacts.models import Contact
from shared.contacts.service import ContactQuery, contact_name, list_contacts

PICKER_SIZE = 20


@dataclass(frozen=True)
class ContactChoice:
    id: uuid.UUID
    name: str


async def contacts_by_id(session: AsyncSession, ids: list[uuid.UUID]) -> list[ContactChoice]:
    """The named contacts that still exist, in the order given."""
    if not ids:
        return []
    rows = (
        await session.execute(select(Contact).where(Contact.id.in_(ids), Contact.erased_at.is_(None)))
    ).scalars()
    found = {c.id: ContactChoice(c.id, contact_name(c)) for c in rows}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


async def contact_choices(
    session: AsyncSession, q: str | None, selected: list[uuid.UUID], *, limit: int = PICKER_SIZE
) -> tuple[list[ContactChoice], list[ContactChoice], bool]:
    """(the selected contacts, up to ``limit`` others by name or matching ``q``, whether there are more)."""
    chosen = await contacts_by_id(session, selected)
    listed = await list_contacts(
        session, ContactQuery(q=(q or "").strip() or None), limit=limit + len(chosen), cursor=None
    )
    taken = {c.id for c in chosen}
    others = [ContactChoice(c.id, c.display_name) for c in listed.items if c.id not in taken][:limit]
    return chosen, others, listed.next_cursor is not None
