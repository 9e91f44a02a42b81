"""Reminders and the daily digest: what is due up to now and not yet sent, sent exactly once.

The scan asks the database, never the clock of one cron tick: everything whose reminder time
has passed (within a horizon) and that has no row in ``reminders_sent`` is due, so a run
missed while no worker was up is made good by the next one. Each reminder claims its row in
``reminders_sent`` (unique per organisation, kind, subject, member and period) in the same
transaction that writes its e-mail to the outbox and its in-app notification: two workers
racing for it block on the unique key and only one of them writes anything; a worker killed
halfway commits nothing, and the next run finds the reminder still due.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, String, Uuid, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from shared import outbox, queue
from shared.db import Database
from shared.ids import new_id
from shared.logs import get_logger
from shared.models import Organization
from shared.tasks import contact_mail, messages, notify, recurrence
from shared.tasks.models import (
    DEFAULT_TIMEZONE,
    Appointment,
    AppointmentParticipant,
)

log = get_logger(__name__)

# A reminder more than this late is no longer useful (the worker was down for days).
HORIZON = timedelta(hours=36)
DIGEST_AT = time(7, 0)
BATCH = 500
# The cross-organisation sweep: organisations per transaction, task reminders per batch, and
# groups of organisations sent at once.
SWEEP_ORGANISATIONS = 20
SWEEP_BATCH = 2000
SWEEP_LANES = 2
SWEEP_CONTEXT = "reminder sweep: due task reminders of every organisation"

# What is due: reminder time passed (within the horizon) and ``reminded_at`` not yet set. The
# partial indexes on exactly this predicate keep the scan proportional to the work left, not to
# all reminders ever sent. ``reminded_at`` is only a shortcut: the ledger below decides.
_DUE_TASKS = """
    SELECT t.organization_id, t.id FROM tasks t
    WHERE t.status = 'open' AND t.assignee_id IS NOT NULL AND t.reminded_at IS NULL
      AND t.remind_at <= :now AND t.remind_at > :since
"""

_DUE_ORGS = f"SELECT DISTINCT organization_id FROM ({_DUE_TASKS}) x"  # noqa: S608

_DUE_APPOINTMENTS = """
    SELECT a.organization_id, a.id FROM appointments a
    WHERE a.status <> 'cancelled' AND a.reminded_at IS NULL
      AND a.remind_at <= :now AND a.remind_at > :since AND a.ends_at > :now
"""

# The period of a task or appointment reminder is its reminder instant (epoch seconds):
# moving the due date or the appointment makes a new reminder; nothing else does. Rows another
# worker is sending right now are skipped, not waited for.
#
# One statement claims a whole batch of due task reminders, of one organisation or (in the system
# context) of all of them: it locks the tasks, marks them and returns everything their messages
# need but the recipients (read next, once per member), so a batch costs three round trips whatever
# its size and however many organisations it spans. Marking ``reminded_at``
# here is safe: the ledger rows are written in the same transaction, and a rollback undoes both.
_TASK_CLAIM = """
    WITH due AS (
        SELECT t.organization_id, t.id FROM tasks t
        WHERE t.status = 'open' AND t.assignee_id IS NOT NULL AND t.reminded_at IS NULL
          AND t.remind_at <= :now AND t.remind_at > :since {org_condition}
        ORDER BY t.remind_at
        LIMIT :batch
        FOR UPDATE OF t SKIP LOCKED
    ), marked AS (
        UPDATE tasks t SET reminded_at = :now FROM due
        WHERE t.organization_id = due.organization_id AND t.id = due.id
        RETURNING t.organization_id, t.id, t.assignee_id AS member_id, t.title, t.due_date, t.due_time,
                  t.due_at, t.timezone, (extract(epoch from t.remind_at)::bigint)::text AS period
    )
    SELECT * FROM marked
"""
# Address, language, channel choice and organisation (for the links) of the members a batch
# reminds, by primary key each (a batch of thousands of tasks usually names a few members per
# organisation).
_TASK_RECIPIENTS = text(
    """
    SELECT x.o AS organization_id, x.m AS member_id, u.email, u.locale, o.slug,
           np.email AS wants_email, np.in_app AS wants_in_app
    FROM unnest(:orgs, :members) AS x(o, m)
    JOIN memberships ms ON ms.organization_id = x.o AND ms.id = x.m
    JOIN users u ON u.id = ms.user_id
    JOIN organizations o ON o.id = x.o
    LEFT JOIN notification_preferences np ON np.organization_id = x.o AND np.membership_id = x.m
         AND np.kind = 'task_due'
    """
).bindparams(bindparam("orgs", type_=ARRAY(Uuid())), bindparam("members", type_=ARRAY(Uuid())))
_TASK_CLAIM_ONE = text(_TASK_CLAIM.format(org_condition="AND t.organization_id = :org"))
# Many organisations at once, named: the row-level policy is no index condition, and without the
# organisations the claim reads every task of every organisation again for each batch.
_TASK_CLAIM_MANY = text(_TASK_CLAIM.format(org_condition="AND t.organization_id = ANY(:orgs)")).bindparams(
    bindparam("orgs", type_=ARRAY(Uuid()))
)

# The ledger rows, the e-mails and the in-app notifications of a batch in one statement: only the
# messages whose ledger row this transaction inserted are written (a reminder another worker has
# already claimed for the same period conflicts and is left out), all in the caller's transaction.
# One row per reminder carries all three: a message id is NULL where that channel is off, and the
# e-mail's subject is the notification's title.
_TASK_WRITE = text(
    """
    WITH x AS MATERIALIZED (
        SELECT * FROM unnest(:orgs, :ids, :tasks, :members, :periods, :mail_ids, :mail_to, :titles,
                             :texts, :html, :note_ids, :bodies, :links)
            AS x(o, i, task, m, p, mail, t, title, b, h, note, body, l)
    ), won AS (
        INSERT INTO reminders_sent (organization_id, id, kind, subject_id, membership_id, period)
        SELECT o, i, 'task_due', task, m, p FROM x
        ON CONFLICT DO NOTHING
        RETURNING organization_id, id, subject_id
    ), mails AS (
        INSERT INTO outbox (organization_id, id, kind, to_address, subject, body_text, body_html)
        SELECT x.o, x.mail, 'task_due', x.t, x.title, x.b, x.h
        FROM x JOIN won w ON w.organization_id = x.o AND w.id = x.i
        WHERE x.mail IS NOT NULL
        RETURNING 1
    ), notes AS (
        INSERT INTO notifications (organization_id, id, membership_id, kind, title, body, link)
        SELECT x.o, x.note, x.m, 'task_due', x.title, x.body, x.l
        FROM x JOIN won w ON w.organization_id = x.o AND w.id = x.i
        WHERE x.note IS NOT NULL
        RETURNING 1
    )
    SELECT w.organization_id, w.subject_id, (SELECT count(*) FROM mails) AS mails FROM won w
    """
).bindparams(
    *(bindparam(n, type_=ARRAY(Uuid())) for n in ("orgs", "ids", "tasks", "members", "mail_ids", "note_ids")),
    *(
        bindparam(n, type_=ARRAY(String()))
        for n in ("periods", "mail_to", "titles", "texts", "html", "bodies", "links")
    ),
)

# The write's columns in order: the ledger row's, then the e-mail's and the notification's.
_LEDGER_COLUMNS = ("orgs", "ids", "tasks", "members", "periods")
_MESSAGE_COLUMNS = ("mail_ids", "mail_to", "titles", "texts", "html", "note_ids", "bodies", "links")
_WRITE_COLUMNS = _LEDGER_COLUMNS + _MESSAGE_COLUMNS
_NO_MESSAGE = (None,) * len(_MESSAGE_COLUMNS)

_APPOINTMENT_BATCH = """
    SELECT a.id, a.title, a.starts_at, a.ends_at, a.timezone, a.location, a.video_url,
           (extract(epoch from a.remind_at)::bigint)::text AS period
    FROM appointments a
    WHERE a.status <> 'cancelled' AND a.reminded_at IS NULL
      AND a.remind_at <= :now AND a.remind_at > :since AND a.ends_at > :now
    ORDER BY a.remind_at
    LIMIT :batch
    FOR UPDATE OF a SKIP LOCKED
"""

# Members who chose a digest and have none yet for their current local day.
_DUE_DIGESTS = """
    SELECT n.organization_id, n.membership_id AS member_id
    FROM notification_preferences n
    WHERE n.kind = 'digest' AND (n.email OR n.in_app) AND CAST(:digest_open AS boolean)
      AND NOT EXISTS (
        SELECT 1 FROM reminders_sent r
        WHERE r.organization_id = n.organization_id AND r.kind = 'digest'
          AND r.subject_id = n.membership_id AND r.membership_id = n.membership_id AND r.period = :day)
"""


_CLAIM = text(
    """
    INSERT INTO reminders_sent (organization_id, id, kind, subject_id, membership_id, period)
    SELECT :org, i, :kind, s, m, p FROM unnest(:ids, :subjects, :members, :periods) AS x(i, s, m, p)
    ON CONFLICT DO NOTHING
    RETURNING subject_id, membership_id
    """
).bindparams(
    bindparam("org", type_=Uuid()),
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("subjects", type_=ARRAY(Uuid())),
    bindparam("members", type_=ARRAY(Uuid())),
    bindparam("periods", type_=ARRAY(String())),
)


@dataclass
class Report:
    tasks: int = 0
    appointments: int = 0
    digests: int = 0
    organisations: set[uuid.UUID] = field(default_factory=set)

    @property
    def total(self) -> int:
        return self.tasks + self.appointments + self.digests


def _params(now: datetime, tz: str = DEFAULT_TIMEZONE) -> dict[str, object]:
    local = recurrence.local_now(now, tz)
    return {
        "now": now,
        "since": now - HORIZON,
        "digest_open": local.time() >= DIGEST_AT,
        "day": local.date().isoformat(),
    }


async def organisations_due(db: Database, now: datetime) -> list[uuid.UUID]:
    """Which organisations have reminders or digests due: the only cross-organisation read."""
    # Built from the module's constant queries only; every value is a bound parameter.
    query = text(
        f"SELECT organization_id FROM ({_DUE_TASKS}) x UNION "  # noqa: S608
        f"SELECT organization_id FROM ({_DUE_APPOINTMENTS}) y UNION "
        f"SELECT organization_id FROM ({_DUE_DIGESTS}) z"
    )
    async with db.system_context("reminder scan: organisations with reminders due") as session:
        return list((await session.execute(query, _params(now))).scalars())


async def _claim(
    session: AsyncSession, org_id: uuid.UUID, kind: str, rows: list[tuple[uuid.UUID, uuid.UUID, str]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Insert ledger rows; the (subject, member) pairs this transaction won."""
    if not rows:
        return set()
    # One statement over arrays, whatever the batch size: prepared once, one round trip.
    result = await session.execute(
        _CLAIM,
        {
            "org": org_id,
            "kind": kind,
            "ids": [new_id() for _ in rows],
            "subjects": [subject for subject, _, _ in rows],
            "members": [member for _, member, _ in rows],
            "periods": [period for _, _, period in rows],
        },
    )
    return {(r.subject_id, r.membership_id) for r in result}


def _appointment_message(row: Row[tuple[object, ...]], lang: str, link: str) -> messages.Rendered:
    details = []
    if row.location:
        details.append(f"{messages.t(lang, 'location')}: {row.location}")
    if row.video_url:
        details.append(f"{messages.t(lang, 'video')}: {row.video_url}")
    return messages.render(
        lang,
        "appointment",
        intro_params={"title": row.title, "start": messages.when_text(row.starts_at, lang, row.timezone)},
        details=details,
        link=link,
    )


async def _task_batch(
    session: AsyncSession, now: datetime, public_url: str, orgs: list[uuid.UUID], batch: int
) -> tuple[int, Counter[uuid.UUID]]:
    """Claim and write one batch of task reminders: (tasks claimed, reminders per organisation).

    Several organisations need the system context (the caller holds it)."""
    params = {**_params(now), "batch": batch}
    if len(orgs) == 1:
        rows = (await session.execute(_TASK_CLAIM_ONE, {**params, "org": orgs[0]})).all()
    else:
        rows = (await session.execute(_TASK_CLAIM_MANY, {**params, "orgs": orgs})).all()
    if not rows:
        return 0, Counter()
    pairs = list({(r.organization_id, r.member_id) for r in rows})
    people = {
        (p.organization_id, p.member_id): p
        for p in await session.execute(
            _TASK_RECIPIENTS, {"orgs": [o for o, _ in pairs], "members": [m for _, m in pairs]}
        )
    }
    base = public_url.rstrip("/")
    default_email, default_in_app = notify.DEFAULTS["task_due"]
    # Per member once: where the messages go and in which language; per task only its texts.
    channels: dict[tuple[uuid.UUID, uuid.UUID], tuple[str, messages.Plain, str | None, bool]] = {}
    for key, who in people.items():
        email = default_email if who.wants_email is None else who.wants_email
        in_app = default_in_app if who.wants_in_app is None else who.wants_in_app
        lang = messages.language(who.locale)
        address = who.email if email and outbox._valid_address(who.email) else None
        channels[key] = (lang, messages.plain(lang, "task_due"), address, in_app)
    records: list[tuple[Any, ...]] = []
    addressed: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for r in rows:
        org_id, task_id, member_id = r.organization_id, r.id, r.member_id
        ledger = (org_id, new_id(), task_id, member_id, r.period)
        channel = channels.get((org_id, member_id))
        if channel is not None:
            addressed.add((org_id, task_id))
        if channel is None or (channel[2] is None and not channel[3]):
            # No longer a member, or every channel off: the ledger row still marks the reminder as done.
            records.append((*ledger, *_NO_MESSAGE))
            continue
        lang, plain, address, in_app = channel
        if r.due_time is None:
            due = messages.day_text(r.due_date, lang)
        else:
            due = messages.when_text(r.due_at, lang, r.timezone)
        slug = people[(org_id, member_id)].slug
        message = plain.render({"title": r.title, "due": due}, f"{base}/o/{slug}/tasks/{task_id}")
        records.append(
            (
                *ledger,
                *((new_id(), address) if address else (None, None)),
                message.subject[:300],
                *((message.text, message.html) if address else (None, None)),
                *((new_id(), message.text.split("\n", 1)[0], message.link[:500]) if in_app else (None,) * 3),
            )
        )
    write = dict(zip(_WRITE_COLUMNS, map(list, zip(*records, strict=True)), strict=True))
    won = (await session.execute(_TASK_WRITE, write)).all()
    if won and won[0].mails:
        queue.wake_outbox(session)
    return len(rows), Counter(
        w.organization_id for w in won if (w.organization_id, w.subject_id) in addressed
    )


async def _send_tasks(
    session: AsyncSession, org: Organization, now: datetime, public_url: str, report: Report
) -> int:
    claimed, sent = await _task_batch(session, now, public_url, [org.id], BATCH)
    report.tasks += sent[org.id]
    return claimed


async def sweep_tasks(
    db: Database,
    now: datetime,
    public_url: str,
    *,
    chunk: int = SWEEP_ORGANISATIONS,
    batch: int = SWEEP_BATCH,
    lanes: int = SWEEP_LANES,
) -> Report:
    """Every organisation's due task reminders, ``chunk`` organisations per transaction.

    The reminder scan's cross-organisation work: each batch claims its organisations' due tasks
    in one statement (``SKIP LOCKED``: workers sweeping at once share the work instead of
    waiting) and writes their ledger rows and messages in a second one, then commits. ``lanes``
    groups run at once, so one renders its batch while the database writes the other's. A worker
    killed halfway commits nothing of its current batches, and the next sweep finds those
    reminders still due."""
    report = Report()
    async with db.system_context(SWEEP_CONTEXT) as session:
        orgs = list((await session.execute(text(_DUE_ORGS), _params(now))).scalars())
    gate = asyncio.Semaphore(max(lanes, 1))

    async def part(group: list[uuid.UUID]) -> None:
        async with gate:
            while True:
                async with db.system_context(SWEEP_CONTEXT) as session:
                    claimed, sent = await _task_batch(session, now, public_url, group, batch)
                report.tasks += sum(sent.values())
                report.organisations.update(o for o, n in sent.items() if n)
                if claimed < batch:
                    return

    await asyncio.gather(*(part(orgs[i : i + chunk]) for i in range(0, len(orgs), chunk)))
    if report.tasks:
        log.info("task reminders swept", tasks=report.tasks, organisations=len(report.organisations))
    return report


async def _send_appointments(
    session: AsyncSession, org: Organization, now: datetime, public_url: str, report: Report
) -> int:
    rows = (await session.execute(text(_APPOINTMENT_BATCH), {**_params(now), "batch": BATCH})).all()
    if not rows:
        return 0
    participants = (
        await session.execute(
            select(AppointmentParticipant.appointment_id, AppointmentParticipant.membership_id).where(
                AppointmentParticipant.appointment_id.in_([r.id for r in rows]),
                AppointmentParticipant.membership_id.is_not(None),
            )
        )
    ).all()
    by_id = {r.id: r for r in rows}
    pairs = [(a, m) for a, m in participants if m is not None]
    won = await _claim(session, org.id, "appointment", [(a, m, by_id[a].period) for a, m in pairs])
    people = await notify.recipients(session, {m for _, m in won})
    base = f"{public_url.rstrip('/')}/o/{org.slug}"
    out: list[tuple[notify.Recipient, str, messages.Rendered]] = []
    for appointment_id, member_id in pairs:
        if (appointment_id, member_id) in won and member_id in people:
            r = by_id[appointment_id]
            who = people[member_id]
            lang = messages.language(who.locale)
            link = f"{base}/calendar?start={r.starts_at.date().isoformat()}"
            out.append((who, "appointment", _appointment_message(r, lang, link)))
    await notify.deliver_many(session, org.id, out)
    report.appointments += len(out) + await _remind_contacts(session, by_id, now)
    await session.execute(
        update(Appointment).where(Appointment.id.in_(list(by_id))).values(reminded_at=now),
        execution_options={"synchronize_session": False},
    )
    return len(rows)


async def _remind_contacts(session: AsyncSession, by_id: dict[uuid.UUID, Row[Any]], now: datetime) -> int:
    """Contacts of the due appointments not yet reminded of this reminder instant (the rows of
    their appointments are locked by this transaction, so no other worker sends the same)."""
    rows = (
        await session.execute(
            select(AppointmentParticipant).where(
                AppointmentParticipant.appointment_id.in_(list(by_id)),
                AppointmentParticipant.contact_id.is_not(None),
            )
        )
    ).scalars()
    due: dict[uuid.UUID, list[AppointmentParticipant]] = {}
    for p in rows:
        if p.reminded_period != by_id[p.appointment_id].period:
            due.setdefault(p.appointment_id, []).append(p)
    sent = 0
    for appointment_id, participants in due.items():
        a = (await session.execute(select(Appointment).where(Appointment.id == appointment_id))).scalar_one()
        contact_ids = [p.contact_id for p in participants if p.contact_id is not None]
        sent += len(await contact_mail.send(session, a, contact_ids, "reminder", now))
        for p in participants:
            p.reminded_period = by_id[appointment_id].period
    return sent


async def _send_digests(
    session: AsyncSession, org: Organization, now: datetime, public_url: str, report: Report
) -> int:
    from shared.tasks import agenda

    params = _params(now)
    rows = (await session.execute(text(_DUE_DIGESTS + " LIMIT :batch"), {**params, "batch": BATCH})).all()
    day = str(params["day"])
    won = await _claim(session, org.id, "digest", [(r.member_id, r.member_id, day) for r in rows])
    people = await notify.recipients(session, {m for _, m in won})
    for r in rows:
        if (r.member_id, r.member_id) not in won or r.member_id not in people:
            continue
        who = people[r.member_id]
        lang = messages.language(who.locale)
        plan = await agenda.my_day(session, r.member_id, now)
        if not (plan.overdue or plan.tasks or plan.appointments):
            continue  # nothing to tell; the ledger row still marks the day as done
        overdue = messages.t(lang, "digest.overdue")
        task_lines = [f"{t.title} ({overdue})" for t in plan.overdue] + [
            f"{t.due_time} {t.title}" if t.due_time else t.title for t in plan.tasks
        ]
        appointment_lines = [
            f"{messages.when_text(a.starts_at, lang, a.timezone)}: {a.title}" for a in plan.appointments
        ]
        sections = [
            (heading, lines)
            for heading, lines in (
                (messages.t(lang, "digest.tasks"), task_lines),
                (messages.t(lang, "digest.appointments"), appointment_lines),
            )
            if lines
        ]
        message = messages.render(
            lang,
            "digest",
            intro_params={"day": messages.day_text(plan.day, lang)},
            sections=sections,
            link=f"{public_url.rstrip('/')}/o/{org.slug}/my-day",
        )
        await notify.deliver(session, org.id, who, "digest", message)
        report.digests += 1
    return len(rows)


async def send_due(db: Database, org_id: uuid.UUID, now: datetime, public_url: str) -> Report:
    """Send every reminder and digest of one organisation due at ``now``; idempotent."""
    report = Report()
    steps = [_send_tasks, _send_appointments, _send_digests]
    # One transaction per round; a round that filled a batch is followed by another for that kind.
    while steps:
        async with db.tenant(org_id) as session:
            org = await session.get(Organization, org_id)
            if org is None:
                return report
            steps = [step for step in steps if await step(session, org, now, public_url, report) >= BATCH]
    if report.total:
        report.organisations.add(org_id)
        log.info(
            "reminders sent",
            org_id=str(org_id),
            tasks=report.tasks,
            appointments=report.appointments,
            digests=report.digests,
        )
    return report


async def run_once(db: Database, now: datetime, public_url: str) -> Report:
    """The scan and every organisation's sending in one call (what the worker fans out)."""
    total = Report()
    for org_id in await organisations_due(db, now):
        r = await send_due(db, org_id, now, public_url)
        total.tasks += r.tasks
        total.appointments += r.appointments
        total.digests += r.digests
        total.organisations |= r.organisations
    return total
