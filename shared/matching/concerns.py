"""Signals from a tandem that must reach its coordinator: a worry, a low rating, "would not go on".

:func:`raise_concern` is the one door for all of them (meeting log, questionnaires). It records
the signal, gives the tandem's coordinator exactly one open task per source (a second worry
from the same source while the first task is open joins that task instead of piling up),
tells them in the app and by e-mail, and marks the tandem for follow-up, all in the caller's
transaction.

The reporter's own words (``confidential_text``) are for admins and the tandem's coordinator
only: the task, the notification and the e-mail carry the summary and a link, never the words.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history, i18n, outbox
from shared.actor import Actor
from shared.contacts.models import Contact
from shared.db import current_org
from shared.errors import NotFound, ValidationFailed
from shared.i18n import N_
from shared.ids import new_id
from shared.matching import people
from shared.matching.models import Match, MatchConcern
from shared.models import Membership
from shared.tasks import notify
from shared.tasks.models import DEFAULT_TIMEZONE, Notification, Task, TaskComment
from shared.tasks.tasks import schedule

RULE = "concern"
NOTIFICATION_KIND = "concern"
SUMMARY_MAX = 300
TEXT_MAX = 5000
_SOURCE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

_SUBJECT = N_("A tandem needs your attention: %(pair)s")
_INTRO = N_("There is a new signal from the tandem %(pair)s: %(summary)s")
_AGAIN = N_("Another signal from the same source: %(summary)s")
_WHERE = N_(
    "Please look at the tandem in codo. What the person wrote is shown there only to admins and "
    "the tandem's coordinator."
)
_OPEN = N_("Open the tandem")


class ConcernOut(msgspec.Struct):
    id: uuid.UUID
    match_id: uuid.UUID
    source: str
    summary: str
    # None when the reader may not see it (anyone but admins and the tandem's coordinator).
    confidential_text: str | None
    task_id: uuid.UUID | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Raised:
    concern: ConcernOut
    task_id: uuid.UUID
    # False when the signal joined a task that was already open for this source.
    new_task: bool
    coordinator_id: uuid.UUID | None


def _now() -> datetime:
    return datetime.now(UTC)


async def responsible_coordinator(session: AsyncSession, match: Match) -> uuid.UUID | None:
    """The member who looks after the tandem: the mentee's owner, else the mentor's."""
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


def may_read_confidential(actor: Actor, coordinator_id: uuid.UUID | None) -> bool:
    return actor.is_admin or (actor.membership_id is not None and actor.membership_id == coordinator_id)


def _out(c: MatchConcern, readable: bool) -> ConcernOut:
    return ConcernOut(
        id=c.id,
        match_id=c.match_id,
        source=c.source,
        summary=c.summary,
        confidential_text=c.confidential_text if readable else None,
        task_id=c.task_id,
        created_by=c.created_by,
        created_at=c.created_at,
    )


async def pair_name(session: AsyncSession, match: Match) -> str:
    rows = {
        r.id: people.display_name(r.first_name, r.last_name, r.preferred_name, r.organisation_name)
        for r in await session.execute(
            select(
                Contact.id,
                Contact.first_name,
                Contact.last_name,
                Contact.preferred_name,
                Contact.organisation_name,
            ).where(Contact.id.in_([match.mentee_id, match.mentor_id]))
        )
    }
    return f"{rows.get(match.mentee_id, '—')} & {rows.get(match.mentor_id, '—')}"


async def _admins(session: AsyncSession) -> set[uuid.UUID]:
    return set(
        (
            await session.execute(select(Membership.id).where(Membership.role.in_(("owner", "admin"))))
        ).scalars()
    )


async def raise_concern(
    session: AsyncSession,
    *,
    match_id: uuid.UUID,
    source: str,
    summary: str,
    confidential_text: str | None = None,
    actor: Actor,
    today: date | None = None,
) -> Raised:
    """Record a signal about a tandem and make sure its coordinator acts on it (see the module)."""
    if not _SOURCE.match(source):
        raise ValidationFailed("not a known source of signals", field="source")
    summary = summary.strip()
    if not summary or len(summary) > SUMMARY_MAX:
        raise ValidationFailed(
            "the summary must be 1 to %(max)s characters", field="summary", max=SUMMARY_MAX
        )
    words = (confidential_text or "").strip()
    if len(words) > TEXT_MAX:
        raise ValidationFailed("at most %(max)s characters", field="confidential_text", max=TEXT_MAX)
    # The lock makes signals about one tandem wait for each other: one task, however many arrive.
    match = (
        await session.execute(select(Match).where(Match.id == match_id).with_for_update())
    ).scalar_one_or_none()
    if match is None:
        raise NotFound("no such match")
    now = _now()
    today = today or now.date()
    org = match.organization_id
    coordinator = await responsible_coordinator(session, match)
    subject = f"match:{match.id}:{source}"
    concern_id = new_id()
    task_id = (
        await session.execute(
            select(Task.id).where(Task.rule == RULE, Task.rule_subject == subject, Task.status == "open")
        )
    ).scalar_one_or_none()
    new_task = task_id is None
    pair = await pair_name(session, match)
    if task_id is None:
        due_at, remind_at = schedule(today, None, DEFAULT_TIMEZONE)
        task_id = (
            await session.execute(
                insert(Task)
                .values(
                    organization_id=org,
                    id=new_id(),
                    title=f"{pair}: {summary}"[:300],
                    assignee_id=coordinator,
                    due_date=today,
                    due_at=due_at,
                    remind_at=remind_at,
                    timezone=DEFAULT_TIMEZONE,
                    priority="high",
                    match_id=match.id,
                    rule=RULE,
                    rule_subject=subject[:100],
                    rule_occurrence=str(concern_id),
                )
                .on_conflict_do_nothing()
                .returning(Task.id)
            )
        ).scalar_one_or_none()
        if task_id is None:  # another transaction opened it first (the index, not the lock, decided)
            task_id = (
                await session.execute(
                    select(Task.id).where(
                        Task.rule == RULE, Task.rule_subject == subject, Task.status == "open"
                    )
                )
            ).scalar_one()
            new_task = False
    concern = MatchConcern(
        organization_id=org,
        id=concern_id,
        match_id=match.id,
        source=source,
        summary=summary,
        confidential_text=words,
        task_id=task_id,
        created_by=(actor.label or "codo")[:200],
    )
    session.add(concern)
    if match.follow_up_since is None:
        match.follow_up_since = now
    match.updated_at = now
    await session.flush()
    await session.refresh(concern)
    if new_task:
        await _tell(session, org, coordinator, actor, match.id, pair, summary)
    else:
        # Stored as it reads: in the language of the coordinator who follows the task up.
        found = await notify.recipients(session, {coordinator}) if coordinator else {}
        lang = i18n.language(found[coordinator].locale if coordinator in found else None)
        session.add(
            TaskComment(
                organization_id=org,
                task_id=task_id,
                body=i18n.gettext(lang, _AGAIN, domain="matching", summary=summary),
            )
        )
    await history.record(
        session,
        "concern",
        concern.id,
        "created",
        history.created({"source": source, "summary": summary}),
        actor=actor,
        contact_ids=[match.mentor_id, match.mentee_id],
        match_id=match.id,
        org_id=org,
    )
    await session.flush()
    return Raised(
        concern=_out(concern, may_read_confidential(actor, coordinator)),
        task_id=task_id,
        new_task=new_task,
        coordinator_id=coordinator,
    )


async def _tell(
    session: AsyncSession,
    org: uuid.UUID,
    coordinator: uuid.UUID | None,
    actor: Actor,
    match_id: uuid.UUID,
    pair: str,
    summary: str,
) -> None:
    """In the app and by e-mail, whatever the member's preferences: a worry must not go unseen.
    A tandem without a coordinator tells the organisation's admins."""
    wanted = {coordinator} if coordinator else await _admins(session)
    link = actor.link(f"/matches/{match_id}") if actor.slug else ""
    for r in (await notify.recipients(session, wanted)).values():
        lang = i18n.language(r.locale)
        subject = i18n.gettext(lang, _SUBJECT, domain="matching", pair=pair)
        intro = i18n.gettext(lang, _INTRO, domain="matching", pair=pair, summary=summary)
        where = i18n.gettext(lang, _WHERE, domain="matching")
        lines = [intro, "", where]
        if link:
            lines += ["", f"{i18n.gettext(lang, _OPEN, domain='matching')}: {link}"]
        if outbox._valid_address(r.email):
            await outbox.enqueue(
                session,
                org,
                kind=NOTIFICATION_KIND,
                to=r.email,
                subject=subject[:300],
                body_text="\n".join(lines),
            )
        session.add(
            Notification(
                organization_id=org,
                membership_id=r.membership_id,
                kind=NOTIFICATION_KIND,
                title=subject[:300],
                body=intro[:1000],
                link=link[:500],
            )
        )


async def list_concerns(session: AsyncSession, match_id: uuid.UUID, actor: Actor) -> list[ConcernOut]:
    """Newest first; the reporter's words only for admins and the tandem's coordinator."""
    # By primary key: a match the page already holds is answered from the session.
    match = await session.get(Match, (current_org(session), match_id))
    if match is None:
        raise NotFound("no such match")
    readable = may_read_confidential(actor, await responsible_coordinator(session, match))
    rows = await session.execute(
        select(MatchConcern)
        .where(MatchConcern.match_id == match_id)
        .order_by(MatchConcern.created_at.desc(), MatchConcern.id.desc())
    )
    return [_out(c, readable) for c in rows.scalars()]


async def clear_follow_up(session: AsyncSession, match_id: uuid.UUID, actor: Actor) -> None:
    """The coordinator has looked: the tandem is no longer marked for follow-up."""
    match = (
        await session.execute(select(Match).where(Match.id == match_id).with_for_update())
    ).scalar_one_or_none()
    if match is None:
        raise NotFound("no such match")
    if match.follow_up_since is None:
        return
    before = history.snapshot(match, ("follow_up_since",))
    match.follow_up_since = None
    match.updated_at = _now()
    await session.flush()
    await history.record(
        session,
        "match",
        match.id,
        "changed",
        history.diff(before, history.snapshot(match, ("follow_up_since",))),
        actor=actor,
        contact_ids=[match.mentor_id, match.mentee_id],
        match_id=match.id,
    )
