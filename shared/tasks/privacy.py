"""What tasks, appointments and notifications keep about one person (GDPR Art. 15, 17, 20).

Tasks and appointments linked to the person stay (a coordinator's workload counts), but their
titles, descriptions and comments go; wherever else the person is named, the name is redacted.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.contacts.models import Contact
from shared.contacts.privacy import person_needles, redact
from shared.tasks.models import Appointment, AppointmentParticipant, Notification, Task, TaskComment

ERASED_TITLE = "Aufgabe zu einer gelöschten Person / task about an erased person"
ERASED_APPOINTMENT = "Termin mit einer gelöschten Person / appointment with an erased person"


async def export_contact(session: AsyncSession, contact_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    tasks = (await session.execute(select(Task).where(Task.contact_id == contact_id))).scalars()
    appointments = (
        await session.execute(
            select(Appointment)
            .join(AppointmentParticipant, AppointmentParticipant.appointment_id == Appointment.id)
            .where(AppointmentParticipant.contact_id == contact_id)
        )
    ).scalars()
    return {
        "tasks": [
            {
                "title": t.title,
                "description": t.description,
                "status": t.status,
                "due_date": t.due_date.isoformat(),
            }
            for t in tasks
        ],
        "appointments": [
            {"title": a.title, "starts_at": a.starts_at.isoformat(), "status": a.status} for a in appointments
        ],
    }


async def erase_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    linked = list((await session.execute(select(Task.id).where(Task.contact_id == contact_id))).scalars())
    if linked:
        await session.execute(delete(TaskComment).where(TaskComment.task_id.in_(linked)))
        await session.execute(
            update(Task).where(Task.id.in_(linked)).values(title=ERASED_TITLE, description="")
        )
    appointments = select(AppointmentParticipant.appointment_id).where(
        AppointmentParticipant.contact_id == contact_id
    )
    await session.execute(
        update(Appointment)
        .where(Appointment.id.in_(appointments))
        .values(title=ERASED_APPOINTMENT, description="", cancel_reason="")
    )
    contact = (await session.execute(select(Contact).where(Contact.id == contact_id))).scalar_one_or_none()
    needles = person_needles(contact) if contact is not None else []
    if not needles:
        return
    for model, columns in (
        (Task, ("title", "description")),
        (TaskComment, ("body",)),
        (Appointment, ("title", "description", "location")),
        (Notification, ("title", "body")),
    ):
        condition = or_(*[getattr(model, c).ilike(f"%{n}%") for c in columns for n in needles])
        for row in (await session.execute(select(model).where(condition))).scalars():
            for column in columns:
                setattr(row, column, redact(getattr(row, column) or "", needles))
    await session.flush()
