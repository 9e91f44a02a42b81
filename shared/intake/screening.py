"""The screening and preparation pipeline: steps per programme, records per person, certificate
inspections, a person's intake profile (form of address, intake status) and checklist."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from msgspec import UnsetType
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history
from shared.contacts import notes
from shared.contacts import service as contacts_service
from shared.contacts.models import Activity, Contact, Programme
from shared.contacts.schemas import ContactPatch
from shared.contacts.service import contact_name
from shared.db import current_org
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.intake import vocab
from shared.intake.models import CertificateInspection, IntakeProfile, ScreeningRecord, ScreeningStep
from shared.intake.readiness import PersonState, evaluate
from shared.intake.schemas import (
    CertificateIn,
    CertificateOut,
    ChecklistOut,
    ChecklistStep,
    ProfilePatch,
    RecordIn,
    RecordOut,
    StepIn,
    StepOut,
    StepPatch,
)

RECORD_FIELDS = ("step_id", "done_on", "done_by", "outcome", "note")
PROFILE_FIELDS = ("form_of_address", "protection_notes")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Who:
    """Who records something: a name for "by whom", the member if any, and whether they are an admin."""

    name: str
    membership_id: uuid.UUID | None = None
    is_admin: bool = False
    # § 72a SGB VIII: inspection results only for those who work with people (not viewers).
    sees_certificates: bool = True


# ---------------------------------------------------------------- helpers


def _label(value: str | None, field: str, fallback: str) -> str:
    cleaned = (value or "").strip() or fallback
    if len(cleaned) > 200:
        raise ValidationFailed("at most 200 characters", field=field)
    return cleaned


def _applies_to(values: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(values))
    if not cleaned or any(v not in vocab.APPLIES_TO for v in cleaned):
        raise ValidationFailed(
            "choose from %(applies_to)s", field="applies_to", applies_to=", ".join(vocab.APPLIES_TO)
        )
    return cleaned


def _months(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 240:
        raise ValidationFailed("between 1 and 240 months", field="valid_months")
    return value


def _name(value: str | None, field: str, who: Who) -> str:
    cleaned = (value or "").strip() or who.name
    if not cleaned:
        raise ValidationFailed("say who did it", field=field)
    if len(cleaned) > 200:
        raise ValidationFailed("at most 200 characters", field=field)
    return cleaned


def step_out(s: ScreeningStep) -> StepOut:
    return StepOut(
        s.id, s.programme_id, s.key, s.kind, s.label_de, s.label_en, s.required, list(s.applies_to),
        s.valid_months, s.position,
    )  # fmt: skip


def record_out(r: ScreeningRecord) -> RecordOut:
    return RecordOut(r.id, r.contact_id, r.step_id, r.done_on, r.done_by, r.outcome, r.note, r.created_at)


def certificate_out(c: CertificateInspection, reinspect_on: date | None) -> CertificateOut:
    return CertificateOut(
        c.id, c.contact_id, c.seen, c.issued_on, c.inspected_on, c.inspected_by, c.has_relevant_entries,
        reinspect_on,
    )  # fmt: skip


async def _contact(session: AsyncSession, contact_id: uuid.UUID, field: str | None = None) -> Contact:
    """A contact of this organisation; a body's id that is not one is a validation error, a path's a 404."""
    contact = (await session.execute(select(Contact).where(Contact.id == contact_id))).scalar_one_or_none()
    if contact is None or contact.erased_at is not None:
        if field:
            raise ValidationFailed("no such contact", field=field)
        raise NotFound("no such contact")
    return contact


async def _programme(session: AsyncSession, programme_id: uuid.UUID, field: str) -> Programme:
    found = (
        await session.execute(select(Programme).where(Programme.id == programme_id))
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed("no such programme", field=field)
    return found


# ---------------------------------------------------------------- steps


async def list_steps(session: AsyncSession, programme_id: uuid.UUID | None = None) -> list[StepOut]:
    query = select(ScreeningStep).order_by(
        ScreeningStep.programme_id, ScreeningStep.position, ScreeningStep.key
    )
    if programme_id is not None:
        query = query.where(ScreeningStep.programme_id == programme_id)
    return [step_out(s) for s in (await session.execute(query)).scalars()]


async def get_step(session: AsyncSession, step_id: uuid.UUID) -> ScreeningStep:
    step = (
        await session.execute(select(ScreeningStep).where(ScreeningStep.id == step_id))
    ).scalar_one_or_none()
    if step is None:
        raise NotFound("no such screening step")
    return step


async def create_step(session: AsyncSession, data: StepIn) -> StepOut:
    await _programme(session, data.programme_id, "programme_id")
    if data.kind not in vocab.STEP_KINDS:
        raise ValidationFailed(
            "kind must be one of %(step_kinds)s", field="kind", step_kinds=", ".join(vocab.STEP_KINDS)
        )
    key = (data.key or data.kind).strip()
    if not _KEY.match(key):
        raise ValidationFailed("a key is lower-case letters, digits and '_'", field="key")
    exists = (
        await session.execute(
            select(ScreeningStep.id).where(
                ScreeningStep.programme_id == data.programme_id, ScreeningStep.key == key
            )
        )
    ).first()
    if exists:
        raise Conflict("this programme has a step with this key already", field="key")
    if data.kind == "certificate":
        certificate = (
            await session.execute(
                select(ScreeningStep.id).where(
                    ScreeningStep.programme_id == data.programme_id, ScreeningStep.kind == "certificate"
                )
            )
        ).first()
        if certificate:
            raise Conflict("this programme asks for the certificate already", field="kind")
    de, en = vocab.step_label(data.kind, "de"), vocab.step_label(data.kind, "en")
    step = ScreeningStep(
        organization_id=current_org(session),
        programme_id=data.programme_id,
        key=key,
        kind=data.kind,
        label_de=_label(data.label_de, "label_de", de),
        label_en=_label(data.label_en, "label_en", en),
        required=data.required,
        applies_to=_applies_to(data.applies_to),
        valid_months=_months(data.valid_months)
        or (vocab.DEFAULT_CERTIFICATE_MONTHS if data.kind == "certificate" else None),
        position=data.position,
    )
    session.add(step)
    await session.flush()
    return step_out(step)


async def update_step(session: AsyncSession, step_id: uuid.UUID, data: StepPatch) -> StepOut:
    step = await get_step(session, step_id)
    if not isinstance(data.label_de, UnsetType):
        step.label_de = _label(data.label_de, "label_de", step.label_de)
    if not isinstance(data.label_en, UnsetType):
        step.label_en = _label(data.label_en, "label_en", step.label_en)
    if not isinstance(data.required, UnsetType):
        step.required = data.required
    if not isinstance(data.applies_to, UnsetType):
        step.applies_to = _applies_to(data.applies_to)
    if not isinstance(data.valid_months, UnsetType):
        step.valid_months = _months(data.valid_months)
    if not isinstance(data.position, UnsetType):
        step.position = data.position
    await session.flush()
    return step_out(step)


async def delete_step(session: AsyncSession, step_id: uuid.UUID) -> None:
    step = await get_step(session, step_id)
    await session.delete(step)
    await session.flush()


async def default_pipeline(session: AsyncSession, programme_id: uuid.UUID) -> list[StepOut]:
    """The usual preparation of a mentoring programme, for a programme without steps yet."""
    await _programme(session, programme_id, "programme_id")
    count = (
        await session.execute(
            select(func.count()).select_from(ScreeningStep).where(ScreeningStep.programme_id == programme_id)
        )
    ).scalar_one()
    if count:
        raise Conflict("this programme has its steps already", field="programme_id")
    made = []
    for position, (kind, applies) in enumerate(
        [
            ("interview", ["mentor", "mentee"]),
            ("seminar", ["mentor"]),
            ("certificate", ["mentor"]),
            ("references", ["mentor"]),
            ("agreement", ["mentor", "mentee"]),
        ]
    ):
        made.append(
            await create_step(
                session, StepIn(programme_id=programme_id, kind=kind, applies_to=applies, position=position)
            )
        )
    return made


# ---------------------------------------------------------------- records


async def add_record(session: AsyncSession, who: Who, data: RecordIn) -> RecordOut:
    await _contact(session, data.contact_id, "contact_id")
    step = (
        await session.execute(select(ScreeningStep).where(ScreeningStep.id == data.step_id))
    ).scalar_one_or_none()
    if step is None:
        raise ValidationFailed("no such screening step", field="step_id")
    if step.kind == "certificate":
        raise ValidationFailed(
            "record the certificate as an inspection (POST /screening/certificates)", field="step_id"
        )
    if data.outcome not in vocab.OUTCOMES:
        raise ValidationFailed(
            "outcome must be one of %(outcomes)s", field="outcome", outcomes=", ".join(vocab.OUTCOMES)
        )
    done_on = data.done_on or vocab.today()
    if done_on > vocab.today():
        raise ValidationFailed("cannot lie in the future", field="done_on")
    note = (data.note or "").strip() or None
    if note is not None and len(note) > 4000:
        raise ValidationFailed("at most 4000 characters", field="note")
    record = ScreeningRecord(
        organization_id=current_org(session),
        contact_id=data.contact_id,
        step_id=step.id,
        done_on=done_on,
        done_by=_name(data.done_by, "done_by", who),
        outcome=data.outcome,
        note=note,
        recorded_by_membership_id=who.membership_id,
    )
    session.add(record)
    await session.flush()
    await session.refresh(record)
    await history.record(
        session,
        "screening_record",
        record.id,
        "created",
        history.created({"step": step.label_de, **history.snapshot(record, RECORD_FIELDS)}),
        contact_ids=[record.contact_id],
    )
    if record.outcome == "passed":
        await promote_if_ready(session, who, data.contact_id, step.label_de)
    return record_out(record)


# Statuses from which completed preparation moves a person on to "ready" by itself; any other
# (matched, paused, declined, ...) was chosen by someone and stays.
PROMOTABLE = ("new", "interested", "screening")


async def promote_if_ready(session: AsyncSession, who: Who, contact_id: uuid.UUID, last_step: str) -> bool:
    """Once the last required step passed (and the certificate, where required, is inspected and
    valid), the person becomes ready for matching, with a timeline entry saying why. A coordinator
    may set the status back; it moves again only when another step passes."""
    person = (await evaluate(session, [contact_id])).get(contact_id)
    if person is None or person.contact.status not in PROMOTABLE:
        return False
    if not any(s.step.required for s in person.steps) or person.reasons("de"):
        return False
    await contacts_service.update_contact(session, contact_id, ContactPatch(status="ready"))
    session.add(
        Activity(
            organization_id=person.contact.organization_id,
            contact_id=contact_id,
            kind="note",
            occurred_at=datetime.now(UTC),
            author_membership_id=who.membership_id,
            author_name=who.name,
            body=notes.system_note(notes.READY_FOR_MATCHING, step=last_step),
        )
    )
    await session.flush()
    return True


async def list_records(session: AsyncSession, contact_id: uuid.UUID) -> list[RecordOut]:
    await _contact(session, contact_id, "contact_id")
    rows = await session.execute(
        select(ScreeningRecord)
        .where(ScreeningRecord.contact_id == contact_id)
        .order_by(ScreeningRecord.done_on.desc(), ScreeningRecord.created_at.desc())
    )
    return [record_out(r) for r in rows.scalars()]


async def delete_record(session: AsyncSession, record_id: uuid.UUID) -> None:
    record = (
        await session.execute(select(ScreeningRecord).where(ScreeningRecord.id == record_id))
    ).scalar_one_or_none()
    if record is None:
        raise NotFound("no such screening record")
    await history.record(
        session,
        "screening_record",
        record.id,
        "deleted",
        history.deleted(history.snapshot(record, RECORD_FIELDS)),
        contact_ids=[record.contact_id],
    )
    await session.delete(record)
    await session.flush()


# ---------------------------------------------------------------- certificates


async def record_certificate(session: AsyncSession, who: Who, data: CertificateIn) -> CertificateOut:
    await _contact(session, data.contact_id, "contact_id")
    today = vocab.today()
    inspected_on = data.inspected_on or today
    if inspected_on > today:
        raise ValidationFailed("cannot lie in the future", field="inspected_on")
    if data.issued_on > inspected_on:
        raise ValidationFailed("a certificate is issued before it is inspected", field="issued_on")
    if not data.seen:
        raise ValidationFailed(
            "only a certificate that was seen is recorded (the original, never a copy)", field="seen"
        )
    inspection = CertificateInspection(
        organization_id=current_org(session),
        contact_id=data.contact_id,
        seen=True,
        issued_on=data.issued_on,
        inspected_on=inspected_on,
        inspected_by=_name(data.inspected_by, "inspected_by", who),
        inspected_by_membership_id=who.membership_id,
        has_relevant_entries=data.has_relevant_entries,
    )
    session.add(inspection)
    await session.flush()
    fields = ("seen", "issued_on", "inspected_on", "inspected_by", "has_relevant_entries")
    await history.record(
        session,
        "certificate",
        inspection.id,
        "created",
        history.created(history.snapshot(inspection, fields)),
        contact_ids=[inspection.contact_id],
    )
    if not inspection.has_relevant_entries:
        await promote_if_ready(session, who, data.contact_id, vocab.step_label("certificate", "de"))
    people = await evaluate(session, [data.contact_id])
    return certificate_out(inspection, people[data.contact_id].certificate_due_on)


async def list_certificates(session: AsyncSession, contact_id: uuid.UUID) -> list[CertificateOut]:
    await _contact(session, contact_id, "contact_id")
    people = await evaluate(session, [contact_id])
    due = people[contact_id].certificate_due_on
    latest = people[contact_id].certificate
    rows = await session.execute(
        select(CertificateInspection)
        .where(CertificateInspection.contact_id == contact_id)
        .order_by(CertificateInspection.inspected_on.desc(), CertificateInspection.id.desc())
    )
    return [certificate_out(c, due if latest and c.id == latest.id else None) for c in rows.scalars()]


# ---------------------------------------------------------------- profile and checklist


async def profile_of(
    session: AsyncSession, contact_id: uuid.UUID, *, create: bool = False
) -> IntakeProfile | None:
    profile = (
        await session.execute(select(IntakeProfile).where(IntakeProfile.contact_id == contact_id))
    ).scalar_one_or_none()
    if profile is None and create:
        profile = IntakeProfile(
            organization_id=current_org(session), contact_id=contact_id, form_of_address="sie"
        )
        session.add(profile)
        await session.flush()
    return profile


async def forms_of_address(session: AsyncSession, contact_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """ "du" or "sie" for each contact; "sie" where nothing was chosen (the polite default)."""
    rows = await session.execute(
        select(IntakeProfile.contact_id, IntakeProfile.form_of_address).where(
            IntakeProfile.contact_id.in_(contact_ids)
        )
    )
    chosen = {cid: address for cid, address in rows}
    return {cid: chosen.get(cid, "sie") for cid in contact_ids}


async def update_profile(
    session: AsyncSession, who: Who, contact_id: uuid.UUID, data: ProfilePatch
) -> ChecklistOut:
    await _contact(session, contact_id)
    profile = await profile_of(session, contact_id, create=True)
    assert profile is not None
    before = history.snapshot(profile, PROFILE_FIELDS)
    if not isinstance(data.form_of_address, UnsetType):
        if data.form_of_address not in vocab.FORMS_OF_ADDRESS:
            raise ValidationFailed("either du or sie", field="form_of_address")
        profile.form_of_address = data.form_of_address
    if not isinstance(data.intake_status, UnsetType):
        if data.intake_status is not None and data.intake_status not in vocab.INTAKE_STATUSES:
            raise ValidationFailed(
                "intake_status must be null or one of %(intake_statuses)s",
                field="intake_status",
                intake_statuses=", ".join(vocab.INTAKE_STATUSES),
            )
        contact = await _contact(session, contact_id)
        current = contact.status if contact.status in vocab.INTAKE_STATUSES else None
        if data.intake_status != current:
            touches_protection = vocab.INTAKE_STATUSES[1] in (data.intake_status, current)
            if touches_protection and not who.is_admin:
                raise ValidationFailed("only admins decide on child protection", field="intake_status")
            reason = data.status_reason
            if isinstance(reason, UnsetType) and isinstance(data.protection_notes, str):
                reason = data.protection_notes
            await contacts_service.update_contact(
                session,
                contact_id,
                ContactPatch(status=data.intake_status or "interested", status_reason=reason),
                admin=who.is_admin,
                actor_label=who.name,
            )
    if not isinstance(data.protection_notes, UnsetType):
        if not who.is_admin:
            raise ValidationFailed("only admins keep child-protection notes", field="protection_notes")
        notes = (data.protection_notes or "").strip() or None
        if notes is not None and len(notes) > 8000:
            raise ValidationFailed("at most 8000 characters", field="protection_notes")
        profile.protection_notes = notes
    profile.updated_at = datetime.now(UTC)
    await session.flush()
    await history.record(
        session,
        "intake_profile",
        profile.id,
        "changed",
        history.diff(before, history.snapshot(profile, PROFILE_FIELDS)),
        contact_ids=[contact_id],
    )
    return await checklist(session, who, contact_id)


def _checklist(person: PersonState, who: Who) -> ChecklistOut:
    steps = []
    for s in person.steps:
        record = s.record
        steps.append(
            ChecklistStep(
                step_id=s.step.id,
                programme_id=s.step.programme_id,
                programme=s.programme_name,
                key=s.step.key,
                kind=s.step.kind,
                label_de=s.step.label_de,
                label_en=s.step.label_en,
                required=s.step.required,
                state=s.state,
                done_on=record.done_on if record else (s.inspection.inspected_on if s.inspection else None),
                done_by=record.done_by if record else (s.inspection.inspected_by if s.inspection else None),
                outcome=record.outcome if record else None,
                note=record.note if record else None,
                due_on=s.due_on,
            )
        )
    reasons = person.reasons("de")
    profile = person.profile
    return ChecklistOut(
        contact_id=person.contact.id,
        name=contact_name(person.contact),
        kinds=list(person.contact.kinds),
        ready=not reasons,
        reasons=reasons,
        reasons_en=person.reasons("en"),
        form_of_address=profile.form_of_address if profile else "sie",
        intake_status=person.contact.status if person.contact.status in vocab.INTAKE_STATUSES else None,
        steps=steps,
        certificate=(
            certificate_out(person.certificate, person.certificate_due_on)
            if person.certificate and who.sees_certificates
            else None
        ),
        protection_notes=profile.protection_notes if profile and who.is_admin else None,
    )


async def checklist(session: AsyncSession, who: Who, contact_id: uuid.UUID) -> ChecklistOut:
    await _contact(session, contact_id)
    people = await evaluate(session, [contact_id])
    return _checklist(people[contact_id], who)
