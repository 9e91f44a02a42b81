"""What matching keeps about one person, for the export (GDPR Art. 15, 20) and the erasure (Art. 17).

Matches, their dates and the number and length of meetings stay for the statistics; every word
written about the pair (check-in notes, meeting notes and activities, transition reasons, the
words of a worry) goes.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.contacts.models import Contact
from shared.contacts.privacy import person_needles, redact
from shared.matching.concerns import may_read_confidential, responsible_coordinator
from shared.matching.models import (
    CheckIn,
    Match,
    MatchConcern,
    MatchEvent,
    Meeting,
    MeetingLogEntry,
    MeetingLogLink,
)


def _of(contact_id: uuid.UUID) -> Any:
    return or_(Match.mentor_id == contact_id, Match.mentee_id == contact_id)


async def export_contact(session: AsyncSession, contact_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
    matches = list(
        (await session.execute(select(Match).where(_of(contact_id)).order_by(Match.proposed_on))).scalars()
    )
    ids = [m.id for m in matches]
    checkins = list((await session.execute(select(CheckIn).where(CheckIn.match_id.in_(ids)))).scalars())
    meetings = list((await session.execute(select(Meeting).where(Meeting.match_id.in_(ids)))).scalars())
    concerns = list(
        (await session.execute(select(MatchConcern).where(MatchConcern.match_id.in_(ids)))).scalars()
    )
    logged = list(
        (await session.execute(select(MeetingLogEntry).where(MeetingLogEntry.match_id.in_(ids)))).scalars()
    )
    links = list(
        (await session.execute(select(MeetingLogLink).where(MeetingLogLink.match_id.in_(ids)))).scalars()
    )
    # The words of a worry stay as confidential in the export as on the match page.
    readable = {
        m.id for m in matches if may_read_confidential(actor, await responsible_coordinator(session, m))
    }
    return {
        "matches": [
            {
                "id": str(m.id),
                "as": "mentor" if m.mentor_id == contact_id else "mentee",
                "status": m.status,
                "proposed_on": m.proposed_on.isoformat(),
                "started_on": m.started_on.isoformat() if m.started_on else None,
                "ended_on": m.ended_on.isoformat() if m.ended_on else None,
                # The organisation's fields of the match (funder, kind of tandem, ...).
                "fields": dict(m.custom or {}),
            }
            for m in matches
        ],
        "check_ins": [
            {
                "match_id": str(c.match_id),
                "on": c.occurred_on.isoformat(),
                "channel": c.channel,
                "rating": c.rating,
                "notes": c.notes,
            }
            for c in checkins
        ],
        "meetings": [
            {
                "match_id": str(m.match_id),
                "on": m.occurred_on.isoformat(),
                "minutes": m.duration_minutes,
                "activity": m.activity,
                "notes": m.notes,
            }
            for m in meetings
        ],
        "meeting_log": [
            {
                "match_id": str(e.match_id),
                "meeting_id": str(e.meeting_id),
                "rating": e.rating,
                "activities": list(e.activities),
                "worried": e.worried,
            }
            for e in logged
        ],
        # When links to the meeting log were made and used; the links themselves are never kept.
        "meeting_log_links": [
            {
                "match_id": str(k.match_id),
                "created_at": k.created_at.isoformat(),
                "sent_by_email": k.sent,
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in links
        ],
        "concerns": [
            {
                "match_id": str(c.match_id),
                "on": c.created_at.date().isoformat(),
                "source": c.source,
                "summary": c.summary,
                **({"text": c.confidential_text} if c.match_id in readable else {}),
            }
            for c in concerns
        ],
    }


async def erase_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    ids = list((await session.execute(select(Match.id).where(_of(contact_id)))).scalars())
    if ids:
        await session.execute(update(CheckIn).where(CheckIn.match_id.in_(ids)).values(notes=""))
        await session.execute(update(Meeting).where(Meeting.match_id.in_(ids)).values(notes="", activity=""))
        await session.execute(update(MatchEvent).where(MatchEvent.match_id.in_(ids)).values(reason=None))
        await session.execute(
            update(MatchConcern).where(MatchConcern.match_id.in_(ids)).values(confidential_text="")
        )
        # Nobody can note meetings about an erased person any more.
        await session.execute(
            update(MeetingLogLink)
            .where(MeetingLogLink.match_id.in_(ids), MeetingLogLink.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
    contact = (await session.execute(select(Contact).where(Contact.id == contact_id))).scalar_one_or_none()
    needles = person_needles(contact) if contact is not None else []
    if needles:
        # Notes about other pairs may name the person too.
        for checkin in (
            await session.execute(
                select(CheckIn).where(or_(*[CheckIn.notes.ilike(f"%{n}%") for n in needles]))
            )
        ).scalars():
            checkin.notes = redact(checkin.notes, needles)
        for meeting in (
            await session.execute(
                select(Meeting).where(or_(*[Meeting.notes.ilike(f"%{n}%") for n in needles]))
            )
        ).scalars():
            meeting.notes = redact(meeting.notes, needles)
    await session.flush()
