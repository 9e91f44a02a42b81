"""Re-inspection of the extended criminal-record certificate: one reminder task per inspection.

A reminder is due ``REMINDER_LEAD_DAYS`` before the certificate's interval runs out. The ledger
(``certificate_reminders``, unique per inspection) is written with ``ON CONFLICT DO NOTHING``
before the task, so scans that run twice or overlap create the task once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert

from shared.actor import Actor
from shared.contacts.service import contact_name
from shared.db import Database
from shared.intake import vocab
from shared.intake.models import CertificateInspection, CertificateReminder
from shared.intake.readiness import evaluate
from shared.models import Organization
from shared.tasks import tasks
from shared.tasks.schemas import TaskCreate


@dataclass
class ReminderReport:
    created: int = 0


async def organisations_with_open_inspections(db: Database) -> list[uuid.UUID]:
    """Organisations with an inspection that has no reminder yet; each job then checks the dates."""
    async with db.system_context("certificate re-inspection scan") as session:
        rows = await session.execute(
            select(CertificateInspection.organization_id)
            .where(
                ~exists().where(
                    CertificateReminder.organization_id == CertificateInspection.organization_id,
                    CertificateReminder.inspection_id == CertificateInspection.id,
                )
            )
            .distinct()
        )
        return list(rows.scalars())


async def send_due(db: Database, org_id: uuid.UUID, today: date, public_url: str = "") -> ReminderReport:
    report = ReminderReport()
    async with db.tenant(org_id) as session:
        org = await session.get(Organization, org_id)
        if org is None:
            return report
        contact_ids = list(
            (
                await session.execute(
                    select(CertificateInspection.contact_id)
                    .where(
                        ~exists().where(
                            CertificateReminder.organization_id == CertificateInspection.organization_id,
                            CertificateReminder.inspection_id == CertificateInspection.id,
                        )
                    )
                    .distinct()
                )
            ).scalars()
        )
        people = await evaluate(session, contact_ids, today=today)
        actor = Actor.system("certificate reminder", org_id=org_id, slug=org.slug, public_url=public_url)
        for person in people.values():
            inspection, due_on = person.certificate, person.certificate_due_on
            needs_it = any(s.step.kind == "certificate" and s.state in ("done", "due") for s in person.steps)
            if inspection is None or due_on is None or not needs_it:
                continue
            if due_on - timedelta(days=vocab.REMINDER_LEAD_DAYS) > today:
                continue
            claimed = (
                await session.execute(
                    insert(CertificateReminder)
                    .values(organization_id=org_id, inspection_id=inspection.id, due_on=due_on)
                    .on_conflict_do_nothing(index_elements=["organization_id", "inspection_id"])
                    .returning(CertificateReminder.id)
                )
            ).scalar_one_or_none()
            if claimed is None:
                continue
            contact = person.contact
            task = await tasks.create_task(
                session,
                actor,
                TaskCreate(
                    title=f"Führungszeugnis erneut einsehen: {contact_name(contact)}"[:300],
                    due_date=max(due_on, today),
                    assignee_id=contact.owner_membership_id,
                    contact_id=contact.id,
                    description=(
                        f"Das erweiterte Führungszeugnis (ausgestellt am "
                        f"{vocab.day_text(inspection.issued_on, 'de')}) muss bis "
                        f"{vocab.day_text(due_on, 'de')} erneut eingesehen werden.\n"
                        f"{actor.link(f'/intake/people/{contact.id}')}"
                    ),
                ),
                datetime.now(UTC),
            )
            row = await session.get(CertificateReminder, (org_id, claimed))
            assert row is not None
            row.task_id = task.id
            report.created += 1
        await session.flush()
    return report
