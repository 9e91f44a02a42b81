"""Mentors' personal links to the meeting log of one tandem (see shared.personal_links).

A link opens the log of exactly one tandem while that tandem has not ended and the link is not
revoked. The token is ``<organisation hex>.<secret>``; only the secret's SHA-256 is stored, so
the link can be sent once and never read back: renewing makes a new one and ends the old ones,
a reminder adds one. The e-mail goes to the mentor through the outbox, in their language and
form of address, and only with an address and a current consent to be written to by e-mail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import history, i18n, outbox, personal_links
from shared.actor import Actor
from shared.contacts import letters
from shared.errors import Conflict, NotFound
from shared.matching.models import Match, MeetingLogLink
from shared.models import Organization
from shared.tasks.contact_mail import Reach, reach

Reason = Literal["start", "renew", "reminder"]
PATH = "/meeting-log/"
# A link of a tandem in one of these statuses opens its log; an ended tandem's opens nothing.
OPEN = ("introduced", "active", "paused")


def pgettext(context: str, message: str) -> tuple[str, str]:
    """Marks a message id with its form of address; translated in :func:`_letter`."""
    return (context, message)


def _texts(address: str) -> dict[str, tuple[str, str]]:
    # Listed once per form of address so that extraction finds both ("du"/"sie" are contexts).
    if address == "du":
        return {
            "subject": pgettext("du", "Your meeting log for the tandem with %(mentee)s"),
            "start": pgettext(
                "du",
                "your tandem with %(mentee)s has started. With this personal link you can note each "
                "meeting from your phone in under a minute: when, how long, what you did and how it went.",
            ),
            "renew": pgettext(
                "du",
                "here is your new personal link to the meeting log of your tandem with %(mentee)s. "
                "The old link no longer works.",
            ),
            "reminder": pgettext(
                "du",
                "we have not heard about a meeting with %(mentee)s for a while. If you have met, note it "
                "in a minute with your personal link. If something is in the way, just tell us.",
            ),
            "reminder_subject": pgettext("du", "How are things with %(mentee)s?"),
            "private": pgettext(
                "du",
                "The link is only for you: please do not pass it on. Your coordinator reads what you "
                "note; what worries you is read only by them and the organisation's admins.",
            ),
        }
    return {
        "subject": pgettext("sie", "Your meeting log for the tandem with %(mentee)s"),
        "start": pgettext(
            "sie",
            "your tandem with %(mentee)s has started. With this personal link you can note each "
            "meeting from your phone in under a minute: when, how long, what you did and how it went.",
        ),
        "renew": pgettext(
            "sie",
            "here is your new personal link to the meeting log of your tandem with %(mentee)s. "
            "The old link no longer works.",
        ),
        "reminder": pgettext(
            "sie",
            "we have not heard about a meeting with %(mentee)s for a while. If you have met, note it "
            "in a minute with your personal link. If something is in the way, just tell us.",
        ),
        "reminder_subject": pgettext("sie", "How are things with %(mentee)s?"),
        "private": pgettext(
            "sie",
            "The link is only for you: please do not pass it on. Your coordinator reads what you "
            "note; what worries you is read only by them and the organisation's admins.",
        ),
    }


class LinkStatus(msgspec.Struct):
    active: bool
    # The newest link that still works: when it was made, why, whether it was e-mailed.
    created_at: datetime | None
    reason: str | None
    sent: bool
    last_used_at: datetime | None
    # Why the mentor cannot get it by e-mail: "no_email", "no_consent"; None when they can.
    unreachable: str | None


@dataclass(frozen=True)
class Issued:
    link_id: uuid.UUID
    url: str
    sent: bool


@dataclass(frozen=True)
class Found:
    link: MeetingLogLink
    match: Match


def _now() -> datetime:
    return datetime.now(UTC)


def url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}{token}"


def _letter(who: Reach, mentee: str, reason: Reason, link: str, org_name: str) -> letters.Letter:
    lang = who.lang
    texts = _texts(letters.address_of(who.form_of_address))

    def say(key: str) -> str:
        context, message = texts[key]
        return i18n.pgettext(lang, context, message, domain="matching", mentee=mentee)

    body = [
        letters.greeting(lang, who.form_of_address, who.first_name, who.last_name),
        say(reason),
        link,
        say("private"),
        letters.closing(lang, org_name),
    ]
    return letters.Letter(
        subject=say("reminder_subject" if reason == "reminder" else "subject"), body="\n\n".join(body)
    )


async def _mentee_first_name(session: AsyncSession, match: Match) -> str:
    found = await reach(session, [match.mentee_id])
    return found[match.mentee_id].first_name if match.mentee_id in found else ""


async def issue(
    session: AsyncSession, match: Match, *, reason: Reason, actor: Actor, public_url: str
) -> Issued:
    """Make a link for the tandem's mentor and write its e-mail to the outbox (when they can get one).

    Renewing ends every earlier link of the tandem first; a reminder leaves them working.
    """
    if match.status not in OPEN:
        raise Conflict("the meeting log is only open while the tandem runs", field="match_id")
    now = _now()
    if reason == "renew":
        await _revoke_all(session, match.id, now)
    token, digest = personal_links.issue(match.organization_id)
    link = MeetingLogLink(
        organization_id=match.organization_id,
        match_id=match.id,
        token_hash=digest,
        reason=reason,
        created_by=(actor.label or "codo")[:200],
    )
    session.add(link)
    await session.flush()
    address = url(public_url, token)
    who = (await reach(session, [match.mentor_id])).get(match.mentor_id)
    if who is not None and who.reason is None and who.email:
        org = await session.get(Organization, match.organization_id)
        letter = _letter(
            who, await _mentee_first_name(session, match), reason, address, org.name if org else ""
        )
        await outbox.enqueue(
            session,
            match.organization_id,
            kind=f"meeting_log_{reason}",
            to=who.email,
            subject=letter.subject[:300],
            body_text=letter.body,
        )
        link.sent = True
    if reason != "reminder":
        await history.record(
            session,
            "meeting_log_link",
            link.id,
            "sent" if link.sent else "created",
            actor=actor,
            contact_ids=[match.mentor_id],
            match_id=match.id,
            org_id=match.organization_id,
        )
    await session.flush()
    return Issued(link_id=link.id, url=address, sent=link.sent)


async def on_started(session: AsyncSession, match: Match, actor: Actor) -> Issued | None:
    """A tandem that starts gives its mentor a link, once: a second start (after a pause) does not."""
    if not actor.public_url:
        return None  # no address to build a link with (the coordinator can send one from the match page)
    existing = (
        await session.execute(select(MeetingLogLink.id).where(MeetingLogLink.match_id == match.id).limit(1))
    ).first()
    if existing is not None:
        return None
    return await issue(session, match, reason="start", actor=actor, public_url=actor.public_url)


async def _revoke_all(session: AsyncSession, match_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(MeetingLogLink)
        .where(MeetingLogLink.match_id == match_id, MeetingLogLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def revoke(session: AsyncSession, match_id: uuid.UUID, actor: Actor) -> int:
    """End every link of the tandem; the mentor's old e-mails then open the "unknown link" page."""
    match = (await session.execute(select(Match).where(Match.id == match_id))).scalar_one_or_none()
    if match is None:
        raise NotFound("no such match")
    ended = await _revoke_all(session, match_id, _now())
    if ended:
        await history.record(
            session,
            "meeting_log_link",
            match_id,
            "revoked",
            actor=actor,
            contact_ids=[match.mentor_id],
            match_id=match_id,
        )
    return ended


async def status(session: AsyncSession, match: Match) -> LinkStatus:
    # A tandem has a handful of links (one per renewal): one read answers both questions.
    links = (
        (await session.execute(select(MeetingLogLink).where(MeetingLogLink.match_id == match.id)))
        .scalars()
        .all()
    )
    working = [link for link in links if link.revoked_at is None]
    newest = max(working, key=lambda link: (link.created_at, link.id)) if working else None
    used = max((link.last_used_at for link in links if link.last_used_at), default=None)
    who = (await reach(session, [match.mentor_id])).get(match.mentor_id)
    return LinkStatus(
        active=newest is not None and match.status in OPEN,
        created_at=newest.created_at if newest else None,
        reason=newest.reason if newest else None,
        sent=bool(newest and newest.sent),
        last_used_at=used,
        unreachable=who.reason if who is not None else "no_email",
    )


async def find(session: AsyncSession, token: str) -> Found | None:
    """The link and its tandem, or None for a token that is unknown, revoked, of an ended tandem or
    of another organisation (the session's row-level security hides those rows)."""
    parsed = personal_links.parse(token)
    if parsed is None:
        return None
    row = (
        await session.execute(
            select(MeetingLogLink, Match)
            .join(Match, Match.id == MeetingLogLink.match_id)
            .where(
                MeetingLogLink.token_hash == parsed.digest,
                MeetingLogLink.revoked_at.is_(None),
                Match.status.in_(OPEN),
            )
        )
    ).first()
    if row is None:
        return None
    return Found(link=row[0], match=row[1])
