"""The mentor's meeting log: a meeting noted from the phone through a personal link.

A logged meeting is an ordinary meeting of the match (the same count, hours and volunteer hours
on the match page and in reports), reported by the mentor, with what the form adds: how it went
(1-5), what they did, and whether something worries them. A worry or a rating at or below the
programme's threshold reaches the coordinator through :mod:`shared.matching.concerns`.

A tandem without any meeting for the programme's number of weeks gets one friendly reminder to
the mentor and one task for the coordinator per quiet spell: the task's unique key (rule,
tandem, date of the last meeting) is claimed in the same transaction that writes the e-mail, so
two workers, a repeated tick or a flushed queue never send it twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import msgspec
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n
from shared.actor import Actor
from shared.contacts.models import Contact
from shared.db import Database
from shared.errors import DomainError
from shared.i18n import N_
from shared.ids import new_id
from shared.intake.models import IntakeProfile
from shared.matching import concerns, matches, meeting_links, people
from shared.matching.config import MeetingLogConfig
from shared.matching.models import Meeting, MeetingLogEntry
from shared.matching.schemas import MeetingIn
from shared.models import Organization
from shared.tasks import notify
from shared.tasks.contact_mail import contact_language
from shared.tasks.models import DEFAULT_TIMEZONE, Task
from shared.tasks.tasks import schedule

SOURCE = "meeting_log"
QUIET_RULE = "meeting_log_quiet"
NOTES_MAX = 2000
WORRY_MAX = 5000
MAX_MINUTES = 1440
# How far back a meeting may be logged.
MAX_DAYS_BACK = 90

# What a pair did, as the form offers it (key, label).
ACTIVITIES: dict[str, str] = {
    "talk": N_("Talked"),
    "learning": N_("Learning, homework"),
    "outdoors": N_("Outdoors, a walk"),
    "culture": N_("Culture, library, museum"),
    "sport": N_("Sport, games"),
    "cooking": N_("Cooking, eating together"),
    "errands": N_("Errands, appointments"),
    "other": N_("Something else"),
}
RATINGS = {
    1: N_("difficult"),
    2: N_("not so well"),
    3: N_("okay"),
    4: N_("well"),
    5: N_("very well"),
}
# Field errors, in the person's language on the page.
_REQUIRED = N_("Please fill this in.")
_DATE = N_("Please give a date in the last %(days)s days, not in the future.")
_DATE_BEFORE = N_("The tandem started later: please give a date from %(start)s.")
_MINUTES = N_("Please give the minutes as a whole number from 1 to %(max)s.")
_RATING = N_("Please choose how it went.")
_CHOICE = N_("Please choose from the list.")
_TOO_LONG = N_("Please write at most %(max)s characters.")
_WORRY_TEXT = N_("Please tell us in a few words what worries you.")
_SUMMARY_WORRY = N_("Meeting log: something worries the mentor")
_SUMMARY_LOW = N_("Meeting log: the mentor rated a meeting %(rating)s of 5")


@dataclass
class Entry:
    on: date
    duration_minutes: int
    activities: list[str]
    notes: str
    rating: int
    worried: bool
    worry_text: str


@dataclass
class Refused:
    """Field errors as (message id, params), for the page to say in the person's language."""

    errors: dict[str, tuple[str, dict[str, object]]] = field(default_factory=dict)


def _int(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


def parse(form: dict[str, list[str]], today: date, started: date | None) -> Entry | Refused:
    """The form's values, or every field's error at once. ``form`` holds each name's values."""

    def one(name: str) -> str:
        values = form.get(name) or [""]
        return values[0] if values else ""

    errors: dict[str, tuple[str, dict[str, object]]] = {}
    on: date | None = None
    try:
        on = date.fromisoformat(one("on").strip())
    except ValueError:
        errors["on"] = (_REQUIRED if not one("on").strip() else _DATE, {"days": MAX_DAYS_BACK})
    if on is not None:
        if on > today or on < today - timedelta(days=MAX_DAYS_BACK):
            errors["on"] = (_DATE, {"days": MAX_DAYS_BACK})
        elif started is not None and on < started:
            errors["on"] = (_DATE_BEFORE, {"start": started})
    minutes = _int(one("duration_minutes"))
    if not one("duration_minutes").strip():
        errors["duration_minutes"] = (_REQUIRED, {})
    elif minutes is None or not 1 <= minutes <= MAX_MINUTES:
        errors["duration_minutes"] = (_MINUTES, {"max": MAX_MINUTES})
    chosen = [v for v in form.get("activities", []) if v]
    if any(v not in ACTIVITIES for v in chosen) or len(chosen) > len(ACTIVITIES):
        errors["activities"] = (_CHOICE, {})
    notes = one("notes").strip()
    if len(notes) > NOTES_MAX:
        errors["notes"] = (_TOO_LONG, {"max": NOTES_MAX})
    rating = _int(one("rating"))
    if rating is None or rating not in RATINGS:
        errors["rating"] = (_RATING, {})
    worried_value = one("worried")
    if worried_value not in ("yes", "no"):
        errors["worried"] = (_CHOICE if worried_value else _REQUIRED, {})
    worry_text = one("worry_text").strip()
    if len(worry_text) > WORRY_MAX:
        errors["worry_text"] = (_TOO_LONG, {"max": WORRY_MAX})
    elif worried_value == "yes" and not worry_text:
        errors["worry_text"] = (_WORRY_TEXT, {})
    if errors:
        return Refused(errors)
    assert on is not None and minutes is not None and rating is not None
    return Entry(
        on=on,
        duration_minutes=minutes,
        activities=list(dict.fromkeys(chosen)),
        notes=notes,
        rating=rating,
        worried=worried_value == "yes",
        worry_text=worry_text if worried_value == "yes" else "",
    )


async def settings_of(session: AsyncSession, programme_id: uuid.UUID | None) -> MeetingLogConfig:
    return (await people.settings_for(session, programme_id)).config.meeting_log


async def _coordinator_language(session: AsyncSession, coordinator: uuid.UUID | None) -> str:
    if coordinator is None:
        return i18n.DEFAULT_LOCALE
    found = await notify.recipients(session, {coordinator})
    return i18n.language(found[coordinator].locale) if coordinator in found else i18n.DEFAULT_LOCALE


async def log(
    session: AsyncSession, found: meeting_links.Found, entry: Entry, *, actor: Actor, today: date
) -> MeetingLogEntry:
    """Write the meeting (reported by the mentor), what the form adds, and any signal."""
    match = found.match
    meeting = await matches.add_meeting(
        session,
        match.id,
        MeetingIn(
            on=entry.on,
            duration_minutes=entry.duration_minutes,
            reported_by="mentor",
            notes=entry.notes,
        ),
        today=today,
    )
    logged = MeetingLogEntry(
        organization_id=match.organization_id,
        meeting_id=meeting.id,
        match_id=match.id,
        link_id=found.link.id,
        rating=entry.rating,
        activities=entry.activities,
        worried=entry.worried,
    )
    session.add(logged)
    found.link.last_used_at = datetime.now(UTC)
    config = await settings_of(session, match.programme_id)
    low = entry.rating <= config.low_rating
    if entry.worried or low:
        lang = await _coordinator_language(session, await concerns.responsible_coordinator(session, match))
        summary = (
            i18n.gettext(lang, _SUMMARY_WORRY, domain="matching")
            if entry.worried
            else i18n.gettext(lang, _SUMMARY_LOW, domain="matching", rating=entry.rating)
        )
        raised = await concerns.raise_concern(
            session,
            match_id=match.id,
            source=SOURCE,
            summary=summary,
            confidential_text=entry.worry_text or None,
            actor=actor,
            today=today,
        )
        logged.concern_id = raised.concern.id
    await session.flush()
    return logged


class LoggedOut(msgspec.Struct):
    """A logged meeting's additions, for the match page's timeline."""

    meeting_id: uuid.UUID
    rating: int
    activities: list[str]
    worried: bool


async def entries_of(session: AsyncSession, match_id: uuid.UUID) -> dict[uuid.UUID, LoggedOut]:
    rows = await session.execute(select(MeetingLogEntry).where(MeetingLogEntry.match_id == match_id))
    return {
        e.meeting_id: LoggedOut(
            meeting_id=e.meeting_id, rating=e.rating, activities=e.activities, worried=e.worried
        )
        for e in rows.scalars()
    }


@dataclass(frozen=True)
class LoggedMeeting:
    """A meeting the mentor logged, as the timeline of each person in the tandem shows it."""

    match_id: uuid.UUID
    occurred_on: date
    duration_minutes: int
    notes: str
    rating: int
    activities: list[str]
    worried: bool
    # The mentor's words about the worry: admins and the tandem's coordinator only, else None.
    worry_text: str | None
    created_at: datetime


async def for_contact(session: AsyncSession, contact_id: uuid.UUID, actor: Actor) -> list[LoggedMeeting]:
    """Meetings logged in every tandem the person is (or was) in, newest first."""
    from shared.matching.models import Match, MatchConcern

    rows = (
        await session.execute(
            select(MeetingLogEntry, Meeting, MatchConcern.confidential_text)
            .join(Meeting, Meeting.id == MeetingLogEntry.meeting_id)
            .join(Match, Match.id == MeetingLogEntry.match_id)
            .outerjoin(MatchConcern, MatchConcern.id == MeetingLogEntry.concern_id)
            .where((Match.mentor_id == contact_id) | (Match.mentee_id == contact_id))
            .order_by(Meeting.occurred_on.desc(), Meeting.created_at.desc())
            .limit(200)
        )
    ).all()
    readable: dict[uuid.UUID, bool] = {}
    for entry, _meeting, _text in rows:
        if entry.match_id not in readable:
            match = await matches._get(session, entry.match_id)
            coordinator = await concerns.responsible_coordinator(session, match)
            readable[entry.match_id] = concerns.may_read_confidential(actor, coordinator)
    return [
        LoggedMeeting(
            match_id=entry.match_id,
            occurred_on=meeting.occurred_on,
            duration_minutes=meeting.duration_minutes,
            notes=meeting.notes,
            rating=entry.rating,
            activities=list(entry.activities),
            worried=entry.worried,
            worry_text=(text or None) if readable[entry.match_id] else None,
            created_at=entry.created_at,
        )
        for entry, meeting, text in rows
    ]


@dataclass(frozen=True)
class Overview:
    """The meeting log as the match page shows it."""

    logged: dict[uuid.UUID, LoggedOut]
    signals: list[concerns.ConcernOut]
    follow_up_since: datetime | None
    link: meeting_links.LinkStatus


async def overview(session: AsyncSession, match_id: uuid.UUID, actor: Actor) -> Overview:
    match = await matches._get(session, match_id)
    return Overview(
        logged=await entries_of(session, match_id),
        signals=await concerns.list_concerns(session, match_id, actor),
        follow_up_since=match.follow_up_since,
        link=await meeting_links.status(session, match),
    )


async def link_status(session: AsyncSession, match_id: uuid.UUID) -> meeting_links.LinkStatus:
    return await meeting_links.status(session, await matches._get(session, match_id))


async def concerns_of(session: AsyncSession, match_id: uuid.UUID, actor: Actor) -> list[concerns.ConcernOut]:
    return await concerns.list_concerns(session, match_id, actor)


async def renew_link(session: AsyncSession, match_id: uuid.UUID, actor: Actor) -> meeting_links.Issued:
    """A new link for the mentor, sent at once; earlier links stop working."""
    match = await matches._get(session, match_id, for_update=True)
    return await meeting_links.issue(session, match, reason="renew", actor=actor, public_url=actor.public_url)


async def revoke_links(session: AsyncSession, match_id: uuid.UUID, actor: Actor) -> int:
    return await meeting_links.revoke(session, match_id, actor)


async def clear_follow_up(session: AsyncSession, match_id: uuid.UUID, actor: Actor) -> None:
    await concerns.clear_follow_up(session, match_id, actor)


@dataclass(frozen=True)
class PublicView:
    """What the mentor's page shows besides the form: no more than they know already."""

    org: Organization | None
    mentee_first_name: str
    mentor_language: str | None
    # "du" or "sie": how the mentor is written to (intake keeps it), for the form's messages.
    mentor_address: str
    # The earliest day a meeting may be logged for.
    first_day: date
    # The last meetings logged through the link, newest first.
    recent: list[date]


async def public_view(session: AsyncSession, found: meeting_links.Found) -> PublicView:
    match = found.match
    people_of = {
        c.id: c
        for c in (
            await session.execute(select(Contact).where(Contact.id.in_([match.mentor_id, match.mentee_id])))
        ).scalars()
    }
    mentor, mentee = people_of.get(match.mentor_id), people_of.get(match.mentee_id)
    address = (
        await session.execute(
            select(IntakeProfile.form_of_address).where(IntakeProfile.contact_id == match.mentor_id)
        )
    ).scalar_one_or_none()
    recent = (
        await session.execute(
            select(Meeting.occurred_on)
            .join(MeetingLogEntry, MeetingLogEntry.meeting_id == Meeting.id)
            .where(Meeting.match_id == match.id)
            .order_by(Meeting.occurred_on.desc())
            .limit(3)
        )
    ).scalars()
    return PublicView(
        org=await session.get(Organization, match.organization_id),
        mentee_first_name=(mentee.preferred_name or mentee.first_name)
        if mentee is not None and mentee.erased_at is None
        else "",
        mentor_language=contact_language(mentor) if mentor is not None else None,
        mentor_address="du" if address == "du" else "sie",
        first_day=match.introduced_on or match.proposed_on,
        recent=list(recent),
    )


# ---------------------------------------------------------------- quiet tandems

# Active tandems (a paused one is not expected to meet) whose last sign of life (a meeting, the
# start, the return from a pause) is the programme's number of weeks ago.
_QUIET = text(
    """
    SELECT m.id, m.mentor_id, c.owner_membership_id AS owner, x.last, x.weeks
    FROM matches m
    JOIN contacts c ON c.organization_id = m.organization_id AND c.id = m.mentee_id
    CROSS JOIN LATERAL (
        SELECT greatest(
                   (SELECT max(v.occurred_on) FROM match_meetings v
                    WHERE v.organization_id = m.organization_id AND v.match_id = m.id),
                   (SELECT max(e.occurred_on) FROM match_events e
                    WHERE e.organization_id = m.organization_id AND e.match_id = m.id
                      AND e.to_status = 'active'),
                   m.started_on) AS last,
               coalesce(
                   (SELECT CAST(s.config -> 'meeting_log' ->> 'quiet_weeks' AS integer)
                    FROM matching_settings s
                    WHERE s.organization_id = m.organization_id AND s.programme_id = m.programme_id),
                   (SELECT CAST(s.config -> 'meeting_log' ->> 'quiet_weeks' AS integer)
                    FROM matching_settings s
                    WHERE s.organization_id = m.organization_id AND s.programme_id IS NULL),
                   CAST(:default_weeks AS integer)) AS weeks
    ) x
    WHERE m.status = 'active' AND x.last IS NOT NULL
      AND x.last + 7 * x.weeks <= CAST(:today AS date)
    """
)

_REMIND_TITLE = N_("No meeting logged for %(weeks)s weeks: %(pair)s")


@dataclass(frozen=True)
class Reminded:
    match_id: uuid.UUID
    mentor_mailed: bool


async def remind_quiet(
    session: AsyncSession, org_id: uuid.UUID, today: date, public_url: str, slug: str = ""
) -> list[Reminded]:
    """One reminder and one task per quiet spell of each tandem of the session's organisation."""
    rows = (
        await session.execute(_QUIET, {"today": today, "default_weeks": MeetingLogConfig().quiet_weeks})
    ).all()
    done: list[Reminded] = []
    actor = Actor.system("meeting log reminder", org_id=org_id, slug=slug, public_url=public_url)
    for r in rows:
        match = await matches._get(session, r.id)
        lang = await _coordinator_language(session, r.owner)
        pair = await concerns.pair_name(session, match)
        title = i18n.gettext(lang, _REMIND_TITLE, domain="matching", weeks=r.weeks, pair=pair)
        due_at, remind_at = schedule(today, None, DEFAULT_TIMEZONE)
        claimed = (
            await session.execute(
                insert(Task)
                .values(
                    organization_id=org_id,
                    id=new_id(),
                    title=title[:300],
                    assignee_id=r.owner,
                    due_date=today,
                    due_at=due_at,
                    remind_at=remind_at,
                    timezone=DEFAULT_TIMEZONE,
                    match_id=r.id,
                    rule=QUIET_RULE,
                    # One per quiet spell: an open task of an earlier spell does not hold back this one.
                    rule_subject=f"match:{r.id}:{r.last.isoformat()}",
                    rule_occurrence=r.last.isoformat(),
                )
                .on_conflict_do_nothing()
                .returning(Task.id)
            )
        ).scalar_one_or_none()
        if claimed is None:
            continue  # this quiet spell was reminded of already
        try:
            async with session.begin_nested():
                issued = await meeting_links.issue(
                    session, match, reason="reminder", actor=actor, public_url=public_url
                )
            mailed = issued.sent
        except DomainError:
            mailed = False
        done.append(Reminded(match_id=r.id, mentor_mailed=mailed))
    return done


async def organisations_with_active_tandems(db: Database) -> list[uuid.UUID]:
    async with db.system_context("meeting log: organisations with active tandems") as session:
        rows = await session.execute(
            text("SELECT DISTINCT organization_id FROM matches WHERE status = 'active'")
        )
        return [r[0] for r in rows]


async def remind_for(db: Database, org_id: uuid.UUID, today: date, public_url: str) -> list[Reminded]:
    async with db.tenant(org_id) as session:
        slug = (await session.execute(select(Organization.slug).where(Organization.id == org_id))).scalar()
        return await remind_quiet(session, org_id, today, public_url, slug or "")
