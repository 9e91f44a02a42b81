"""Intake: a profile, a programme's steps and a record, a certificate inspection with its reminder,
an event with an attendee, a form with a submission."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from shared import clock
from shared.actor import Actor
from shared.contacts.models import Contact, Programme, ProgrammeMembership
from shared.contacts.service import derive
from shared.db import Database
from shared.intake.models import (
    CertificateInspection,
    CertificateReminder,
    EventAttendee,
    IntakeEvent,
    IntakeForm,
    IntakeProfile,
    IntakeSubmission,
    ScreeningRecord,
    ScreeningStep,
)
from shared.models import Membership
from shared.tasks import tasks
from shared.tasks.schemas import TaskCreate
from tests.conftest import Org


async def seed(db: Database, org: Org) -> None:
    o = org.id
    async with db.tenant(o) as session:
        member = (await session.execute(select(Membership.id).limit(1))).scalar_one()
        mentor = Contact(organization_id=o, kinds=["mentor"], first_name="Paul", last_name="Pate")
        derive(mentor)
        programme = Programme(organization_id=o, name=f"Intake {secrets.token_hex(3)}")
        session.add_all([mentor, programme])
        await session.flush()
        session.add(ProgrammeMembership(organization_id=o, contact_id=mentor.id, programme_id=programme.id))
        session.add(IntakeProfile(organization_id=o, contact_id=mentor.id, form_of_address="du"))
        step = ScreeningStep(
            organization_id=o, programme_id=programme.id, key="interview", kind="interview",
            label_de="Erstgespräch", label_en="First interview", applies_to=["mentor"],
        )  # fmt: skip
        session.add(step)
        inspection = CertificateInspection(
            organization_id=o, contact_id=mentor.id, seen=True, issued_on=date(2020, 1, 1),
            inspected_on=date(2020, 1, 10), inspected_by="Olga", has_relevant_entries=False,
        )  # fmt: skip
        session.add(inspection)
        event = IntakeEvent(
            organization_id=o, kind="workshop", title="Seed workshop",
            starts_at=datetime.now(UTC) + timedelta(days=3), programme_id=programme.id,
        )  # fmt: skip
        session.add(event)
        form = IntakeForm(
            organization_id=o, slug="mentoren", programme_id=programme.id, audience="mentor",
            title_de="Pate werden", title_en="Become a mentor", fields=[{"key": "phone", "required": False}],
            consents=[], coordinator_membership_id=member,
        )  # fmt: skip
        session.add(form)
        await session.flush()
        session.add(
            ScreeningRecord(
                organization_id=o, contact_id=mentor.id, step_id=step.id, done_on=clock.today(),
                done_by="Olga", outcome="passed",
            )
        )  # fmt: skip
        task = await tasks.create_task(
            session,
            Actor.system("test", org_id=o, slug=org.slug),
            TaskCreate(title="Führungszeugnis erneut einsehen", due_date=clock.today()),
            datetime.now(UTC),
        )
        session.add(
            CertificateReminder(
                organization_id=o, inspection_id=inspection.id, due_on=date(2025, 1, 1), task_id=task.id
            )
        )
        session.add(
            EventAttendee(organization_id=o, event_id=event.id, contact_id=mentor.id, status="present")
        )
        session.add(
            IntakeSubmission(
                organization_id=o, form_id=form.id, email="seed@example.org", locale="de",
                answers={"first_name": "Sina"}, consents=[],
                token_hash=hashlib.sha256(secrets.token_bytes(16)).digest(), client_hash="0" * 64,
            )
        )  # fmt: skip
