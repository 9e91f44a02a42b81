"""Events (workshops, regulars' meetings, outings, trainings): invitations and attendance."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from msgspec import UnsetType
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import outbox
from shared.contacts.models import Contact, Programme
from shared.contacts.service import ContactQuery, contact_name, filtered_select
from shared.db import current_org
from shared.errors import NotFound, ValidationFailed
from shared.intake import mail, vocab
from shared.intake.models import EventAttendee, IntakeEvent
from shared.intake.schemas import (
    AttendanceIn,
    AttendeeOut,
    Candidate,
    Counts,
    EventIn,
    EventOut,
    EventPatch,
    InviteIn,
    InviteOut,
    KindSummary,
    PersonAttendance,
    PersonEvent,
)
from shared.intake.screening import forms_of_address
from shared.models import Organization

MAX_INVITE = 500


class EventDetail(EventOut):
    attendees: list[AttendeeOut] = []


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise ValidationFailed("cannot be empty", field=field)
    if len(cleaned) > limit:
        raise ValidationFailed("at most %(limit)s characters", field=field, limit=limit)
    return cleaned or None


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed("give the time with its offset (e.g. 2026-12-03T18:00:00+01:00)", field=field)
    return value


async def _check_programme(session: AsyncSession, programme_id: uuid.UUID | None) -> None:
    if programme_id is None:
        return
    if (await session.execute(select(Programme.id).where(Programme.id == programme_id))).first() is None:
        raise ValidationFailed("no such programme", field="programme_id")


def _check_kind(kind: str) -> str:
    if kind not in vocab.EVENT_KINDS:
        raise ValidationFailed(
            "kind must be one of %(event_kinds)s", field="kind", event_kinds=", ".join(vocab.EVENT_KINDS)
        )
    return kind


def _check_span(event: IntakeEvent) -> None:
    if event.ends_at is not None and event.ends_at < event.starts_at:
        raise ValidationFailed("an event ends after it starts", field="ends_at")


async def _counts(session: AsyncSession, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, Counts]:
    counts = {eid: Counts() for eid in event_ids}
    rows = await session.execute(
        select(EventAttendee.event_id, EventAttendee.status, func.count())
        .where(EventAttendee.event_id.in_(event_ids))
        .group_by(EventAttendee.event_id, EventAttendee.status)
    )
    for event_id, status, n in rows:
        setattr(counts[event_id], status, n)
        counts[event_id].total += n
    return counts


def _out(e: IntakeEvent, counts: Counts) -> EventOut:
    return EventOut(
        e.id, e.kind, e.title, e.starts_at, e.ends_at, e.location, e.description, e.programme_id, counts
    )


async def get_event(session: AsyncSession, event_id: uuid.UUID) -> IntakeEvent:
    event = (
        await session.execute(select(IntakeEvent).where(IntakeEvent.id == event_id))
    ).scalar_one_or_none()
    if event is None:
        raise NotFound("no such event")
    return event


async def list_events(
    session: AsyncSession, *, after: datetime | None = None, before: datetime | None = None
) -> list[EventOut]:
    query = select(IntakeEvent).order_by(IntakeEvent.starts_at, IntakeEvent.id).limit(500)
    if after is not None:
        query = query.where(IntakeEvent.starts_at >= after)
    if before is not None:
        query = query.where(IntakeEvent.starts_at < before)
    events = list((await session.execute(query)).scalars())
    counts = await _counts(session, [e.id for e in events])
    return [_out(e, counts[e.id]) for e in events]


async def create_event(session: AsyncSession, data: EventIn) -> EventOut:
    await _check_programme(session, data.programme_id)
    event = IntakeEvent(
        organization_id=current_org(session),
        kind=_check_kind(data.kind),
        title=_text(data.title, "title", 200, required=True),
        starts_at=_aware(data.starts_at, "starts_at"),
        ends_at=_aware(data.ends_at, "ends_at") if data.ends_at else None,
        location=_text(data.location, "location", 300),
        description=_text(data.description, "description", 8000),
        programme_id=data.programme_id,
    )
    _check_span(event)
    session.add(event)
    await session.flush()
    return _out(event, Counts())


async def update_event(session: AsyncSession, event_id: uuid.UUID, data: EventPatch) -> EventDetail:
    event = await get_event(session, event_id)
    if not isinstance(data.kind, UnsetType):
        event.kind = _check_kind(data.kind)
    if not isinstance(data.title, UnsetType):
        event.title = _text(data.title, "title", 200, required=True) or ""
    if not isinstance(data.starts_at, UnsetType):
        event.starts_at = _aware(data.starts_at, "starts_at")
    if not isinstance(data.ends_at, UnsetType):
        event.ends_at = _aware(data.ends_at, "ends_at") if data.ends_at else None
    if not isinstance(data.location, UnsetType):
        event.location = _text(data.location, "location", 300)
    if not isinstance(data.description, UnsetType):
        event.description = _text(data.description, "description", 8000)
    if not isinstance(data.programme_id, UnsetType):
        await _check_programme(session, data.programme_id)
        event.programme_id = data.programme_id
    _check_span(event)
    await session.flush()
    return await event_detail(session, event_id)


async def delete_event(session: AsyncSession, event_id: uuid.UUID) -> None:
    await session.delete(await get_event(session, event_id))
    await session.flush()


async def event_detail(session: AsyncSession, event_id: uuid.UUID) -> EventDetail:
    event = await get_event(session, event_id)
    counts = (await _counts(session, [event.id]))[event.id]
    rows = await session.execute(
        select(EventAttendee, Contact)
        .join(Contact, Contact.id == EventAttendee.contact_id)
        .where(EventAttendee.event_id == event.id)
        .order_by(Contact.sort_name, Contact.id)
    )
    attendees = [
        AttendeeOut(a.contact_id, contact_name(c), a.status, a.invited_at, bool(c.email)) for a, c in rows
    ]
    base = _out(event, counts)
    return EventDetail(**{f: getattr(base, f) for f in base.__struct_fields__}, attendees=attendees)


def _lang(contact: Contact) -> str:
    languages = set(contact.languages or [])
    return "en" if "de" not in languages and "en" in languages else "de"


async def invite(session: AsyncSession, event_id: uuid.UUID, data: InviteIn) -> InviteOut:
    """Add people to an event and write each an invitation (du/Sie, German/English) to the outbox."""
    event = await get_event(session, event_id)
    ids = list(dict.fromkeys(data.contact_ids))
    if not ids:
        raise ValidationFailed("choose at least one person", field="contact_ids")
    if len(ids) > MAX_INVITE:
        raise ValidationFailed(
            "at most %(max_invite)s people at once", field="contact_ids", max_invite=MAX_INVITE
        )
    contacts = {
        c.id: c
        for c in (
            await session.execute(select(Contact).where(Contact.id.in_(ids), Contact.erased_at.is_(None)))
        ).scalars()
    }
    unknown = [i for i in ids if i not in contacts]
    if unknown:
        raise ValidationFailed("no such contact: %(unknown)s", field="contact_ids", unknown=unknown[0])
    present = set(
        (
            await session.execute(
                select(EventAttendee.contact_id).where(
                    EventAttendee.event_id == event.id, EventAttendee.contact_id.in_(ids)
                )
            )
        ).scalars()
    )
    org = await session.get(Organization, event.organization_id)
    org_name = org.name if org else ""
    addresses = await forms_of_address(session, ids)
    now = datetime.now(UTC)
    result = InviteOut([], [], [])
    for cid in ids:
        contact = contacts[cid]
        if cid in present:
            result.already_invited.append(cid)
            continue
        session.add(
            EventAttendee(
                organization_id=event.organization_id, event_id=event.id, contact_id=cid, status="invited",
                invited_at=now,
            )
        )  # fmt: skip
        if not contact.email:
            result.without_email.append(cid)
            continue
        lang = _lang(contact)
        where = f" ({event.location})" if event.location else ""
        if lang == "de" and event.location:
            where = f" in {event.location}"
        elif event.location:
            where = f" at {event.location}"
        text = mail.letter(
            "invitation",
            lang=lang,
            form_of_address=addresses[cid],
            first_name=contact.preferred_name or contact.first_name,
            last_name=contact.last_name,
            org=org_name,
            title=event.title,
            when=mail.when_text(event.starts_at, lang),
            where=where,
            description=f"{event.description}\n\n" if event.description else "",
        )
        await outbox.enqueue(
            session, event.organization_id, kind="event_invitation", to=contact.email, subject=text.subject,
            body_text=text.body,
        )  # fmt: skip
        result.invited.append(cid)
    await session.flush()
    return result


async def invitable(session: AsyncSession, event_id: uuid.UUID, limit: int = 500) -> list[Candidate]:
    """People not yet on the event's list, by name."""
    event = await get_event(session, event_id)
    listed = select(EventAttendee.contact_id).where(EventAttendee.event_id == event.id)
    rows = await session.execute(
        select(Contact)
        .where(Contact.erased_at.is_(None), Contact.id.not_in(listed))
        .order_by(Contact.sort_name, Contact.id)
        .limit(limit)
    )
    return [Candidate(c.id, contact_name(c), bool(c.email)) for c in rows.scalars()]


class Found(msgspec.Struct):
    """People a filter finds for an event: the first ``limit`` by name, and how many in all."""

    items: list[Candidate]
    listed: set[uuid.UUID]
    total: int
    # Of ``total``, how many are not on the list yet: whom "invite everyone found" would invite.
    new: int = 0


async def find_invitable(
    session: AsyncSession, event_id: uuid.UUID, query: ContactQuery, limit: int = 50
) -> Found:
    """The contact list's search and filters, for picking whom to invite; says who is listed already."""
    event = await get_event(session, event_id)
    stmt = await filtered_select(session, query)
    total = int((await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())
    rows = (await session.execute(stmt.order_by(Contact.sort_name, Contact.id).limit(limit))).scalars().all()
    listed = set(
        (
            await session.execute(
                select(EventAttendee.contact_id).where(
                    EventAttendee.event_id == event.id, EventAttendee.contact_id.in_([c.id for c in rows])
                )
            )
        ).scalars()
    )
    on_list = select(EventAttendee.contact_id).where(EventAttendee.event_id == event.id)
    fresh = stmt.where(Contact.id.not_in(on_list)).subquery()
    new = int((await session.execute(select(func.count()).select_from(fresh))).scalar_one())
    return Found([Candidate(c.id, contact_name(c), bool(c.email)) for c in rows], listed, total, new)


async def invite_matching(session: AsyncSession, event_id: uuid.UUID, query: ContactQuery) -> InviteOut:
    """Invite everyone a filter finds (by programme, kind, status, search) who is not listed yet."""
    event = await get_event(session, event_id)
    listed = select(EventAttendee.contact_id).where(EventAttendee.event_id == event.id)
    stmt = (await filtered_select(session, query)).where(Contact.id.not_in(listed))
    ids = list(
        (
            await session.execute(
                stmt.with_only_columns(Contact.id)
                .order_by(Contact.sort_name, Contact.id)
                .limit(MAX_INVITE + 1)
            )
        ).scalars()
    )
    if not ids:
        raise ValidationFailed("nobody found who is not invited yet", field="contact_ids")
    return await invite(session, event_id, InviteIn(ids))


async def set_attendance(session: AsyncSession, event_id: uuid.UUID, data: AttendanceIn) -> EventDetail:
    """Confirmed, present or absent, for people already on the event's list; all or nothing."""
    event = await get_event(session, event_id)
    if not data.items:
        raise ValidationFailed("say whose attendance changes", field="items")
    rows = {
        a.contact_id: a
        for a in (
            await session.execute(
                select(EventAttendee).where(
                    EventAttendee.event_id == event.id,
                    EventAttendee.contact_id.in_([i.contact_id for i in data.items]),
                )
            )
        ).scalars()
    }
    now = datetime.now(UTC)
    for n, item in enumerate(data.items):
        if item.status not in vocab.ATTENDANCE:
            raise ValidationFailed(
                "status must be one of %(attendance)s",
                field=f"items[{n}].status",
                attendance=", ".join(vocab.ATTENDANCE),
            )
        row = rows.get(item.contact_id)
        if row is None:
            raise ValidationFailed("this person is not on the event's list", field=f"items[{n}].contact_id")
        row.status = item.status
        row.updated_at = now
    await session.flush()
    return await event_detail(session, event_id)


async def remove_attendee(session: AsyncSession, event_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    event = await get_event(session, event_id)
    row = (
        await session.execute(
            select(EventAttendee).where(
                EventAttendee.event_id == event.id, EventAttendee.contact_id == contact_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("this person is not on the event's list")
    await session.delete(row)
    await session.flush()


async def summary(
    session: AsyncSession, *, after: datetime | None = None, before: datetime | None = None
) -> list[KindSummary]:
    """Events and attendance per kind in a period: the figures reports build on."""
    conditions = []
    if after is not None:
        conditions.append(IntakeEvent.starts_at >= after)
    if before is not None:
        conditions.append(IntakeEvent.starts_at < before)
    totals = {kind: KindSummary(kind, 0, Counts()) for kind in vocab.EVENT_KINDS}
    for kind, n in await session.execute(
        select(IntakeEvent.kind, func.count()).where(*conditions).group_by(IntakeEvent.kind)
    ):
        totals[kind].events = n
    rows = await session.execute(
        select(IntakeEvent.kind, EventAttendee.status, func.count())
        .join(EventAttendee, EventAttendee.event_id == IntakeEvent.id)
        .where(*conditions)
        .group_by(IntakeEvent.kind, EventAttendee.status)
    )
    for kind, status, n in rows:
        setattr(totals[kind].counts, status, n)
        totals[kind].counts.total += n
    return list(totals.values())


async def person_attendance(session: AsyncSession, contact_id: uuid.UUID) -> PersonAttendance:
    """How often a person was invited, confirmed, came or stayed away, and to what."""
    found = (await session.execute(select(Contact.id).where(Contact.id == contact_id))).first()
    if found is None:
        raise NotFound("no such contact")
    rows = await session.execute(
        select(IntakeEvent, EventAttendee.status)
        .join(EventAttendee, EventAttendee.event_id == IntakeEvent.id)
        .where(EventAttendee.contact_id == contact_id)
        .order_by(IntakeEvent.starts_at.desc())
    )
    counts = Counts()
    events = []
    for event, status in rows:
        setattr(counts, status, getattr(counts, status) + 1)
        counts.total += 1
        events.append(PersonEvent(event.id, event.title, event.kind, event.starts_at, status))
    return PersonAttendance(contact_id, counts, events)
