"""The private iCalendar feed of a member, and .ics invitations of appointments.

A feed URL carries ``<organisation id>.<secret>``: the organisation id lets the feed be read
inside that organisation's row-level security scope (no cross-organisation lookup), the
secret carries 256 bits of randomness and only its SHA-256 is stored. Rotating revokes the
old URL; an unknown, revoked or malformed one looks exactly alike (not found).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n
from shared.errors import NotFound
from shared.i18n import N_
from shared.ids import new_id
from shared.models import Membership, User
from shared.tasks.models import Appointment, AppointmentParticipant, CalendarFeed, Task
from shared.tasks.schemas import FeedOut

PRODID = "-//codo//Tasks and appointments//EN"
PAST = timedelta(days=90)
FUTURE = timedelta(days=400)
MAX_ITEMS = 2000
TIMED_TASK_LENGTH = timedelta(minutes=15)
TASK_SUMMARY = N_("Task: %(title)s")


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def feed_path(token: str) -> str:
    return f"/calendar/{token}.ics"


def parse_token(raw: str) -> tuple[uuid.UUID, str]:
    """(organisation id, whole token) of a feed token; NotFound for anything malformed."""
    token = raw.removesuffix(".ics")
    org_hex, dot, secret = token.partition(".")
    if not dot or len(org_hex) != 32 or len(secret) < 32:
        raise NotFound("no such calendar")
    try:
        return uuid.UUID(hex=org_hex), token
    except ValueError:
        raise NotFound("no such calendar") from None


async def create_or_rotate(
    session: AsyncSession,
    org_id: uuid.UUID,
    member_id: uuid.UUID,
    public_url: str,
    now: datetime | None = None,
) -> FeedOut:
    now = now or datetime.now(UTC)
    await session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.membership_id == member_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token = f"{org_id.hex}.{secrets.token_urlsafe(32)}"
    feed = CalendarFeed(
        organization_id=org_id, id=new_id(), membership_id=member_id, token_hash=digest(token)
    )
    session.add(feed)
    await session.flush()
    await session.refresh(feed)
    return FeedOut(
        url=public_url.rstrip("/") + feed_path(token), member_id=member_id, created_at=feed.created_at
    )


async def active(session: AsyncSession, member_id: uuid.UUID) -> bool:
    """Whether the member has an address that works now (a new one would replace it)."""
    found = await session.execute(
        select(CalendarFeed.id)
        .where(CalendarFeed.membership_id == member_id, CalendarFeed.revoked_at.is_(None))
        .limit(1)
    )
    return found.first() is not None


async def revoke(session: AsyncSession, member_id: uuid.UUID, now: datetime | None = None) -> None:
    result = await session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.membership_id == member_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound("this member has no calendar feed")


async def resolve(session: AsyncSession, token: str, now: datetime) -> uuid.UUID:
    """The member whose active feed this token opens (inside the token's organisation)."""
    feed = (
        await session.execute(
            select(CalendarFeed).where(
                CalendarFeed.token_hash == digest(token), CalendarFeed.revoked_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    if feed is None:
        raise NotFound("no such calendar")
    if feed.last_used_at is None or now - feed.last_used_at > timedelta(minutes=5):
        feed.last_used_at = now
    return feed.membership_id


def _calendar(name: str, method: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    cal.add("x-wr-calname", name)
    # Outlook and Apple read REFRESH-INTERVAL / X-PUBLISHED-TTL as a hint how often to poll.
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    return cal


def address(email: str, name: str = "") -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["cn"] = vText(name)
    return address


def appointment_event(
    a: Appointment, people: dict[uuid.UUID, tuple[str, str]], member_ids: list[uuid.UUID], now: datetime
) -> Event:
    event = Event()
    event.add("uid", f"appointment-{a.id}@codo")
    event.add("dtstamp", now)
    event.add("dtstart", a.starts_at.astimezone(UTC))
    event.add("dtend", a.ends_at.astimezone(UTC))
    event.add("summary", a.title)
    event.add("sequence", a.sequence)
    event.add("status", {"planned": "TENTATIVE", "confirmed": "CONFIRMED"}.get(a.status, "CANCELLED"))
    description = a.description
    if a.video_url:
        event.add("url", a.video_url)
        description = (description + "\n\n" if description else "") + a.video_url
    if description:
        event.add("description", description)
    location = a.location or a.video_url
    if location:
        event.add("location", location)
    if a.organizer_membership_id in people:
        email, name = people[a.organizer_membership_id]
        event.add("organizer", address(email, name))
    for member_id in member_ids:
        if member_id in people:
            attendee = address(*people[member_id])
            attendee.params["role"] = vText("REQ-PARTICIPANT")
            attendee.params["partstat"] = vText("NEEDS-ACTION")
            event.add("attendee", attendee, encode=False)
    return event


def task_event(task: Task, lang: str, now: datetime) -> Event:
    event = Event()
    event.add("uid", f"task-{task.id}@codo")
    event.add("dtstamp", now)
    if task.due_time is None:
        event.add("dtstart", task.due_date)
        event.add("dtend", task.due_date + timedelta(days=1))
    else:
        event.add("dtstart", task.due_at.astimezone(UTC))
        event.add("dtend", task.due_at.astimezone(UTC) + TIMED_TASK_LENGTH)
    event.add("summary", i18n.gettext(lang, TASK_SUMMARY, domain="tasks", title=task.title))
    event.add("transp", "TRANSPARENT")
    if task.description:
        event.add("description", task.description)
    event.add("categories", ["codo"])
    return event


async def member_people(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Membership.id, User.email, User.display_name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.id.in_(ids))
    )
    return {r.id: (r.email, r.display_name) for r in rows}


async def _participants(
    session: AsyncSession, appointment_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    result: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in appointment_ids}
    if appointment_ids:
        rows = await session.execute(
            select(AppointmentParticipant.appointment_id, AppointmentParticipant.membership_id).where(
                AppointmentParticipant.appointment_id.in_(appointment_ids)
            )
        )
        for appointment_id, member_id in rows:
            if member_id is not None:
                result[appointment_id].append(member_id)
    return result


async def member_feed(session: AsyncSession, member_id: uuid.UUID, org_name: str, now: datetime) -> bytes:
    """The member's appointments (past 90 days on) and open tasks assigned to them."""
    lang = (
        await session.execute(
            select(User.locale)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.id == member_id)
        )
    ).scalar_one_or_none() or "de"
    mine = select(AppointmentParticipant.appointment_id).where(
        AppointmentParticipant.membership_id == member_id
    )
    appts = list(
        (
            await session.execute(
                select(Appointment)
                .where(
                    or_(Appointment.id.in_(mine), Appointment.organizer_membership_id == member_id),
                    Appointment.status != "cancelled",
                    Appointment.ends_at >= now - PAST,
                    Appointment.starts_at <= now + FUTURE,
                )
                .order_by(Appointment.starts_at)
                .limit(MAX_ITEMS)
            )
        ).scalars()
    )
    tasks = list(
        (
            await session.execute(
                select(Task)
                .where(
                    Task.assignee_id == member_id,
                    Task.status == "open",
                    Task.due_date <= (now + FUTURE).date(),
                )
                .order_by(Task.due_at)
                .limit(MAX_ITEMS)
            )
        ).scalars()
    )
    participants = await _participants(session, [a.id for a in appts])
    ids = {m for ms in participants.values() for m in ms} | {
        a.organizer_membership_id for a in appts if a.organizer_membership_id
    }
    people = await member_people(session, ids)
    cal = _calendar(f"codo - {org_name}")
    for a in appts:
        cal.add_component(appointment_event(a, people, participants[a.id], now))
    for t in tasks:
        cal.add_component(task_event(t, lang, now))
    return bytes(cal.to_ical())


async def invitation(session: AsyncSession, appointment_id: uuid.UUID, org_name: str, now: datetime) -> bytes:
    """One appointment as an iTIP invitation (METHOD:REQUEST, or CANCEL once cancelled)."""
    a = (
        await session.execute(select(Appointment).where(Appointment.id == appointment_id))
    ).scalar_one_or_none()
    if a is None:
        raise NotFound("no such appointment")
    participants = await _participants(session, [a.id])
    ids = set(participants[a.id]) | ({a.organizer_membership_id} if a.organizer_membership_id else set())
    cal = _calendar(f"codo - {org_name}", method="CANCEL" if a.status == "cancelled" else "REQUEST")
    cal.add_component(appointment_event(a, await member_people(session, ids), participants[a.id], now))
    return bytes(cal.to_ical())


def ics_filename(title: str, fallback: date) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in title)[:60].strip("-")
    return f"{safe or 'termin'}-{fallback.isoformat()}.ics"
