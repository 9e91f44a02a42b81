"""Re-inspection of the extended criminal-record certificate: one reminder task per inspection.

A reminder is due ``REMINDER_LEAD_DAYS`` before the certificate's interval runs out. The ledger
(``certificate_reminders``, unique per inspection) is written with ``ON CONFLICT DO NOTHING``
before the task, so scans that run twice or overlap create the task once. The task is written
in the language of the member it goes to, since its title and text are stored as they read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert

from shared import i18n
from shared.actor import Actor
from shared.contacts.service import contact_name
from shared.db import Database
from shared.i18n import N_
from shared.intake import vocab
from shared.intake.models import CertificateInspection, CertificateReminder
from shared.intake.readiness import evaluate
from shared.models import Organization
from shared.tasks import notify, tasks
from shared.tasks.schemas import TaskCreate

TITLE = N_("Inspect the extended criminal-record certificate again: %(name)s")
DESCRIPTION = N_(
    "The extended criminal-record certificate (issued on %(issued)s) must be inspected again by %(due)s."
)


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
            owner = contact.owner_membership_id
            found = await notify.recipients(session, {owner}) if owner else {}
            lang = i18n.language(found[owner].locale if owner in found else None)
            words = i18n.gettext(lang, DESCRIPTION, domain="intake", issued=inspection.issued_on, due=due_on)
            task = await tasks.create_task(
                session,
                actor,
                TaskCreate(
                    title=i18n.gettext(lang, TITLE, domain="intake", name=contact_name(contact))[:300],
                    due_date=max(due_on, today),
                    assignee_id=owner,
                    contact_id=contact.id,
                    description=f"{words}\n{actor.link(f'/intake/people/{contact.id}')}",
                ),
                datetime.now(UTC),
            )
            row = await session.get(CertificateReminder, (org_id, claimed))
            assert row is not None
            row.task_id = task.id
            report.created += 1
        await session.flush()
    return report
