"""What intake keeps about one person, for the export (GDPR Art. 15, 20) and the erasure (Art. 17).

The contacts domain's export and erasure call these, so a person's preparation, certificate
inspections, attendance and sign-ups leave with, or go with, the rest of their record.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.intake.models import (
    CertificateInspection,
    EventAttendee,
    IntakeEvent,
    IntakeProfile,
    IntakeSubmission,
    ScreeningRecord,
    ScreeningStep,
)
from shared.permissions import Permission


async def export_contact(session: AsyncSession, contact_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    """What intake keeps about the person, as plain JSON-able values, as far as ``actor`` may see it.

    The same rules as the checklist (shared.intake.screening): child-protection notes for admins,
    certificate inspections for those who work with people (not viewers).
    """
    profile = (
        await session.execute(select(IntakeProfile).where(IntakeProfile.contact_id == contact_id))
    ).scalar_one_or_none()
    records = await session.execute(
        select(ScreeningRecord, ScreeningStep.label_de)
        .join(ScreeningStep, ScreeningStep.id == ScreeningRecord.step_id)
        .where(ScreeningRecord.contact_id == contact_id)
        .order_by(ScreeningRecord.done_on)
    )
    inspections = (
        await session.execute(
            select(CertificateInspection)
            .where(CertificateInspection.contact_id == contact_id)
            .order_by(CertificateInspection.inspected_on)
        )
    ).scalars()
    attendance = await session.execute(
        select(IntakeEvent.title, IntakeEvent.starts_at, EventAttendee.status)
        .join(EventAttendee, EventAttendee.event_id == IntakeEvent.id)
        .where(EventAttendee.contact_id == contact_id)
        .order_by(IntakeEvent.starts_at)
    )
    submissions = (
        await session.execute(select(IntakeSubmission).where(IntakeSubmission.contact_id == contact_id))
    ).scalars()
    return {
        "form_of_address": profile.form_of_address if profile else None,
        "protection_notes": profile.protection_notes if profile and actor.is_admin else None,
        "preparation": [
            {
                "step": label,
                "done_on": r.done_on.isoformat(),
                "done_by": r.done_by,
                "outcome": r.outcome,
                "note": r.note,
            }
            for r, label in records
        ],
        "certificate_inspections": [
            {
                "seen": c.seen,
                "issued_on": c.issued_on.isoformat(),
                "inspected_on": c.inspected_on.isoformat(),
                "inspected_by": c.inspected_by,
                "has_relevant_entries": c.has_relevant_entries,
            }
            for c in inspections
            if actor.may(Permission.DATA_WRITE)
        ],
        "events": [
            {"title": title, "starts_at": starts.isoformat(), "status": status}
            for title, starts, status in attendance
        ],
        "sign_ups": [
            {
                "email": s.email,
                "answers": s.answers,
                "consents": s.consents,
                "sent_at": s.created_at.isoformat(),
                "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
            }
            for s in submissions
        ],
    }


async def erase_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    """Remove what identifies or judges the person; attendance stays, counted, for the statistics.

    Sign-ups from the person's address go too, confirmed or not.
    """
    email = (
        await session.execute(select(IntakeSubmission.email).where(IntakeSubmission.contact_id == contact_id))
    ).scalar()
    await session.execute(delete(IntakeProfile).where(IntakeProfile.contact_id == contact_id))
    await session.execute(delete(ScreeningRecord).where(ScreeningRecord.contact_id == contact_id))
    await session.execute(delete(CertificateInspection).where(CertificateInspection.contact_id == contact_id))
    condition = IntakeSubmission.contact_id == contact_id
    await session.execute(
        delete(IntakeSubmission).where(
            or_(condition, IntakeSubmission.email == email) if email else condition
        )
    )
    await session.execute(
        update(EventAttendee).where(EventAttendee.contact_id == contact_id).values(invited_at=None)
    )
    await session.flush()
