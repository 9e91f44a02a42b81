"""Sending questionnaires: invitations with a personal link, by schedule or by hand, and reminders.

The scan asks the database what is due, never the clock of one cron tick: every schedule's
occurrence whose day has come (within a horizon) and that has no invitation yet. Each invitation
is one row under a unique key (schedule, tandem, person, occurrence), written in the same
transaction as its e-mail in the outbox: two workers that find the same occurrence due both try
to insert it and only one of them wins; a worker killed halfway commits nothing, and the next
scan finds the occurrence still due. Reminders lock their invitations (SKIP LOCKED) and mark
them in the transaction that writes the reminder, so each goes out once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

import msgspec
from babel.dates import format_date
from sqlalchemy import Integer, LargeBinary, String, Table, Uuid, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n, outbox, personal_links, queue
from shared.actor import Actor
from shared.contacts import letters
from shared.contacts.models import Contact, ContactLink
from shared.contacts.vocab import EMAIL_CONSENT
from shared.db import Database
from shared.errors import NotFound, ValidationFailed
from shared.i18n import N_
from shared.ids import new_id
from shared.logs import get_logger
from shared.matching.models import Match
from shared.models import Organization, OutboxMessage
from shared.questionnaires.models import (
    Questionnaire,
    QuestionnaireInvitation,
    QuestionnaireVersion,
)
from shared.questionnaires.schemas import InvitationOut, SendIn, SentOut, Wording
from shared.questionnaires.service import decode_content, get_settings, latest_version

log = get_logger(__name__)

TZ = ZoneInfo("Europe/Berlin")
# A one-off occurrence more than this late is not sent any more (a schedule made today does not
# write to every tandem that started last year).
HORIZON_DAYS = 14
BATCH = 500
CONSENT = "questionnaires"
DOMAIN = "questionnaires"


def local_day(now: datetime) -> date:
    return now.astimezone(TZ).date()


def _days(now: datetime) -> dict[str, date]:
    today = local_day(now)
    return {"today": today, "since": today - timedelta(days=HORIZON_DAYS)}


def link_of(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/q/{token}"


# Occurrences due today: the schedule's day has come, and (for one-off ones) not too long ago.
# ``occurrence`` numbers the repetitions of a schedule during the tandem: only the current one is
# due, so a tandem never receives the questionnaires of periods that passed before it was set up.
_DUE = """
    SELECT s.organization_id, s.id AS schedule_id, s.questionnaire_id, s.audience, s.phase,
           m.id AS match_id, m.mentor_id, m.mentee_id,
           CASE WHEN s.trigger = 'during' AND s.every_days IS NOT NULL
                THEN (CAST(:today AS date) - m.started_on - s.after_days) / s.every_days
                ELSE 0 END AS occurrence
    FROM questionnaire_schedules s
    JOIN questionnaires q ON q.organization_id = s.organization_id AND q.id = s.questionnaire_id
         AND q.archived_at IS NULL
    JOIN matches m ON m.organization_id = s.organization_id
         AND (s.programme_id IS NULL OR m.programme_id = s.programme_id)
         AND m.started_on IS NOT NULL
    WHERE s.active AND (
        (s.trigger = 'start' AND m.status IN ('active', 'paused')
         AND m.started_on + s.after_days <= CAST(:today AS date)
         AND m.started_on + s.after_days > CAST(:since AS date))
     OR (s.trigger = 'during' AND m.status = 'active'
         AND m.started_on + s.after_days <= CAST(:today AS date)
         AND (s.every_days IS NOT NULL OR m.started_on + s.after_days > CAST(:since AS date)))
     OR (s.trigger = 'end' AND m.status = 'ended'
         AND m.ended_on + s.after_days <= CAST(:today AS date)
         AND m.ended_on + s.after_days > CAST(:since AS date)))
"""

# Each due occurrence for each person it goes to, without those already invited.
_RECIPIENTS = f"""
    SELECT d.*, r.contact_id FROM ({_DUE}) d
    CROSS JOIN LATERAL (
        SELECT d.mentor_id AS contact_id WHERE d.audience = 'mentor'
        UNION ALL SELECT d.mentee_id WHERE d.audience = 'mentee'
        UNION ALL SELECT l.contact_id FROM contact_links l
            WHERE d.audience = 'guardian' AND l.organization_id = d.organization_id
              AND l.related_id = d.mentee_id AND l.kind = 'guardian_of'
    ) r
    WHERE NOT EXISTS (
        SELECT 1 FROM questionnaire_invitations i
        WHERE i.organization_id = d.organization_id AND i.schedule_id = d.schedule_id
          AND i.match_id = d.match_id AND i.contact_id = r.contact_id AND i.occurrence = d.occurrence)
"""  # noqa: S608

# Invitations whose reminder is due: not answered, not revoked, not expired, sent long enough ago,
# and the tandem still running (a closing questionnaire, sent after the end, is reminded too).
_REMINDERS = """
    SELECT i.organization_id, i.id, i.questionnaire_id, i.version_id, i.contact_id, i.lang,
           i.form_of_address, i.expires_at
    FROM questionnaire_invitations i
    JOIN matches m ON m.organization_id = i.organization_id AND m.id = i.match_id
    LEFT JOIN questionnaire_schedules s ON s.organization_id = i.organization_id AND s.id = i.schedule_id
    LEFT JOIN questionnaire_settings qs ON qs.organization_id = i.organization_id
    WHERE i.submitted_at IS NULL AND i.revoked_at IS NULL AND i.reminded_at IS NULL AND i.skipped IS NULL
      AND i.expires_at > :now
      AND COALESCE(qs.reminder_after_days, 7) > 0
      AND i.sent_at <= :now - make_interval(days => COALESCE(qs.reminder_after_days, 7))
      AND (m.status <> 'ended' OR s.trigger = 'end')
"""

_CLAIM = text(
    """
    INSERT INTO questionnaire_invitations (organization_id, id, questionnaire_id, version_id, schedule_id,
        match_id, contact_id, audience, occurrence, phase, lang, form_of_address, token_hash, expires_at,
        sent_at, skipped, created_by)
    SELECT :org, x.id, x.questionnaire_id, x.version_id, x.schedule_id, x.match_id, x.contact_id, x.audience,
           x.occurrence, x.phase, x.lang, x.address, x.token_hash, :expires, :now, x.skipped, 'codo'
    FROM unnest(:ids, :questionnaires, :versions, :schedules, :matches, :contacts, :audiences,
                :occurrences, :phases, :langs, :addresses, :hashes, :skipped)
         AS x(id, questionnaire_id, version_id, schedule_id, match_id, contact_id, audience, occurrence,
              phase, lang, address, token_hash, skipped)
    ON CONFLICT DO NOTHING
    RETURNING id
    """
).bindparams(
    bindparam("org", type_=Uuid()),
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("questionnaires", type_=ARRAY(Uuid())),
    bindparam("versions", type_=ARRAY(Uuid())),
    bindparam("schedules", type_=ARRAY(Uuid())),
    bindparam("matches", type_=ARRAY(Uuid())),
    bindparam("contacts", type_=ARRAY(Uuid())),
    bindparam("audiences", type_=ARRAY(String())),
    bindparam("occurrences", type_=ARRAY(Integer())),
    bindparam("phases", type_=ARRAY(String())),
    bindparam("langs", type_=ARRAY(String())),
    bindparam("addresses", type_=ARRAY(String())),
    bindparam("hashes", type_=ARRAY(LargeBinary())),
    bindparam("skipped", type_=ARRAY(String())),
)


@dataclass
class Report:
    invited: int = 0
    skipped: int = 0
    reminded: int = 0
    organisations: set[uuid.UUID] = field(default_factory=set)

    @property
    def total(self) -> int:
        return self.invited + self.reminded


@dataclass(frozen=True)
class Person:
    contact_id: uuid.UUID
    email: str | None
    lang: str
    form_of_address: str
    first_name: str
    last_name: str
    # Why they cannot be asked by e-mail; None: they can.
    reason: str | None


# Address, language, form of address and the consents that decide whether a person is written
# to, in one statement (the consent that counts is the latest by effective date, then by record).
_CONSENT = """
    SELECT k.status FROM contact_consents k
    WHERE k.organization_id = c.organization_id AND k.contact_id = c.id AND k.purpose = {purpose}
    ORDER BY k.effective_on DESC, k.created_at DESC LIMIT 1
"""

# Address, language, form of address and the consents that decide whether a person is written
# to (the consent that counts is the latest by effective date, then by when it was recorded).
_PEOPLE = text(
    f"""
    SELECT c.id AS contact_id, c.email, c.languages, COALESCE(c.preferred_name, c.first_name) AS first_name,
           c.last_name, c.erased_at, p.form_of_address,
           ({_CONSENT.format(purpose=":email_consent")}) AS email_consent,
           ({_CONSENT.format(purpose=":consent")}) AS consent
    FROM contacts c
    LEFT JOIN intake_profiles p ON p.organization_id = c.organization_id AND p.contact_id = c.id
    WHERE c.id = ANY(:ids)
    """  # noqa: S608
).bindparams(bindparam("ids", type_=ARRAY(Uuid())))


def _person(r: Any, consent_required: bool) -> Person:
    """As appointments' e-mails to contacts decide it: an address and a current consent to e-mail
    (and, where the organisation asks for it, to questionnaires)."""
    reason: str | None = None
    if not r.email or r.erased_at is not None:
        reason = "no_email"
    elif r.email_consent != "given" or (consent_required and r.consent != "given"):
        reason = "no_consent"
    languages = set(r.languages or [])
    return Person(
        contact_id=r.contact_id,
        email=r.email,
        lang="en" if "de" not in languages and "en" in languages else "de",
        form_of_address=letters.address_of(r.form_of_address),
        first_name=r.first_name or "",
        last_name=r.last_name or "",
        reason=reason,
    )


async def people(
    session: AsyncSession, contact_ids: list[uuid.UUID], consent_required: bool
) -> dict[uuid.UUID, Person]:
    """Address, language, form of address and consent of the people to ask."""
    if not contact_ids:
        return {}
    rows = await session.execute(
        _PEOPLE, {"ids": contact_ids, "email_consent": EMAIL_CONSENT, "consent": CONSENT}
    )
    return {r.contact_id: _person(r, consent_required) for r in rows}


def _p(lang: str, address: str, message: str, **params: object) -> str:
    return i18n.pgettext(lang, letters.address_of(address), message, domain=DOMAIN, **params)


def pgettext(context: str, message: str) -> tuple[str, str]:
    return (context, message)


# Message ids by form of address ("du"/"sie" are the gettext contexts); listed for both so that
# extraction finds each.
_TEXTS = {
    "du": {
        "subject": pgettext("du", "A few questions about your tandem: %(title)s"),
        "reminder_subject": pgettext("du", "Reminder: a few questions about your tandem: %(title)s"),
        "ask": pgettext(
            "du", "%(org)s would like to know how your tandem is going. Please answer a few questions:"
        ),
        "remind": pgettext(
            "du", "we have not yet received your answers. The questions take only a few minutes:"
        ),
        "valid": pgettext("du", "The link is only for you and works until %(until)s."),
        "readers": pgettext("du", "Your answers are read by the coordinators of %(org)s."),
    },
    "sie": {
        "subject": pgettext("sie", "A few questions about your tandem: %(title)s"),
        "reminder_subject": pgettext("sie", "Reminder: a few questions about your tandem: %(title)s"),
        "ask": pgettext(
            "sie", "%(org)s would like to know how your tandem is going. Please answer a few questions:"
        ),
        "remind": pgettext(
            "sie", "we have not yet received your answers. The questions take only a few minutes:"
        ),
        "valid": pgettext("sie", "The link is only for you and works until %(until)s."),
        "readers": pgettext("sie", "Your answers are read by the coordinators of %(org)s."),
    },
}


@dataclass(frozen=True)
class Letter:
    subject: str
    body: str


@lru_cache(maxsize=256)
def _parts(
    lang: str, address: str, org: str, title: str, until: date, reminder: bool
) -> tuple[str, str, str, str]:
    """Subject, opening, validity and closing of a letter: the same for a whole batch, so they
    are translated once (a batch of 500 letters differs only in greeting and link)."""
    texts = _TEXTS[letters.address_of(address)]

    def say(key: str, **params: object) -> str:
        context, message = texts[key]
        return i18n.pgettext(lang, context, message, domain=DOMAIN, **params)

    day = format_date(until, "long", locale=lang)
    subject = say("reminder_subject" if reminder else "subject", title=title)[:300]
    opening = say("remind") if reminder else say("ask", org=org)
    valid = say("valid", until=day) + " " + say("readers", org=org)
    return subject, opening, valid, letters.closing(lang, org)


def letter(
    *, lang: str, address: str, first_name: str, last_name: str, org: str, title: str, link: str,
    until: datetime, reminder: bool,
) -> Letter:  # fmt: skip
    subject, opening, valid, closing = _parts(
        lang, address, org, title, until.astimezone(TZ).date(), reminder
    )
    greeting = letters.greeting(lang, address, first_name, last_name)
    return Letter(subject=subject, body="\n\n".join((greeting, opening, link, valid, closing)))


async def organisations_due(db: Database, now: datetime) -> list[uuid.UUID]:
    """Which organisations have invitations or reminders due: the only cross-organisation read."""
    query = text(
        f"SELECT organization_id FROM ({_RECIPIENTS}) x UNION "  # noqa: S608
        f"SELECT organization_id FROM ({_REMINDERS}) y"
    )
    async with db.system_context("questionnaire scan: organisations with questionnaires due") as session:
        params = {**_days(now), "now": now}
        return list((await session.execute(query, params)).scalars())


# One batch of due invitations with all that writing them needs: the person's address, language,
# form of address and consents, the questionnaire's latest version and the organisation's
# settings, so a batch costs one read whatever its size.
_BATCH = f"""
    SELECT r.schedule_id, r.questionnaire_id, r.audience, r.phase, r.match_id, r.occurrence, r.contact_id,
           v.id AS version_id, v.content -> 'title' AS title,
           c.email, c.languages, COALESCE(c.preferred_name, c.first_name) AS first_name, c.last_name,
           c.erased_at, p.form_of_address,
           ({_CONSENT.format(purpose=":email_consent")}) AS email_consent,
           ({_CONSENT.format(purpose=":consent")}) AS consent,
           COALESCE(qs.consent_required, false) AS consent_required,
           COALESCE(qs.link_valid_days, 21) AS link_valid_days
    FROM ({_RECIPIENTS} ORDER BY d.schedule_id, d.match_id LIMIT :batch) r
    CROSS JOIN LATERAL (
        SELECT v.id, v.content FROM questionnaire_versions v
        WHERE v.organization_id = r.organization_id AND v.questionnaire_id = r.questionnaire_id
        ORDER BY v.number DESC LIMIT 1) v
    JOIN contacts c ON c.organization_id = r.organization_id AND c.id = r.contact_id
    LEFT JOIN intake_profiles p ON p.organization_id = c.organization_id AND p.contact_id = c.id
    LEFT JOIN questionnaire_settings qs ON qs.organization_id = r.organization_id
"""  # noqa: S608


async def _send_scheduled(
    session: AsyncSession, org: Organization, now: datetime, public_url: str, report: Report
) -> int:
    rows = (
        await session.execute(
            text(_BATCH), {**_days(now), "batch": BATCH, "email_consent": EMAIL_CONSENT, "consent": CONSENT}
        )
    ).all()
    if not rows:
        return 0
    expires = now + timedelta(days=rows[0].link_valid_days)
    columns: dict[str, list[object]] = {
        k: []
        for k in ("ids", "questionnaires", "versions", "schedules", "matches", "contacts", "audiences",
                  "occurrences", "phases", "langs", "addresses", "hashes", "skipped")
    }  # fmt: skip
    letters_by_id: dict[uuid.UUID, tuple[str, Letter]] = {}
    titles: dict[tuple[uuid.UUID, str, str], str] = {}
    for r in rows:
        person = _person(r, r.consent_required)
        token, digest = personal_links.issue(org.id)
        invitation_id = new_id()
        for key, value in (
            ("ids", invitation_id), ("questionnaires", r.questionnaire_id), ("versions", r.version_id),
            ("schedules", r.schedule_id), ("matches", r.match_id), ("contacts", r.contact_id),
            ("audiences", r.audience), ("occurrences", r.occurrence), ("phases", r.phase),
            ("langs", person.lang), ("addresses", person.form_of_address), ("hashes", digest),
            ("skipped", person.reason),
        ):  # fmt: skip
            columns[key].append(value)
        if person.reason is None and person.email:
            which = (r.version_id, person.lang, person.form_of_address)
            if which not in titles:
                titles[which] = msgspec.convert(r.title, Wording).say(person.lang, person.form_of_address)
            letters_by_id[invitation_id] = (
                person.email,
                letter(
                    lang=person.lang, address=person.form_of_address, first_name=person.first_name,
                    last_name=person.last_name, org=org.name, title=titles[which],
                    link=link_of(public_url, token), until=expires, reminder=False,
                ),
            )  # fmt: skip
    # One statement over arrays, whatever the batch size: prepared once, one round trip.
    won = {
        r[0]
        for r in await session.execute(_CLAIM, {"org": org.id, "expires": expires, "now": now, **columns})
    }
    mails = [(to, message) for invitation_id, (to, message) in letters_by_id.items() if invitation_id in won]
    await _enqueue_many(session, org.id, "questionnaire", mails)
    report.invited += len(mails)
    report.skipped += len(won) - len(mails)
    return len(rows)


async def _enqueue_many(
    session: AsyncSession, org_id: uuid.UUID, kind: str, mails: list[tuple[str, Letter]]
) -> None:
    """One multi-row INSERT into the outbox for a whole batch, woken once after the commit."""
    rows = [
        {"organization_id": org_id, "id": new_id(), "kind": kind, "to_address": to, "subject": m.subject,
         "body_text": m.body}
        for to, m in mails
        if outbox._valid_address(to)
    ]  # fmt: skip
    if rows:
        # Core, not the ORM's bulk insert: a batch of 500 letters is one statement either way.
        await session.execute(insert(cast(Table, OutboxMessage.__table__)), rows)
        queue.wake_outbox(session)


async def _send_reminders(
    session: AsyncSession, org: Organization, now: datetime, public_url: str, report: Report
) -> int:
    rows = (
        await session.execute(
            text(_REMINDERS + " ORDER BY i.sent_at LIMIT :batch FOR UPDATE OF i SKIP LOCKED"),
            {"now": now, "batch": BATCH},
        )
    ).all()
    if not rows:
        return 0
    who = await people(session, list({r.contact_id for r in rows}), False)
    versions = {
        v.id: v
        for v in (
            await session.execute(
                select(QuestionnaireVersion).where(QuestionnaireVersion.id.in_({r.version_id for r in rows}))
            )
        ).scalars()
    }
    for r in rows:
        token, digest = personal_links.issue(org.id)
        # The row is locked by this transaction: no other worker reminds it; the condition keeps a
        # rerun of a committed reminder from sending it again.
        done = await session.execute(
            text(
                "UPDATE questionnaire_invitations SET reminded_at = :now, reminder_token_hash = :digest "
                "WHERE id = :id AND reminded_at IS NULL RETURNING id"
            ),
            {"now": now, "digest": digest, "id": r.id},
        )
        if done.scalar_one_or_none() is None:
            continue
        person = who.get(r.contact_id)
        if person is None or not person.email:
            continue
        title = decode_content(versions[r.version_id].content).title.say(r.lang, r.form_of_address)
        message = letter(
            lang=r.lang, address=r.form_of_address, first_name=person.first_name, last_name=person.last_name,
            org=org.name, title=title, link=link_of(public_url, token), until=r.expires_at, reminder=True,
        )  # fmt: skip
        await outbox.enqueue(
            session,
            org.id,
            kind="questionnaire_reminder",
            to=person.email,
            subject=message.subject,
            body_text=message.body,
        )
        report.reminded += 1
    return len(rows)


async def send_due(db: Database, org_id: uuid.UUID, now: datetime, public_url: str) -> Report:
    """Send every invitation and reminder of one organisation due at ``now``; idempotent."""
    report = Report()
    steps = [_send_scheduled, _send_reminders]
    while steps:
        async with db.tenant(org_id) as session:
            org = await session.get(Organization, org_id)
            if org is None:
                return report
            steps = [step for step in steps if await step(session, org, now, public_url, report) >= BATCH]
    if report.total or report.skipped:
        report.organisations.add(org_id)
        log.info(
            "questionnaires sent",
            org_id=str(org_id),
            invited=report.invited,
            skipped=report.skipped,
            reminded=report.reminded,
        )
    return report


async def run_once(db: Database, now: datetime, public_url: str) -> Report:
    """The scan and every organisation's sending in one call (what the worker fans out)."""
    total = Report()
    for org_id in await organisations_due(db, now):
        r = await send_due(db, org_id, now, public_url)
        total.invited += r.invited
        total.skipped += r.skipped
        total.reminded += r.reminded
        total.organisations |= r.organisations
    return total


def invitation_out(i: QuestionnaireInvitation, name: str, link: str | None = None) -> InvitationOut:
    return InvitationOut(
        id=i.id,
        questionnaire_id=i.questionnaire_id,
        match_id=i.match_id,
        contact_id=i.contact_id,
        contact_name=name,
        audience=i.audience,
        lang=i.lang,
        sent_at=i.sent_at,
        expires_at=i.expires_at,
        reminded_at=i.reminded_at,
        submitted_at=i.submitted_at,
        revoked_at=i.revoked_at,
        link=link,
    )


async def _match(session: AsyncSession, match_id: uuid.UUID) -> Match:
    found = (await session.execute(select(Match).where(Match.id == match_id))).scalar_one_or_none()
    if found is None:
        raise NotFound(N_("no such match"))
    return found


async def audience_of(session: AsyncSession, match: Match, audience: str) -> list[uuid.UUID]:
    if audience == "mentor":
        return [match.mentor_id]
    if audience == "mentee":
        return [match.mentee_id]
    rows = await session.execute(
        select(ContactLink.contact_id)
        .where(ContactLink.related_id == match.mentee_id, ContactLink.kind == "guardian_of")
        .order_by(ContactLink.contact_id)
    )
    return list(rows.scalars())


async def send_by_hand(
    session: AsyncSession, actor: Actor, match_id: uuid.UUID, data: SendIn, now: datetime, public_url: str
) -> SentOut:
    """A coordinator sends a questionnaire to one side of a tandem now."""
    match = await _match(session, match_id)
    q = (
        await session.execute(select(Questionnaire).where(Questionnaire.id == data.questionnaire_id))
    ).scalar_one_or_none()
    if q is None or q.archived_at is not None:
        raise ValidationFailed(N_("no such questionnaire"), field="questionnaire_id")
    if match.status == "proposed":
        raise ValidationFailed(N_("the tandem has not started yet"), field="match_id")
    contact_ids = await audience_of(session, match, data.audience)
    if not contact_ids:
        raise ValidationFailed(N_("this tandem has nobody in that role"), field="audience")
    settings = await get_settings(session)
    who = await people(session, contact_ids, settings.consent_required)
    version = await latest_version(session, q.id)
    org = await session.get(Organization, match.organization_id)
    assert org is not None
    out = SentOut(items=[], skipped=[])
    expires = now + timedelta(days=settings.link_valid_days)
    for cid in contact_ids:
        person = who.get(cid)
        if person is None:
            continue
        name = f"{person.first_name} {person.last_name}".strip()
        if person.reason is not None or not person.email:
            out.skipped.append({"contact_id": str(cid), "name": name, "reason": person.reason or "no_email"})
            continue
        token, digest = personal_links.issue(org.id)
        invitation = QuestionnaireInvitation(
            organization_id=org.id,
            id=new_id(),
            questionnaire_id=q.id,
            version_id=version.id,
            match_id=match.id,
            contact_id=cid,
            audience=data.audience,
            phase=data.phase,
            lang=person.lang,
            form_of_address=person.form_of_address,
            token_hash=digest,
            expires_at=expires,
            sent_at=now,
            created_by=actor.label,
        )
        session.add(invitation)
        link = link_of(public_url, token)
        title = decode_content(version.content).title.say(person.lang, person.form_of_address)
        message = letter(
            lang=person.lang, address=person.form_of_address, first_name=person.first_name,
            last_name=person.last_name, org=org.name, title=title, link=link, until=expires, reminder=False,
        )  # fmt: skip
        await session.flush()
        await outbox.enqueue(
            session,
            org.id,
            kind="questionnaire",
            to=person.email,
            subject=message.subject,
            body_text=message.body,
        )
        out.items.append(invitation_out(invitation, name, link))
    return out


async def list_for_match(session: AsyncSession, match_id: uuid.UUID) -> list[InvitationOut]:
    await _match(session, match_id)
    rows = await session.execute(
        select(QuestionnaireInvitation, Contact.first_name, Contact.last_name)
        .join(Contact, Contact.id == QuestionnaireInvitation.contact_id)
        .where(QuestionnaireInvitation.match_id == match_id, QuestionnaireInvitation.skipped.is_(None))
        .order_by(QuestionnaireInvitation.sent_at.desc(), QuestionnaireInvitation.id)
    )
    return [invitation_out(i, f"{f} {last}".strip()) for i, f, last in rows.all()]


async def get_invitation(session: AsyncSession, invitation_id: uuid.UUID) -> QuestionnaireInvitation:
    found = (
        await session.execute(
            select(QuestionnaireInvitation).where(QuestionnaireInvitation.id == invitation_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(N_("no such invitation"))
    return found


async def revoke(session: AsyncSession, invitation_id: uuid.UUID, now: datetime) -> InvitationOut:
    row = (
        await session.execute(
            select(QuestionnaireInvitation, Contact.first_name, Contact.last_name)
            .join(Contact, Contact.id == QuestionnaireInvitation.contact_id)
            .where(QuestionnaireInvitation.id == invitation_id)
            .with_for_update(of=QuestionnaireInvitation)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(N_("no such invitation"))
    invitation, first, last = row
    if invitation.revoked_at is None and invitation.submitted_at is None:
        invitation.revoked_at = now
        await session.flush()
    return invitation_out(invitation, f"{first} {last}".strip())


def utcnow() -> datetime:
    return datetime.now(UTC)
