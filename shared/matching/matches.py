"""The life of a match: proposed -> introduced -> active <-> paused -> ended, each step checked,
dated and logged; the two contacts' statuses follow. Check-ins, meetings and the end reasons."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history
from shared.actor import Actor
from shared.contacts.fields import apply_custom, list_fields
from shared.contacts.models import Contact
from shared.db import current_org
from shared.errors import AnyOf, Conflict, NotFound, ValidationFailed
from shared.ids import new_id
from shared.logs import get_logger
from shared.matching import meeting_links, people
from shared.matching.models import (
    MATCH_STATUSES,
    OPEN_STATUSES,
    CheckIn,
    EndReason,
    Match,
    MatchEvent,
    MatchField,
    MatchingSettings,
    Meeting,
)
from shared.matching.schemas import (
    CheckInIn,
    CheckInOut,
    EndReasonIn,
    EndReasonOut,
    EndReasonPatch,
    EndReasonRef,
    EventOut,
    MatchOut,
    MeetingIn,
    MeetingOut,
    TransitionIn,
)
from shared.matching.scoring import score_pair
from shared.pagination import Page, decode_cursor, encode_cursor
from shared.tasks import followups, hooks

log = get_logger(__name__)

# Where each status may go next.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "proposed": ("introduced", "ended"),
    "introduced": ("active", "ended"),
    "active": ("paused", "ended"),
    "paused": ("active", "ended"),
    "ended": (),
}
# Statuses in which the pair meets and the coordinator is expected to check in.
CHECKED = ("introduced", "active")
LIVE = ("introduced", "active", "paused")

DEFAULT_END_REASONS = (
    ("goal_reached", "Ziel erreicht", "Goal reached", False),
    ("moved_away", "Umzug", "Moved away", True),
    ("no_time", "Keine Zeit mehr", "No time any more", True),
    ("conflict", "Konflikt", "Conflict", True),
    ("health", "Gesundheit", "Health", True),
    ("no_contact", "Kein Kontakt mehr", "Lost contact", True),
    ("other", "Sonstiges", "Other", True),
)


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- end reasons


async def ensure_end_reasons(session: AsyncSession) -> None:
    """Give an organisation the usual end reasons the first time it needs them."""
    if (await session.execute(select(EndReason.id).limit(1))).first() is not None:
        return
    org = current_org(session)
    await session.execute(
        insert(EndReason)
        .values(
            [
                {"organization_id": org, "id": new_id(), "key": key,
                 "label_de": de, "label_en": en, "early": early, "position": i}
                for i, (key, de, en, early) in enumerate(DEFAULT_END_REASONS)
            ]
        )
        .on_conflict_do_nothing(index_elements=["organization_id", "key"])
    )  # fmt: skip


def end_reason_out(r: EndReason) -> EndReasonOut:
    return EndReasonOut(
        id=r.id,
        key=r.key,
        label_de=r.label_de,
        label_en=r.label_en,
        early=r.early,
        position=r.position,
        archived=r.archived_at is not None,
    )


async def list_end_reasons(session: AsyncSession, *, include_archived: bool = False) -> list[EndReasonOut]:
    await ensure_end_reasons(session)
    query = select(EndReason).order_by(EndReason.position, EndReason.key)
    if not include_archived:
        query = query.where(EndReason.archived_at.is_(None))
    return [end_reason_out(r) for r in (await session.execute(query)).scalars()]


async def create_end_reason(session: AsyncSession, data: EndReasonIn) -> EndReasonOut:
    await ensure_end_reasons(session)
    taken = (await session.execute(select(EndReason.id).where(EndReason.key == data.key))).first()
    if taken is not None:
        raise Conflict("an end reason %(key)r exists already", field="key", key=data.key)
    reason = EndReason(
        organization_id=current_org(session),
        key=data.key,
        label_de=data.label_de.strip(),
        label_en=data.label_en.strip(),
        early=data.early,
        position=data.position,
    )
    session.add(reason)
    await session.flush()
    return end_reason_out(reason)


async def _end_reason(session: AsyncSession, reason_id: uuid.UUID) -> EndReason:
    reason = (await session.execute(select(EndReason).where(EndReason.id == reason_id))).scalar_one_or_none()
    if reason is None:
        raise NotFound("no such end reason")
    return reason


async def update_end_reason(
    session: AsyncSession, reason_id: uuid.UUID, data: EndReasonPatch
) -> EndReasonOut:
    reason = await _end_reason(session, reason_id)
    if data.label_de is not None:
        reason.label_de = data.label_de.strip()
    if data.label_en is not None:
        reason.label_en = data.label_en.strip()
    if data.early is not None:
        reason.early = data.early
    if data.position is not None:
        reason.position = data.position
    await session.flush()
    return end_reason_out(reason)


async def archive_end_reason(session: AsyncSession, reason_id: uuid.UUID) -> None:
    """Archived, not deleted: ended matches keep the reason they ended with."""
    reason = await _end_reason(session, reason_id)
    reason.archived_at = reason.archived_at or _now()
    await session.flush()


# ---------------------------------------------------------------- contacts follow the match


def _set_status(contact: Contact, status: str, now: datetime) -> None:
    if contact.status != status:
        contact.status = status
        contact.status_changed_at = now
        contact.updated_at = now


async def _contact(session: AsyncSession, contact_id: uuid.UUID) -> Contact:
    return (
        await session.execute(select(Contact).where(Contact.id == contact_id).with_for_update())
    ).scalar_one()


async def _other_statuses(
    session: AsyncSession, match: Match, column: Any, contact_id: uuid.UUID
) -> set[str]:
    rows = await session.execute(
        select(Match.status).where(column == contact_id, Match.id != match.id, Match.status.in_(LIVE))
    )
    return set(rows.scalars())


async def _follow(session: AsyncSession, match: Match, was: str, data: TransitionIn, on: date) -> None:
    """Keep the contacts' statuses in step: a matched mentee no longer waits, and so on."""
    now = _now()
    mentee = await _contact(session, match.mentee_id)
    mentor = await _contact(session, match.mentor_id)
    if match.status in ("introduced", "active"):
        _set_status(mentee, "matched", now)
        _set_status(mentor, "matched", now)
    elif match.status == "paused":
        _set_status(mentee, "paused", now)
        if not await _other_statuses(session, match, Match.mentor_id, mentor.id) & set(CHECKED):
            _set_status(mentor, "paused", now)
    elif match.status == "ended" and was != "proposed":
        _set_status(mentee, data.mentee_next, now)
        if data.mentee_next == "ready":
            mentee.waiting_since = on
        for person in (mentee, mentor):
            person.last_match_ended_on = on
            person.updated_at = now
        others = await _other_statuses(session, match, Match.mentor_id, mentor.id)
        _set_status(mentor, "matched" if others & set(CHECKED) else "paused" if others else "ready", now)


# ---------------------------------------------------------------- reading


def _interval_of_programme() -> Any:
    # Correlated through organization_id too, so the per-organisation indexes serve them (RLS
    # alone reads every organisation's rows for each match).
    own = (
        select(MatchingSettings.checkin_interval_days)
        .where(
            MatchingSettings.organization_id == Match.organization_id,
            MatchingSettings.programme_id == Match.programme_id,
        )
        .scalar_subquery()
    )
    default = (
        select(MatchingSettings.checkin_interval_days)
        .where(
            MatchingSettings.organization_id == Match.organization_id, MatchingSettings.programme_id.is_(None)
        )
        .scalar_subquery()
    )
    return func.coalesce(own, default, 30)


def _last_checkin() -> Any:
    return (
        select(func.max(CheckIn.occurred_on))
        .where(CheckIn.organization_id == Match.organization_id, CheckIn.match_id == Match.id)
        .scalar_subquery()
    )


def _overdue(today: date) -> Any:
    last = func.greatest(_last_checkin(), Match.started_on, Match.introduced_on)
    return and_(Match.status.in_(CHECKED), last + _interval_of_programme() < today)


async def _outputs(session: AsyncSession, matches: Sequence[Match], today: date) -> list[MatchOut]:
    if not matches:
        return []
    ids = [m.id for m in matches]
    org = current_org(session)
    extra = {
        row.id: row
        for row in await session.execute(
            select(
                Match.id,
                _last_checkin().label("last_checkin"),
                _interval_of_programme().label("interval"),
            ).where(Match.organization_id == org, Match.id.in_(ids))
        )
    }
    meeting_rows = await session.execute(
        select(
            Meeting.match_id,
            func.count(),
            func.coalesce(func.sum(Meeting.duration_minutes), 0),
            func.coalesce(func.sum(Meeting.volunteer_minutes), 0),
        )
        .where(Meeting.organization_id == org, Meeting.match_id.in_(ids))
        .group_by(Meeting.match_id)
    )
    meetings = {mid: (int(n), int(d), int(v)) for mid, n, d, v in meeting_rows}
    contact_ids = {m.mentor_id for m in matches} | {m.mentee_id for m in matches}
    names = {
        row.id: people.display_name(row.first_name, row.last_name, row.preferred_name, row.organisation_name)
        for row in await session.execute(
            select(
                Contact.id,
                Contact.first_name,
                Contact.last_name,
                Contact.preferred_name,
                Contact.organisation_name,
            ).where(Contact.organization_id == org, Contact.id.in_(contact_ids))
        )
    }
    reason_ids = {m.end_reason_id for m in matches if m.end_reason_id}
    reasons = (
        {
            r.id: r
            for r in (
                await session.execute(
                    select(EndReason).where(EndReason.organization_id == org, EndReason.id.in_(reason_ids))
                )
            ).scalars()
        }
        if reason_ids
        else {}
    )
    visible = set(
        (
            await session.execute(
                select(MatchField.key).where(
                    MatchField.organization_id == org, MatchField.archived_at.is_(None)
                )
            )
        ).scalars()
    )
    out = []
    for m in matches:
        last_checkin = extra[m.id].last_checkin
        known = [d for d in (last_checkin, m.started_on, m.introduced_on) if d is not None]
        due = (
            max(known) + timedelta(days=int(extra[m.id].interval)) if known and m.status in CHECKED else None
        )
        count, minutes, volunteer = meetings.get(m.id, (0, 0, 0))
        reason = reasons.get(m.end_reason_id) if m.end_reason_id else None
        out.append(
            MatchOut(
                id=m.id,
                mentor_id=m.mentor_id,
                mentor_name=names.get(m.mentor_id, "—"),
                mentee_id=m.mentee_id,
                mentee_name=names.get(m.mentee_id, "—"),
                programme_id=m.programme_id,
                status=m.status,
                score=m.score,
                proposed_on=m.proposed_on,
                introduced_on=m.introduced_on,
                first_meeting_on=m.first_meeting_on,
                started_on=m.started_on,
                paused_on=m.paused_on,
                ended_on=m.ended_on,
                end_reason=EndReasonRef(key=reason.key, label=reason.label_de, early=reason.early)
                if reason
                else None,
                ended_early=m.ended_early,
                last_checkin_on=last_checkin,
                checkin_due_on=due,
                checkin_overdue=due is not None and due < today,
                meetings=count,
                meeting_hours=round(minutes / 60, 2),
                volunteer_hours=round(volunteer / 60, 2),
                created_at=m.created_at,
                updated_at=m.updated_at,
                custom={k: v for k, v in (m.custom or {}).items() if k in visible},
            )
        )
    return out


async def pin(session: AsyncSession, match_id: uuid.UUID) -> Match:
    """The match, for a caller that reads it through several functions (the tandem page): while the
    caller holds it, the session's identity map answers each function's lookup without a query."""
    return await _get(session, match_id)


async def _get(session: AsyncSession, match_id: uuid.UUID, *, for_update: bool = False) -> Match:
    org = session.info.get("org_id")
    if org is not None and not for_update:
        # By primary key: the organisation is named (the RLS policy is no index condition), and a
        # match already in the session, see pin(), is answered without a query.
        match = await session.get(Match, (org, match_id))
    else:
        query = select(Match).where(Match.id == match_id)
        if for_update:
            query = query.with_for_update()
        match = (await session.execute(query)).scalar_one_or_none()
    if match is None:
        raise NotFound("no such match")
    return match


def _event_out(e: MatchEvent) -> EventOut:
    return EventOut(
        id=e.id,
        from_status=e.from_status,
        to_status=e.to_status,
        on=e.occurred_on,
        reason=e.reason,
        actor=e.actor,
        created_at=e.created_at,
    )


async def read_match(session: AsyncSession, match_id: uuid.UUID, today: date) -> MatchOut:
    match = await _get(session, match_id)
    out = (await _outputs(session, [match], today))[0]
    events = (
        await session.execute(
            select(MatchEvent)
            .where(MatchEvent.match_id == match_id)
            .order_by(MatchEvent.created_at, MatchEvent.id)
        )
    ).scalars()
    out.events = [_event_out(e) for e in events]
    return out


async def list_matches(
    session: AsyncSession,
    today: date,
    *,
    status: str | None = None,
    contact_id: uuid.UUID | None = None,
    programme_id: uuid.UUID | None = None,
    overdue: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[MatchOut]:
    """Newest first."""
    # The organisation named as well as enforced by RLS: then the primary key serves the order,
    # instead of every organisation's matches being read and sorted.
    query = select(Match).where(Match.organization_id == current_org(session))
    if status:
        statuses = [s.strip() for s in status.split(",") if s.strip()]
        for s in statuses:
            if s not in MATCH_STATUSES:
                raise ValidationFailed(
                    "%(s)r is not one of %(match_statuses)s",
                    field="status",
                    s=s,
                    match_statuses=", ".join(MATCH_STATUSES),
                )
        query = query.where(Match.status.in_(statuses))
    if contact_id is not None:
        query = query.where(or_(Match.mentor_id == contact_id, Match.mentee_id == contact_id))
    if programme_id is not None:
        query = query.where(Match.programme_id == programme_id)
    if overdue is not None:
        query = query.where(_overdue(today) if overdue else ~_overdue(today))
    if cursor:
        query = query.where(Match.id < decode_cursor(cursor))
    rows = list((await session.execute(query.order_by(Match.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=await _outputs(session, rows, today),
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


# ---------------------------------------------------------------- writing

MATCH_FIELDS = (
    "mentor_id", "mentee_id", "programme_id", "status", "proposed_on", "introduced_on", "first_meeting_on",
    "started_on", "paused_on", "ended_on", "end_reason_id", "ended_early",
)  # fmt: skip


async def create_match(
    session: AsyncSession,
    *,
    mentor_id: uuid.UUID,
    mentee_id: uuid.UUID,
    programme_id: uuid.UUID | None,
    actor: Actor,
    today: date,
    score: float | None = None,
    on: date | None = None,
) -> Match:
    """A proposed match. The mentor needs a free place and the mentee must not have an open match."""
    on = on or today
    if on > today:
        raise ValidationFailed("cannot be in the future", field="on")
    if mentor_id == mentee_id:
        raise ValidationFailed("a mentor cannot be their own mentee", field="mentee_id")
    await people.check_programme(session, programme_id, "programme_id")
    # Locked in a fixed order (mentor, then mentee): two proposals at once cannot both take the last place.
    found: dict[uuid.UUID, Contact] = {}
    for contact_id, field, kind in ((mentor_id, "mentor_id", "mentor"), (mentee_id, "mentee_id", "mentee")):
        contact = (
            await session.execute(select(Contact).where(Contact.id == contact_id).with_for_update())
        ).scalar_one_or_none()
        if contact is None or contact.erased_at is not None:
            raise ValidationFailed("no contact %(contact_id)s", field=field, contact_id=contact_id)
        if kind not in contact.kinds:
            raise ValidationFailed("this contact is not a %(kind)s", field=field, kind=kind)
        found[contact_id] = contact
    mentor = found[mentor_id]
    blocked = await people.not_ready(session, [mentor_id, mentee_id])
    for contact_id, field, who in ((mentor_id, "mentor_id", "mentor"), (mentee_id, "mentee_id", "mentee")):
        if contact_id in blocked:
            raise Conflict(
                "the %(who)s is not ready to be matched: %(blocked)s",
                field=field,
                who=who,
                blocked="; ".join(blocked[contact_id]),
            )
    open_for_mentee = (
        await session.execute(
            select(Match.id).where(Match.mentee_id == mentee_id, Match.status.in_(OPEN_STATUSES))
        )
    ).first()
    if open_for_mentee is not None:
        raise Conflict("the mentee already has a match that has not ended", field="mentee_id")
    load = (await people.open_loads(session, [mentor_id])).get(mentor_id, 0)
    if load >= mentor.capacity:
        raise Conflict(
            "the mentor has no free place (%(load)s of %(capacity)s taken)",
            field="mentor_id",
            load=load,
            capacity=mentor.capacity,
        )
    if score is None:
        settings = await people.settings_for(session, programme_id)
        mentee_profile, _ = await people.profile(session, mentee_id, settings.config)
        mentor_profile, _ = await people.profile(session, mentor_id, settings.config)
        score = score_pair(mentee_profile, mentor_profile, settings.config, today).score
    match = Match(
        organization_id=current_org(session),
        mentor_id=mentor_id,
        mentee_id=mentee_id,
        programme_id=programme_id,
        status="proposed",
        score=score,
        proposed_on=on,
        created_by=actor.label or "codo",
    )
    session.add(match)
    try:
        await session.flush()
    except IntegrityError:  # the partial unique index: another proposal for this mentee won the race
        raise Conflict("the mentee already has a match that has not ended", field="mentee_id") from None
    session.add(
        MatchEvent(
            organization_id=match.organization_id,
            match_id=match.id,
            from_status=None,
            to_status="proposed",
            occurred_on=on,
            actor=actor.label or "codo",
        )
    )
    await session.flush()
    await history.record(
        session,
        "match",
        match.id,
        "created",
        history.created(history.snapshot(match, MATCH_FIELDS)),
        actor=actor,
        contact_ids=[mentor_id, mentee_id],
        match_id=match.id,
    )
    return match


async def propose(
    session: AsyncSession,
    *,
    mentor_id: uuid.UUID,
    mentee_id: uuid.UUID,
    programme_id: uuid.UUID | None,
    actor: Actor,
    today: date,
    on: date | None = None,
    custom: dict[str, Any] | None = None,
) -> MatchOut:
    match = await create_match(
        session,
        mentor_id=mentor_id,
        mentee_id=mentee_id,
        programme_id=programme_id,
        actor=actor,
        today=today,
        on=on,
    )
    await set_custom(session, match.id, custom or {})
    return await read_match(session, match.id, today)


async def set_custom(
    session: AsyncSession, match_id: uuid.UUID, changes: dict[str, Any], *, lenient: bool = False
) -> Match:
    """Values of the organisation's match fields, checked like a contact's (problems name
    ``custom.<key>``); an empty value removes one, and fields required "for match" must stay filled."""
    match = await _get(session, match_id, for_update=True)
    fields = await list_fields(session, model=MatchField)
    match.custom = apply_custom(fields, dict(match.custom or {}), changes, ["match"], lenient=lenient)
    match.updated_at = _now()
    await session.flush()
    return match


async def transition(
    session: AsyncSession, match_id: uuid.UUID, data: TransitionIn, *, actor: Actor, today: date
) -> MatchOut:
    match = await _get(session, match_id, for_update=True)
    before = history.snapshot(match, MATCH_FIELDS)
    was = match.status
    allowed = TRANSITIONS[was]
    if data.to not in allowed:
        if not allowed:
            raise Conflict("this match has ended and cannot change any more", field="to")
        raise Conflict(
            "a match that is %(was)s can become %(allowed)s, not %(to)s",
            field="to",
            was=was,
            allowed=AnyOf(allowed),
            to=data.to,
        )
    on = data.on or today
    if on > today:
        raise ValidationFailed("cannot be in the future", field="on")
    last = (
        await session.execute(select(func.max(MatchEvent.occurred_on)).where(MatchEvent.match_id == match.id))
    ).scalar_one() or match.proposed_on
    if on < last:
        raise ValidationFailed("cannot be before the previous step on %(last)s", field="on", last=last)
    if data.first_meeting_on is not None and data.to != "introduced":
        raise ValidationFailed("only when the pair is introduced", field="first_meeting_on")
    if data.first_meeting_on is not None and data.first_meeting_on < on:
        raise ValidationFailed("cannot be before the introduction", field="first_meeting_on")
    if data.ended_early is not None and data.to != "ended":
        raise ValidationFailed("only when the match ends", field="ended_early")
    reason = data.reason.strip() if data.reason else None
    if data.to == "ended":
        if not reason:
            keys = ", ".join(r.key for r in await list_end_reasons(session))
            raise ValidationFailed("why did it end? one of: %(keys)s", field="reason", keys=keys)
        await ensure_end_reasons(session)
        end = (
            await session.execute(
                select(EndReason).where(EndReason.key == reason, EndReason.archived_at.is_(None))
            )
        ).scalar_one_or_none()
        if end is None:
            keys = ", ".join(r.key for r in await list_end_reasons(session))
            raise ValidationFailed(
                "%(reason)r is not one of: %(keys)s", field="reason", reason=reason, keys=keys
            )
        match.ended_on = on
        match.end_reason_id = end.id
        match.ended_early = end.early if data.ended_early is None else data.ended_early
    elif data.to == "introduced":
        match.introduced_on = on
        match.first_meeting_on = data.first_meeting_on
    elif data.to == "active":
        match.started_on = match.started_on or on
        match.paused_on = None
    elif data.to == "paused":
        match.paused_on = on
    match.status = data.to
    match.updated_at = _now()
    session.add(
        MatchEvent(
            organization_id=match.organization_id,
            match_id=match.id,
            from_status=was,
            to_status=data.to,
            occurred_on=on,
            reason=reason,
            actor=actor.label or "codo",
        )
    )
    await session.flush()
    await _follow(session, match, was, data, on)
    if data.to == "active" and was != "paused":
        # The mentor's meeting log opens with the tandem.
        await meeting_links.on_started(session, match, actor)
    await session.flush()
    await history.record(
        session,
        "match",
        match.id,
        "changed",
        history.diff(before, history.snapshot(match, MATCH_FIELDS)),
        actor=actor,
        contact_ids=[match.mentor_id, match.mentee_id],
        match_id=match.id,
        details={"reason": reason} if reason else None,
    )
    # Ids and statuses only: never personal data in logs.
    log.info("match moved on", match=str(match.id), from_status=was, to_status=data.to)
    return await read_match(session, match.id, today)


# ---------------------------------------------------------------- accompaniment


def _checkin_out(c: CheckIn) -> CheckInOut:
    return CheckInOut(
        id=c.id,
        match_id=c.match_id,
        on=c.occurred_on,
        channel=c.channel,
        rating=c.rating,
        notes=c.notes,
        follow_up=c.follow_up,
        created_by=c.created_by,
        created_at=c.created_at,
    )


def _meeting_out(m: Meeting) -> MeetingOut:
    return MeetingOut(
        id=m.id,
        match_id=m.match_id,
        on=m.occurred_on,
        duration_minutes=m.duration_minutes,
        volunteer_minutes=m.volunteer_minutes,
        activity=m.activity,
        reported_by=m.reported_by,
        notes=m.notes,
        created_at=m.created_at,
    )


def _check_date(match: Match, on: date, today: date) -> None:
    if on > today:
        raise ValidationFailed("cannot be in the future", field="on")
    start = match.introduced_on or match.proposed_on
    if on < start:
        raise ValidationFailed(
            "cannot be before the pair was introduced (%(start)s)", field="on", start=start
        )
    if match.ended_on is not None and on > match.ended_on:
        raise ValidationFailed(
            "cannot be after the match ended (%(ended_on)s)", field="on", ended_on=match.ended_on
        )


async def add_checkin(
    session: AsyncSession, match_id: uuid.UUID, data: CheckInIn, *, actor: Actor, today: date
) -> CheckInOut:
    match = await _get(session, match_id)
    if match.status == "proposed":
        raise Conflict("check in once the pair has been introduced", field="match_id")
    on = data.on or today
    _check_date(match, on, today)
    checkin = CheckIn(
        organization_id=match.organization_id,
        match_id=match.id,
        occurred_on=on,
        channel=data.channel,
        rating=data.rating,
        notes=data.notes.strip(),
        follow_up=data.follow_up,
        created_by=actor.label or "codo",
    )
    session.add(checkin)
    match.updated_at = _now()
    await session.flush()
    await session.refresh(checkin)
    await history.record(
        session,
        "checkin",
        checkin.id,
        "created",
        history.created(
            history.snapshot(checkin, ("occurred_on", "channel", "rating", "notes", "follow_up"))
        ),
        actor=actor,
        contact_ids=[match.mentor_id, match.mentee_id],
        match_id=match.id,
    )
    if checkin.follow_up:
        await followups.checkin_needs_follow_up(
            session,
            actor,
            checkin_id=checkin.id,
            match_id=match.id,
            checked_in_on=on,
            coordinator_id=await _coordinator(session, match),
            notes=checkin.notes,
            today=today,
        )
    return _checkin_out(checkin)


async def _coordinator(session: AsyncSession, match: Match) -> uuid.UUID | None:
    """Who looks after a tandem: the mentee's contact owner, else the mentor's."""
    owners = dict(
        (
            await session.execute(
                select(Contact.id, Contact.owner_membership_id).where(
                    Contact.id.in_([match.mentee_id, match.mentor_id])
                )
            )
        ).all()
    )
    return owners.get(match.mentee_id) or owners.get(match.mentor_id)


async def list_checkins(session: AsyncSession, match_id: uuid.UUID) -> list[CheckInOut]:
    await _get(session, match_id)
    rows = await session.execute(
        select(CheckIn)
        .where(CheckIn.match_id == match_id)
        .order_by(CheckIn.occurred_on.desc(), CheckIn.id.desc())
    )
    return [_checkin_out(c) for c in rows.scalars()]


async def add_meeting(
    session: AsyncSession, match_id: uuid.UUID, data: MeetingIn, *, today: date
) -> MeetingOut:
    match = await _get(session, match_id)
    if match.status == "proposed":
        raise Conflict("meetings are reported once the pair has been introduced", field="match_id")
    on = data.on or today
    _check_date(match, on, today)
    meeting = Meeting(
        organization_id=match.organization_id,
        match_id=match.id,
        occurred_on=on,
        duration_minutes=data.duration_minutes,
        volunteer_minutes=data.duration_minutes if data.volunteer_minutes is None else data.volunteer_minutes,
        activity=data.activity.strip(),
        reported_by=data.reported_by,
        notes=data.notes.strip(),
    )
    session.add(meeting)
    match.updated_at = _now()
    await session.flush()
    await session.refresh(meeting)
    fields = ("occurred_on", "duration_minutes", "volunteer_minutes", "activity", "reported_by", "notes")
    await history.record(
        session,
        "meeting",
        meeting.id,
        "created",
        history.created(history.snapshot(meeting, fields)),
        contact_ids=[match.mentor_id, match.mentee_id],
        match_id=match.id,
    )
    return _meeting_out(meeting)


async def list_meetings(session: AsyncSession, match_id: uuid.UUID) -> list[MeetingOut]:
    await _get(session, match_id)
    rows = await session.execute(
        select(Meeting)
        .where(Meeting.match_id == match_id)
        .order_by(Meeting.occurred_on.desc(), Meeting.id.desc())
    )
    return [_meeting_out(m) for m in rows.scalars()]


@hooks.on_introduction_confirmed
async def introduce_on_meeting(session: AsyncSession, event: hooks.IntroductionConfirmed) -> None:
    """A confirmed introduction meeting moves its proposed match to "introduced"."""
    status = (
        await session.execute(select(Match.status).where(Match.id == event.match_id))
    ).scalar_one_or_none()
    if status != "proposed":
        return  # already introduced (or further): nothing to move
    step = TransitionIn(to="introduced", on=min(event.met_on, event.today), first_meeting_on=event.met_on)
    try:
        await transition(session, event.match_id, step, actor=event.actor, today=event.today)
    except ValidationFailed:
        # A meeting dated before the match's last step: the introduction counts from today.
        step = TransitionIn(to="introduced", on=event.today)
        await transition(session, event.match_id, step, actor=event.actor, today=event.today)
