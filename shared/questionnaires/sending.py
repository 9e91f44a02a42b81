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

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

import msgspec
from babel.dates import format_date
from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Uuid,
    bindparam,
    select,
    text,
)
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
    SCAN_ROW,
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
# The cross-organisation sweep: organisations per transaction (each group's due occurrences are
# read in one statement, usually one batch), occurrences per batch, and groups sent at once.
SWEEP_ORGANISATIONS = 20
SWEEP_BATCH = 5000
SWEEP_LANES = 2
SWEEP_CONTEXT = "questionnaire sweep: due invitations of many organisations"
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
    WHERE s.active AND {orgs} AND (
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
      -- A reminder comes a whole number of days (at least one) after the invitation: this bound is
      -- what the partial index on open invitations can serve; the organisation's own comes next.
      AND i.sent_at <= CAST(:now AS timestamptz) - interval '1 day'
      AND COALESCE(qs.reminder_after_days, 7) > 0
      AND i.sent_at <= :now - make_interval(days => COALESCE(qs.reminder_after_days, 7))
      AND (m.status <> 'ended' OR s.trigger = 'end')
"""

# A batch's invitations and their e-mails in one statement: only the invitations this transaction
# inserted get an e-mail (an occurrence another worker wrote first conflicts on the unique key and
# is left out), in the same transaction, so each goes out exactly once.
_UUIDS = "orgs ids questionnaires versions schedules matches contacts mail_orgs mail_ids mail_invitations"
_STRINGS = "audiences phases langs addresses skipped mail_to mail_subjects mail_bodies"
_WRITE = text(
    """
    WITH invited AS (
        INSERT INTO questionnaire_invitations (organization_id, id, questionnaire_id, version_id,
            schedule_id, match_id, contact_id, audience, occurrence, phase, lang, form_of_address,
            token_hash, expires_at, sent_at, skipped, created_by)
        SELECT x.org, x.id, x.questionnaire_id, x.version_id, x.schedule_id, x.match_id, x.contact_id,
               x.audience, x.occurrence, x.phase, x.lang, x.address, x.token_hash, x.expires, :now,
               x.skipped, 'codo'
        FROM unnest(:orgs, :ids, :questionnaires, :versions, :schedules, :matches, :contacts, :audiences,
                    :occurrences, :phases, :langs, :addresses, :hashes, :expires, :skipped)
             AS x(org, id, questionnaire_id, version_id, schedule_id, match_id, contact_id, audience,
                  occurrence, phase, lang, address, token_hash, expires, skipped)
        ON CONFLICT DO NOTHING
        RETURNING organization_id, id
    ), mails AS (
        INSERT INTO outbox (organization_id, id, kind, to_address, subject, body_text)
        SELECT m.org, m.id, 'questionnaire', m.address, m.subject, m.body
        FROM unnest(:mail_orgs, :mail_ids, :mail_invitations, :mail_to, :mail_subjects, :mail_bodies)
             AS m(org, id, invitation, address, subject, body)
        JOIN invited v ON v.organization_id = m.org AND v.id = m.invitation
        RETURNING 1
    )
    SELECT v.organization_id, v.id, (SELECT count(*) FROM mails) AS mails FROM invited v
    """
).bindparams(
    *(bindparam(name, type_=ARRAY(Uuid())) for name in _UUIDS.split()),
    *(bindparam(name, type_=ARRAY(String())) for name in _STRINGS.split()),
    bindparam("occurrences", type_=ARRAY(Integer())),
    bindparam("hashes", type_=ARRAY(LargeBinary())),
    bindparam("expires", type_=ARRAY(DateTime(timezone=True))),
)

# Organisations that may have occurrences newly due: an active schedule, and not checked today at
# the revision their scan row has now (migration 0023_scheduled_sends). Everything else is quiet.
_UNCHECKED = text(
    """
    SELECT s.organization_id, COALESCE(max(k.revision), 0) AS revision
    FROM questionnaire_schedules s
    LEFT JOIN questionnaire_scans k ON k.organization_id = s.organization_id AND k.id = :scan_row
    WHERE s.active
    GROUP BY s.organization_id
    HAVING bool_or(k.checked_on IS DISTINCT FROM CAST(:today AS date)
                   OR k.checked_revision IS DISTINCT FROM k.revision)
    """
)

# Records that everything due today is written for these organisations, as of the revision read
# before the due occurrences were: a write committed since has bumped the revision, and the
# condition leaves such an organisation unchecked for the next scan.
_CHECKED = text(
    """
    INSERT INTO questionnaire_scans (organization_id, id, revision, checked_on, checked_revision)
    SELECT x.org, :scan_row, x.revision, :today, x.revision FROM unnest(:orgs, :revisions) AS x(org, revision)
    ON CONFLICT (organization_id, id) DO UPDATE
    SET checked_on = excluded.checked_on, checked_revision = excluded.checked_revision
    WHERE questionnaire_scans.revision = excluded.checked_revision
    """
).bindparams(bindparam("orgs", type_=ARRAY(Uuid())), bindparam("revisions", type_=ARRAY(BigInteger())))


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


def _orgs(sql: str, condition: str) -> str:
    return sql.replace("{orgs}", condition)


_DUE_ORGS = text(
    _orgs(f"SELECT DISTINCT organization_id FROM ({_RECIPIENTS}) x", "s.organization_id = ANY(:orgs)")  # noqa: S608
).bindparams(bindparam("orgs", type_=ARRAY(Uuid())))
_REMINDER_ORGS = text(f"SELECT DISTINCT organization_id FROM ({_REMINDERS}) y")  # noqa: S608


@dataclass
class Scan:
    """What the scan found: organisations with invitations due, and with reminders due."""

    invitations: list[uuid.UUID]
    reminders: list[uuid.UUID]

    @property
    def organisations(self) -> list[uuid.UUID]:
        return sorted(set(self.invitations) | set(self.reminders))


async def scan(db: Database, now: datetime) -> Scan:
    """The cross-organisation scan: which organisations have invitations or reminders due.

    Only organisations not yet checked today at their current revision are joined with their
    tandems; those among them with nothing due are recorded as checked, so a quiet scan reads one
    row per organisation with a schedule and the open invitations sent more than a day ago."""
    days = _days(now)
    async with db.system_context("questionnaire scan: organisations with questionnaires due") as session:
        found = await session.execute(_UNCHECKED, {**days, "scan_row": SCAN_ROW})
        unchecked = {r.organization_id: r.revision for r in found}
        due: list[uuid.UUID] = []
        if unchecked:
            due = list((await session.execute(_DUE_ORGS, {**days, "orgs": list(unchecked)})).scalars())
            quiet = [o for o in unchecked if o not in set(due)]
            if quiet:
                revisions = [unchecked[o] for o in quiet]
                await session.execute(
                    _CHECKED, {"orgs": quiet, "revisions": revisions, "scan_row": SCAN_ROW, **days}
                )
        reminders = list((await session.execute(_REMINDER_ORGS, {"now": now})).scalars())
    return Scan(invitations=due, reminders=reminders)


async def organisations_due(db: Database, now: datetime) -> list[uuid.UUID]:
    """Which organisations have invitations or reminders due: the only cross-organisation read."""
    return (await scan(db, now)).organisations


# One batch of due invitations with all that writing them needs: the person's address, language,
# form of address and consents, the questionnaire's latest version and the organisation's
# settings, so a batch costs one read whatever its size.
_BATCH = f"""
    SELECT r.organization_id, o.name AS org_name, r.schedule_id, r.questionnaire_id, r.audience, r.phase,
           r.match_id, r.occurrence, r.contact_id, v.id AS version_id, v.content -> 'title' AS title,
           c.email, c.languages, COALESCE(c.preferred_name, c.first_name) AS first_name, c.last_name,
           c.erased_at, p.form_of_address,
           ({_CONSENT.format(purpose=":email_consent")}) AS email_consent,
           ({_CONSENT.format(purpose=":consent")}) AS consent,
           COALESCE(qs.consent_required, false) AS consent_required,
           COALESCE(qs.link_valid_days, 21) AS link_valid_days
    FROM ({_RECIPIENTS} ORDER BY d.organization_id, d.schedule_id, d.match_id LIMIT :batch) r
    JOIN organizations o ON o.id = r.organization_id
    CROSS JOIN LATERAL (
        SELECT v.id, v.content FROM questionnaire_versions v
        WHERE v.organization_id = r.organization_id AND v.questionnaire_id = r.questionnaire_id
        ORDER BY v.number DESC LIMIT 1) v
    JOIN contacts c ON c.organization_id = r.organization_id AND c.id = r.contact_id
    LEFT JOIN intake_profiles p ON p.organization_id = c.organization_id AND p.contact_id = c.id
    LEFT JOIN questionnaire_settings qs ON qs.organization_id = r.organization_id
"""  # noqa: S608


_BATCH_ONE = text(_orgs(_BATCH, "s.organization_id = :org"))
_BATCH_MANY = text(_orgs(_BATCH, "s.organization_id = ANY(:orgs)")).bindparams(
    bindparam("orgs", type_=ARRAY(Uuid()))
)
_REVISIONS = text(
    "SELECT organization_id, revision FROM questionnaire_scans "
    "WHERE id = :scan_row AND organization_id = ANY(:orgs)"
).bindparams(bindparam("orgs", type_=ARRAY(Uuid())))


def _columns(names: str) -> dict[str, list[Any]]:
    return {n: [] for n in names.split()}


def _append(columns: dict[str, list[Any]], *values: object) -> None:
    for column, value in zip(columns.values(), values, strict=True):
        column.append(value)


async def _invite_batch(
    session: AsyncSession, orgs: list[uuid.UUID], now: datetime, public_url: str, batch: int
) -> tuple[int, Counter[uuid.UUID], Counter[uuid.UUID]]:
    """Write one batch of due invitations of ``orgs`` (one organisation in its own scope, or many in
    the system context): (occurrences read, invited per organisation, skipped per organisation).

    A batch that is not full has written everything due of these organisations today: it records
    them as checked, as of their revisions read before the due occurrences were."""
    days = _days(now)
    revisions = {
        r.organization_id: r.revision
        for r in await session.execute(_REVISIONS, {"orgs": orgs, "scan_row": SCAN_ROW})
    }
    params = {**days, "batch": batch, "email_consent": EMAIL_CONSENT, "consent": CONSENT}
    if len(orgs) == 1:
        rows = (await session.execute(_BATCH_ONE, {**params, "org": orgs[0]})).all()
    else:
        rows = (await session.execute(_BATCH_MANY, {**params, "orgs": orgs})).all()
    invited: Counter[uuid.UUID] = Counter()
    skipped: Counter[uuid.UUID] = Counter()
    if rows:
        columns = _columns(
            "orgs ids questionnaires versions schedules matches contacts audiences occurrences phases langs "
            "addresses hashes expires skipped"
        )
        mails = _columns("mail_orgs mail_ids mail_invitations mail_to mail_subjects mail_bodies")
        titles: dict[tuple[uuid.UUID, str, str], str] = {}
        for r in rows:
            person = _person(r, r.consent_required)
            token, digest = personal_links.issue(r.organization_id)
            invitation_id = new_id()
            expires = now + timedelta(days=r.link_valid_days)
            _append(columns, r.organization_id, invitation_id, r.questionnaire_id, r.version_id,
                    r.schedule_id, r.match_id, r.contact_id, r.audience, r.occurrence, r.phase, person.lang,
                    person.form_of_address, digest, expires, person.reason)  # fmt: skip
            if person.reason is None and person.email and outbox._valid_address(person.email):
                which = (r.version_id, person.lang, person.form_of_address)
                if which not in titles:
                    titles[which] = msgspec.convert(r.title, Wording).say(person.lang, person.form_of_address)
                message = letter(
                    lang=person.lang, address=person.form_of_address, first_name=person.first_name,
                    last_name=person.last_name, org=r.org_name, title=titles[which],
                    link=link_of(public_url, token), until=expires, reminder=False,
                )  # fmt: skip
                _append(mails, r.organization_id, new_id(), invitation_id, person.email, message.subject,
                        message.body)  # fmt: skip
        # One statement over arrays, whatever the batch size: prepared once, one round trip.
        won = (await session.execute(_WRITE, {"now": now, **columns, **mails})).all()
        mailed = set(mails["mail_invitations"])
        for w in won:
            (invited if w.id in mailed else skipped)[w.organization_id] += 1
        if won and won[0].mails:
            queue.wake_outbox(session)
    if len(rows) < batch:
        await session.execute(
            _CHECKED,
            {"orgs": orgs, "revisions": [revisions.get(o, 0) for o in orgs], "scan_row": SCAN_ROW, **days},
        )
    return len(rows), invited, skipped


async def _send_scheduled(
    session: AsyncSession, org: Organization, now: datetime, public_url: str, report: Report
) -> int:
    count, invited, skipped = await _invite_batch(session, [org.id], now, public_url, BATCH)
    report.invited += invited[org.id]
    report.skipped += skipped[org.id]
    return count


async def send_invitations(
    db: Database,
    orgs: list[uuid.UUID],
    now: datetime,
    public_url: str,
    *,
    chunk: int = SWEEP_ORGANISATIONS,
    batch: int = SWEEP_BATCH,
    lanes: int = SWEEP_LANES,
) -> Report:
    """The due invitations of many organisations, ``chunk`` organisations per transaction.

    The scan's cross-organisation sending: each batch reads the due occurrences of its
    organisations with everything their letters need in one statement and writes the invitations
    and e-mails in a second, then commits. Two workers sending the same organisations at once
    both try to insert each occurrence; the unique key lets one of them win, and only the winner's
    e-mail is written. A worker killed halfway commits nothing of its current batch. ``lanes``
    groups are sent at once: one renders its letters while the database writes the other's."""
    report = Report()
    gate = asyncio.Semaphore(max(lanes, 1))

    async def part(orgs: list[uuid.UUID]) -> None:
        async with gate:
            while True:
                async with db.system_context(SWEEP_CONTEXT) as session:
                    count, invited, skipped = await _invite_batch(session, orgs, now, public_url, batch)
                report.invited += sum(invited.values())
                report.skipped += sum(skipped.values())
                report.organisations.update(o for o in orgs if invited[o] or skipped[o])
                if count < batch:
                    return

    await asyncio.gather(*(part(orgs[start : start + chunk]) for start in range(0, len(orgs), chunk)))
    if report.invited or report.skipped:
        log.info(
            "questionnaires swept",
            invited=report.invited,
            skipped=report.skipped,
            organisations=len(report.organisations),
        )
    return report


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


_REMINDED = text(
    """
    UPDATE questionnaire_invitations i SET reminded_at = :now, reminder_token_hash = x.digest
    FROM unnest(:ids, :digests) AS x(id, digest)
    WHERE i.organization_id = :org AND i.id = x.id AND i.reminded_at IS NULL
    RETURNING i.id
    """
).bindparams(bindparam("ids", type_=ARRAY(Uuid())), bindparam("digests", type_=ARRAY(LargeBinary())))


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
    tokens = {r.id: personal_links.issue(org.id) for r in rows}
    # The rows are locked by this transaction: no other worker reminds them; the condition keeps a
    # rerun of a committed reminder from sending it again. One statement for the whole batch.
    done = set(
        (
            await session.execute(
                _REMINDED,
                # The organisation named: the policy is no index condition, the key (organization_id, id) is.
                {"now": now, "org": org.id, "ids": list(tokens), "digests": [d for _, d in tokens.values()]},
            )
        ).scalars()
    )
    mails: list[tuple[str, Letter]] = []
    for r in rows:
        person = who.get(r.contact_id)
        if r.id not in done or person is None or not person.email:
            continue
        title = decode_content(versions[r.version_id].content).title.say(r.lang, r.form_of_address)
        message = letter(
            lang=r.lang, address=r.form_of_address, first_name=person.first_name, last_name=person.last_name,
            org=org.name, title=title, link=link_of(public_url, tokens[r.id][0]), until=r.expires_at,
            reminder=True,
        )  # fmt: skip
        mails.append((person.email, message))
    await _enqueue_many(session, org.id, "questionnaire_reminder", mails)
    report.reminded += len(mails)
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
    """The scan and all sending in one call, as the worker does it: the invitations of every
    organisation swept many organisations at a time, then each organisation's reminders."""
    found = await scan(db, now)
    total = await send_invitations(db, found.invitations, now, public_url)
    for org_id in found.reminders:
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
