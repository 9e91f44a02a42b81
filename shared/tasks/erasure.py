"""Requests to erase a person: erasure cannot be undone, so only admins erase, and others ask them.

A request is a task for the admins in the caller's transaction, linked to the person, with who
asked and why; the admin erases from the person's page (or decides not to and says so there).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n
from shared.actor import Actor, display_name
from shared.contacts.service import contact_name, get_contact
from shared.errors import Conflict, ValidationFailed
from shared.i18n import N_
from shared.models import Membership
from shared.permissions import Permission, Role, can
from shared.tasks import notify, tasks
from shared.tasks.models import DEFAULT_TIMEZONE
from shared.tasks.recurrence import local_now
from shared.tasks.schemas import TaskCreate, TaskOut

# Art. 12(3) GDPR gives a month to answer; a week leaves time to ask back.
ANSWER_WITHIN = timedelta(days=7)
MAX_REASON = 2000
TITLE = N_("Erasure requested: %(name)s")
ASKED = N_("%(who)s asks to erase this person's data for good (Art. 17 GDPR).")
BECAUSE = N_("Reason: %(reason)s")


async def _erasing_member(session: AsyncSession) -> uuid.UUID | None:
    """The longest-standing member whose role may erase people, admins before owners."""
    rows = (
        await session.execute(select(Membership.id, Membership.role).order_by(Membership.created_at))
    ).all()
    allowed = [row for row in rows if can(Role(row.role), Permission.PERSON_ERASE)]
    allowed.sort(key=lambda row: row.role != Role.ADMIN.value)
    return allowed[0].id if allowed else None


async def request_erasure(
    session: AsyncSession, actor: Actor, contact_id: uuid.UUID, reason: str, now: datetime
) -> TaskOut:
    contact = await get_contact(session, contact_id)
    if contact.erased_at is not None:
        raise Conflict("this person's data was erased already", field="contact_id")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise ValidationFailed("at most %(max)s characters", field="reason", max=MAX_REASON)
    who = await display_name(session, actor)
    # Stored as it reads, so written in the language of the admin who answers it.
    assignee = await _erasing_member(session)
    found = await notify.recipients(session, {assignee}) if assignee else {}
    lang = i18n.language(found[assignee].locale if assignee in found else None)
    lines = [i18n.gettext(lang, ASKED, domain="tasks", who=who)]
    if reason:
        lines.append(i18n.gettext(lang, BECAUSE, domain="tasks", reason=reason))
    lines.append(actor.link(f"/contacts/{contact_id}"))
    today = local_now(now, DEFAULT_TIMEZONE).date()
    return await tasks.create_task(
        session,
        actor,
        TaskCreate(
            title=i18n.gettext(lang, TITLE, domain="tasks", name=contact_name(contact))[:300],
            due_date=today + ANSWER_WITHIN,
            assignee_id=assignee,
            description="\n".join(lines)[:4000],
            priority="high",
            contact_id=contact.id,
        ),
        now,
    )
