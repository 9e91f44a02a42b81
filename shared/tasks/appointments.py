"""Appointments: a time span in a time zone (stored in UTC), a place or video link,
participants, confirmation and cancellation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from msgspec import UnsetType
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.contacts.models import Contact
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import new_id
from shared.models import Membership
from shared.tasks import contact_mail, hooks, recurrence
from shared.tasks.models import Appointment, AppointmentParticipant
from shared.tasks.schemas import AppointmentCreate, AppointmentOut, AppointmentPatch
from shared.tasks.tasks import require_match

MAX_LENGTH = timedelta(days=14)
MAX_PARTICIPANTS = 100


async def _introduce(session: AsyncSession, actor: Actor, a: Appointment, now: datetime) -> None:
    """A confirmed introduction meeting moves its proposed match on: matching decides how (in this
    transaction, so both happen or neither)."""
    assert a.match_id is not None
    event = hooks.IntroductionConfirmed(
        match_id=a.match_id,
        met_on=a.starts_at.astimezone(recurrence.zone(a.timezone)).date(),
        today=recurrence.local_now(now, a.timezone).date(),
        actor=actor,
    )
    await hooks.introduction_confirmed(session, event)


def to_utc_instant(value: datetime, tz: str, field: str) -> datetime:
    """An instant from a time with an offset, or from a wall-clock time in ``tz``."""
    if value.tzinfo is None:
        return recurrence.to_utc(value, tz)
    if value.utcoffset() is None:
        raise ValidationFailed("a time needs a valid offset", field=field)
    return value.astimezone(UTC)


def _local(value: datetime, tz: str) -> str:
    return value.astimezone(recurrence.zone(tz)).isoformat()


def _text(value: str, field: str, limit: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise ValidationFailed("%(field_name)s must not be empty", field=field, field_name=field)
    if len(value) > limit:
        raise ValidationFailed(
            "%(field_name)s may be at most %(limit)s characters", field=field, field_name=field, limit=limit
        )
    return value


def _video(value: str) -> str:
    value = _text(value, "video_url", 500)
    if value and not value.startswith(("https://", "http://")):
        raise ValidationFailed("the video link must be an http(s) address", field="video_url")
    return value


def _check_span(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValidationFailed("an appointment ends after it starts", field="ends_at")
    if ends_at - starts_at > MAX_LENGTH:
        raise ValidationFailed("an appointment lasts at most 14 days", field="ends_at")


def _reminder(minutes: int) -> int:
    if not 0 <= minutes <= 7 * 24 * 60:
        raise ValidationFailed("reminder_minutes is between 0 and 10080", field="reminder_minutes")
    return minutes


async def _check_members(session: AsyncSession, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_PARTICIPANTS:
        raise ValidationFailed(
            "at most %(max_participants)s participants", field="member_ids", max_participants=MAX_PARTICIPANTS
        )
    if unique:
        found = set((await session.execute(select(Membership.id).where(Membership.id.in_(unique)))).scalars())
        if missing := [str(i) for i in unique if i not in found]:
            raise ValidationFailed(
                "no such member: %(missing)s", field="member_ids", missing=", ".join(missing)
            )
    return unique


@dataclass
class People:
    members: list[uuid.UUID] = field(default_factory=list)
    contacts: list[uuid.UUID] = field(default_factory=list)


async def _people_of(session: AsyncSession, appointment_ids: list[uuid.UUID]) -> dict[uuid.UUID, People]:
    result: dict[uuid.UUID, People] = {i: People() for i in appointment_ids}
    if not appointment_ids:
        return result
    rows = await session.execute(
        select(
            AppointmentParticipant.appointment_id,
            AppointmentParticipant.membership_id,
            AppointmentParticipant.contact_id,
        )
        .where(AppointmentParticipant.appointment_id.in_(appointment_ids))
        .order_by(AppointmentParticipant.id)
    )
    for appointment_id, membership_id, contact_id in rows:
        if membership_id is not None:
            result[appointment_id].members.append(membership_id)
        if contact_id is not None:
            result[appointment_id].contacts.append(contact_id)
    return result


def appointment_out(a: Appointment, people: People) -> AppointmentOut:
    return AppointmentOut(
        id=a.id,
        title=a.title,
        description=a.description,
        kind=a.kind,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        timezone=a.timezone,
        local_start=_local(a.starts_at, a.timezone),
        local_end=_local(a.ends_at, a.timezone),
        location=a.location,
        video_url=a.video_url,
        status=a.status,
        member_ids=people.members,
        contact_ids=people.contacts,
        match_id=a.match_id,
        organizer_id=a.organizer_membership_id,
        reminder_minutes=a.reminder_minutes,
        sequence=a.sequence,
        confirmed_at=a.confirmed_at,
        cancelled_at=a.cancelled_at,
        cancel_reason=a.cancel_reason,
    )


async def get(session: AsyncSession, appointment_id: uuid.UUID, *, lock: bool = False) -> Appointment:
    query = select(Appointment).where(Appointment.id == appointment_id)
    if lock:
        query = query.with_for_update()
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound("no such appointment")
    return found


async def get_out(session: AsyncSession, appointment_id: uuid.UUID) -> AppointmentOut:
    a = await get(session, appointment_id)
    return appointment_out(a, (await _people_of(session, [a.id]))[a.id])


async def _check_contacts(session: AsyncSession, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_PARTICIPANTS:
        raise ValidationFailed(
            "at most %(max_participants)s participants",
            field="contact_ids",
            max_participants=MAX_PARTICIPANTS,
        )
    if unique:
        found = set(
            (
                await session.execute(
                    select(Contact.id).where(Contact.id.in_(unique), Contact.erased_at.is_(None))
                )
            ).scalars()
        )
        if missing := [str(i) for i in unique if i not in found]:
            raise ValidationFailed(
                "no such contact: %(missing)s", field="contact_ids", missing=", ".join(missing)
            )
    return unique


async def _set_contacts(session: AsyncSession, a: Appointment, contact_ids: list[uuid.UUID]) -> None:
    # Those who stay keep their row (and with it the record of their reminder).
    await session.execute(
        delete(AppointmentParticipant).where(
            AppointmentParticipant.appointment_id == a.id,
            AppointmentParticipant.contact_id.is_not(None),
            AppointmentParticipant.contact_id.not_in(contact_ids),
        )
    )
    present = set(await contact_mail.contacts_of(session, a.id))
    for contact_id in [c for c in contact_ids if c not in present]:
        session.add(
            AppointmentParticipant(
                organization_id=a.organization_id, id=new_id(), appointment_id=a.id, contact_id=contact_id
            )
        )


async def _set_members(session: AsyncSession, a: Appointment, member_ids: list[uuid.UUID]) -> None:
    await session.execute(
        delete(AppointmentParticipant).where(
            AppointmentParticipant.appointment_id == a.id, AppointmentParticipant.membership_id.is_not(None)
        )
    )
    for member_id in member_ids:
        session.add(
            AppointmentParticipant(
                organization_id=a.organization_id, id=new_id(), appointment_id=a.id, membership_id=member_id
            )
        )


async def create(session: AsyncSession, actor: Actor, data: AppointmentCreate) -> AppointmentOut:
    recurrence.zone(data.timezone)
    starts_at = to_utc_instant(data.starts_at, data.timezone, "starts_at")
    ends_at = to_utc_instant(data.ends_at, data.timezone, "ends_at")
    _check_span(starts_at, ends_at)
    members = list(data.member_ids)
    if actor.membership_id is not None and actor.membership_id not in members:
        members.insert(0, actor.membership_id)
    members = await _check_members(session, members)
    contacts = await _check_contacts(session, data.contact_ids)
    if data.match_id is not None:
        await require_match(session, data.match_id)
    if data.kind == "introduction" and data.match_id is None:
        raise ValidationFailed("an introduction belongs to a match", field="match_id")
    minutes = _reminder(data.reminder_minutes)
    a = Appointment(
        organization_id=actor.organization_id,
        id=new_id(),
        title=_text(data.title, "title", 300, required=True),
        description=_text(data.description, "description", 20_000),
        kind=data.kind,
        match_id=data.match_id,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=data.timezone,
        location=_text(data.location, "location", 300),
        video_url=_video(data.video_url),
        status="planned",
        reminder_minutes=minutes,
        remind_at=starts_at - timedelta(minutes=minutes),
        sequence=0,
        organizer_membership_id=actor.membership_id,
        cancel_reason="",
    )
    session.add(a)
    await session.flush()
    await _set_members(session, a, members)
    await _set_contacts(session, a, contacts)
    await session.flush()
    await session.refresh(a)
    await contact_mail.send(session, a, contacts, "invitation")
    return appointment_out(a, People(members=members, contacts=contacts))


async def update(
    session: AsyncSession, appointment_id: uuid.UUID, patch: AppointmentPatch, now: datetime
) -> AppointmentOut:
    a = await get(session, appointment_id, lock=True)
    if a.status == "cancelled":
        raise Conflict("a cancelled appointment cannot be changed", field="status")
    before = (a.starts_at, a.ends_at, a.title, a.location, a.video_url)
    contacts_before = await contact_mail.contacts_of(session, a.id)
    tz = a.timezone if isinstance(patch.timezone, UnsetType) else patch.timezone
    recurrence.zone(tz)
    a.timezone = tz
    if not isinstance(patch.starts_at, UnsetType):
        a.starts_at = to_utc_instant(patch.starts_at, tz, "starts_at")
    if not isinstance(patch.ends_at, UnsetType):
        a.ends_at = to_utc_instant(patch.ends_at, tz, "ends_at")
    _check_span(a.starts_at, a.ends_at)
    if not isinstance(patch.title, UnsetType):
        a.title = _text(patch.title, "title", 300, required=True)
    if not isinstance(patch.description, UnsetType):
        a.description = _text(patch.description, "description", 20_000)
    if not isinstance(patch.location, UnsetType):
        a.location = _text(patch.location, "location", 300)
    if not isinstance(patch.video_url, UnsetType):
        a.video_url = _video(patch.video_url)
    if not isinstance(patch.reminder_minutes, UnsetType):
        a.reminder_minutes = _reminder(patch.reminder_minutes)
    if not isinstance(patch.match_id, UnsetType) and patch.match_id != a.match_id:
        if patch.match_id is not None:
            await require_match(session, patch.match_id)
        elif a.kind == "introduction":
            raise ValidationFailed("an introduction belongs to a match", field="match_id")
        a.match_id = patch.match_id
    remind_at = a.starts_at - timedelta(minutes=a.reminder_minutes)
    if remind_at != a.remind_at:
        a.remind_at, a.reminded_at = remind_at, None
    if not isinstance(patch.member_ids, UnsetType):
        await _set_members(session, a, await _check_members(session, patch.member_ids))
        a.reminded_at = None  # new participants; the ledger keeps the others from a second one
    contacts_after = contacts_before
    if not isinstance(patch.contact_ids, UnsetType):
        contacts_after = await _check_contacts(session, patch.contact_ids)
        await _set_contacts(session, a, contacts_after)
    a.sequence += 1
    a.updated_at = now
    await session.flush()
    await _tell_contacts(session, a, before, contacts_before, contacts_after, now)
    return await get_out(session, a.id)


async def _tell_contacts(
    session: AsyncSession,
    a: Appointment,
    before: tuple[object, ...],
    contacts_before: list[uuid.UUID],
    contacts_after: list[uuid.UUID],
    now: datetime,
) -> None:
    """Newcomers get an invitation, those taken off a cancellation, the others an update if
    anything they would see changed (time, title, place)."""
    moved = before != (a.starts_at, a.ends_at, a.title, a.location, a.video_url)
    stayed = [c for c in contacts_after if c in contacts_before]
    added = [c for c in contacts_after if c not in contacts_before]
    await contact_mail.send(session, a, added, "invitation", now)
    removed = [c for c in contacts_before if c not in contacts_after]
    await contact_mail.send(session, a, removed, "cancellation", now)
    if moved:
        await contact_mail.send(session, a, stayed, "update", now)


async def confirm(
    session: AsyncSession, actor: Actor, appointment_id: uuid.UUID, now: datetime
) -> AppointmentOut:
    a = await get(session, appointment_id, lock=True)
    if a.status == "cancelled":
        raise Conflict("a cancelled appointment cannot be confirmed", field="status")
    if a.status != "confirmed":
        a.status = "confirmed"
        a.confirmed_at = now
        a.sequence += 1
        a.updated_at = now
        if a.kind == "introduction" and a.match_id is not None:
            await _introduce(session, actor, a, now)
        await session.flush()
    return await get_out(session, a.id)


async def cancel(
    session: AsyncSession, appointment_id: uuid.UUID, reason: str, now: datetime
) -> AppointmentOut:
    a = await get(session, appointment_id, lock=True)
    if a.status != "cancelled":
        a.status = "cancelled"
        a.cancelled_at = now
        a.cancel_reason = _text(reason, "reason", 2000)
        a.sequence += 1
        a.updated_at = now
        await session.flush()
        contacts = await contact_mail.contacts_of(session, a.id)
        await contact_mail.send(session, a, contacts, "cancellation", now)
    return await get_out(session, a.id)


async def list_between(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    member_id: uuid.UUID | None = None,
    include_cancelled: bool = False,
    limit: int = 500,
) -> list[AppointmentOut]:
    """Appointments overlapping [start, end), by start time; with a member, only theirs."""
    if end <= start:
        raise ValidationFailed("the range must end after it starts", field="to")
    query = (
        select(Appointment)
        .where(Appointment.starts_at < end, Appointment.ends_at > start)
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(limit)
    )
    if not include_cancelled:
        query = query.where(Appointment.status != "cancelled")
    if member_id is not None:
        mine = select(AppointmentParticipant.appointment_id).where(
            AppointmentParticipant.membership_id == member_id
        )
        query = query.where(or_(Appointment.id.in_(mine), Appointment.organizer_membership_id == member_id))
    rows = list((await session.execute(query)).scalars())
    people = await _people_of(session, [a.id for a in rows])
    return [appointment_out(a, people[a.id]) for a in rows]
