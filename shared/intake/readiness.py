"""Ready for matching: every required preparation step of every programme a person belongs to.

A step applies to a person when one of the person's kinds (mentor, mentee, guardian) is among
the step's ``applies_to``. An ordinary step is complete when its latest record passed. The
certificate step is complete when the latest inspection saw the certificate, found no relevant
entries, and the certificate has not run past the programme's interval (counted from its issue
date). A person declined for child-protection reasons is never ready.

Matching calls :func:`not_ready_reasons` and refuses everyone with a reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contacts.models import Contact, Programme, ProgrammeMembership
from shared.intake import vocab
from shared.intake.models import CertificateInspection, IntakeProfile, ScreeningRecord, ScreeningStep


@dataclass
class StepState:
    step: ScreeningStep
    programme_name: str
    # done | missing | failed | due (certificate to inspect again) | blocked (relevant entries)
    state: str
    record: ScreeningRecord | None = None
    inspection: CertificateInspection | None = None
    due_on: date | None = None


@dataclass
class PersonState:
    contact: Contact
    profile: IntakeProfile | None
    steps: list[StepState] = field(default_factory=list)
    certificate: CertificateInspection | None = None
    certificate_due_on: date | None = None

    @property
    def declined(self) -> bool:
        return self.contact.status == "declined_child_protection"

    def reasons(self, lang: str) -> list[str]:
        found: list[str] = []
        blocked = self.declined
        for s in self.steps:
            if not s.step.required or s.state == "done":
                continue
            label = s.step.label_en if lang == "en" else s.step.label_de
            if s.state == "blocked":
                blocked = True
            elif s.state == "due" and s.due_on is not None:
                found.append(vocab.reason("certificate_due", lang, due=vocab.day_text(s.due_on, lang)))
            else:
                found.append(vocab.reason(s.state, lang, step=label, programme=s.programme_name))
        if blocked:
            found.insert(0, vocab.reason("child_protection", lang))
        return found


def certificate_months(steps: Iterable[ScreeningStep]) -> int:
    """The strictest interval of the programmes that ask for the certificate."""
    months = [s.valid_months or vocab.DEFAULT_CERTIFICATE_MONTHS for s in steps if s.kind == "certificate"]
    return min(months, default=vocab.DEFAULT_CERTIFICATE_MONTHS)


async def evaluate(
    session: AsyncSession,
    contact_ids: Iterable[uuid.UUID],
    *,
    today: date | None = None,
    reasons_only: bool = False,
) -> dict[uuid.UUID, PersonState]:
    """The preparation state of each contact that exists (unknown ids are left out).

    ``reasons_only``: just what :meth:`PersonState.reasons` reads. The intake profile is left
    out, and so are records and certificate inspections when no step of these people asks for
    them (matching asks about many people who belong to no programme with steps).
    """
    ids = list(dict.fromkeys(contact_ids))
    if not ids:
        return {}
    today = today or vocab.today()
    contacts = (await session.execute(select(Contact).where(Contact.id.in_(ids)))).scalars().all()
    people = {c.id: PersonState(contact=c, profile=None) for c in contacts}
    if not people:
        return {}
    if not reasons_only:
        for profile in (
            await session.execute(select(IntakeProfile).where(IntakeProfile.contact_id.in_(people)))
        ).scalars():
            people[profile.contact_id].profile = profile

    memberships = (
        await session.execute(
            select(ProgrammeMembership.contact_id, ScreeningStep, Programme.name)
            .join(ScreeningStep, ScreeningStep.programme_id == ProgrammeMembership.programme_id)
            .join(Programme, Programme.id == ProgrammeMembership.programme_id)
            .where(ProgrammeMembership.contact_id.in_(people))
            .order_by(Programme.name, ScreeningStep.position, ScreeningStep.key)
        )
    ).all()

    steps_of: dict[uuid.UUID, list[tuple[ScreeningStep, str]]] = {}
    for contact_id, step, programme_name in memberships:
        steps_of.setdefault(contact_id, []).append((step, programme_name))
    # Which kinds of step apply to anyone: an ordinary step reads records, a certificate step
    # the inspections.
    kinds = {
        step.kind == "certificate"
        for contact_id, steps in steps_of.items()
        for step, _ in steps
        if set(step.applies_to) & set(people[contact_id].contact.kinds)
    }

    latest: dict[tuple[uuid.UUID, uuid.UUID], ScreeningRecord] = {}
    if not reasons_only or False in kinds:
        for record in (
            await session.execute(
                select(ScreeningRecord)
                .where(ScreeningRecord.contact_id.in_(people))
                .order_by(ScreeningRecord.done_on, ScreeningRecord.created_at, ScreeningRecord.id)
            )
        ).scalars():
            latest[(record.contact_id, record.step_id)] = record

    if not reasons_only or True in kinds:
        for inspection in (
            await session.execute(
                select(CertificateInspection)
                .where(CertificateInspection.contact_id.in_(people))
                .order_by(
                    CertificateInspection.inspected_on,
                    CertificateInspection.issued_on,
                    CertificateInspection.id,
                )
            )
        ).scalars():
            people[inspection.contact_id].certificate = inspection

    for contact_id, person in people.items():
        applicable = [
            (step, name)
            for step, name in steps_of.get(contact_id, [])
            if set(step.applies_to) & set(person.contact.kinds)
        ]
        months = certificate_months(step for step, _ in steps_of.get(contact_id, []))
        if person.certificate is not None:
            person.certificate_due_on = vocab.add_months(person.certificate.issued_on, months)
        for step, name in applicable:
            person.steps.append(_state(person, step, name, latest.get((contact_id, step.id)), today))
    return people


def _state(
    person: PersonState, step: ScreeningStep, programme: str, record: ScreeningRecord | None, today: date
) -> StepState:
    if step.kind != "certificate":
        if record is None:
            return StepState(step, programme, "missing")
        return StepState(step, programme, "done" if record.outcome == "passed" else "failed", record=record)
    inspection = person.certificate
    if inspection is None or not inspection.seen:
        return StepState(step, programme, "missing", inspection=inspection)
    due = vocab.add_months(inspection.issued_on, step.valid_months or vocab.DEFAULT_CERTIFICATE_MONTHS)
    if inspection.has_relevant_entries:
        return StepState(step, programme, "blocked", inspection=inspection, due_on=due)
    if due <= today:
        return StepState(step, programme, "due", inspection=inspection, due_on=due)
    return StepState(step, programme, "done", inspection=inspection, due_on=due)


async def not_ready_reasons(
    session: AsyncSession,
    contact_ids: Iterable[uuid.UUID],
    *,
    locale: str = "de",
    today: date | None = None,
) -> dict[uuid.UUID, list[str]]:
    """For every contact id asked about: why the person may not be matched yet (``[]`` when ready).

    ``locale`` picks German (default) or English text. Runs inside the caller's organisation.
    """
    lang = vocab.language(locale)
    ids = list(dict.fromkeys(contact_ids))
    people = await evaluate(session, ids, today=today, reasons_only=True)
    return {
        cid: people[cid].reasons(lang) if cid in people else [vocab.reason("unknown", lang)] for cid in ids
    }


async def is_ready(session: AsyncSession, contact_id: uuid.UUID) -> bool:
    return not (await not_ready_reasons(session, [contact_id]))[contact_id]
