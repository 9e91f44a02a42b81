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

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Row, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database
from shared.ids import new_id
from shared.logs import get_logger
from shared.models import Organization
from shared.tasks import messages, notify, recurrence
from shared.tasks.models import DEFAULT_TIMEZONE, ReminderSent

log = get_logger(__name__)

# A reminder more than this late is no longer useful (the worker was down for days).
HORIZON = timedelta(hours=36)
DIGEST_AT = time(7, 0)
BATCH = 500

# The period of a task or appointment reminder is its reminder instant (epoch seconds):
# moving the due date or the appointment makes a new reminder; nothing else does.
_DUE_TASKS = """
    SELECT t.organization_id, t.id, t.assignee_id AS member_id, t.title, t.due_date, t.due_time,
           t.due_at, t.timezone, (extract(epoch from t.remind_at)::bigint)::text AS period
    FROM tasks t
    WHERE t.status = 'open' AND t.assignee_id IS NOT NULL
      AND t.remind_at <= :now AND t.remind_at > :since
      AND NOT EXISTS (
        SELECT 1 FROM reminders_sent r
        WHERE r.organization_id = t.organization_id AND r.kind = 'task_due' AND r.subject_id = t.id
          AND r.membership_id = t.assignee_id
          AND r.period = (extract(epoch from t.remind_at)::bigint)::text)
"""

_DUE_APPOINTMENTS = """
    SELECT a.organization_id, a.id, p.membership_id AS member_id, a.title, a.starts_at, a.ends_at,
           a.timezone, a.location, a.video_url, (extract(epoch from a.remind_at)::bigint)::text AS period
    FROM appointments a
    JOIN appointment_participants p
      ON p.organization_id = a.organization_id AND p.appointment_id = a.id
    WHERE a.status <> 'cancelled' AND p.membership_id IS NOT NULL
      AND a.remind_at <= :now AND a.remind_at > :since AND a.ends_at > :now
      AND NOT EXISTS (
        SELECT 1 FROM reminders_sent r
        WHERE r.organization_id = a.organization_id AND r.kind = 'appointment' AND r.subject_id = a.id
          AND r.membership_id = p.membership_id
          AND r.period = (extract(epoch from a.remind_at)::bigint)::text)
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
    stmt = (
        insert(ReminderSent)
        .values(
            [
                {
                    "organization_id": org_id,
                    "id": new_id(),
                    "kind": kind,
                    "subject_id": subject,
                    "membership_id": member,
                    "period": period,
                }
                for subject, member, period in rows
            ]
        )
        .on_conflict_do_nothing()
        .returning(ReminderSent.subject_id, ReminderSent.membership_id)
    )
    return {(r.subject_id, r.membership_id) for r in await session.execute(stmt)}


def _task_message(row: Row[tuple[object, ...]], lang: str, link: str) -> messages.Rendered:
    due_date: date = row.due_date
    due = messages.day_text(due_date, lang)
    if row.due_time is not None:
        due = messages.when_text(row.due_at, lang, row.timezone)
    return messages.render(lang, "task_due", intro_params={"title": row.title, "due": due}, link=link)


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


async def _send_tasks(
    session: AsyncSession, org: Organization, now: datetime, public_url: str, report: Report
) -> int:
    rows = (
        await session.execute(
            text(_DUE_TASKS + " ORDER BY t.remind_at LIMIT :batch"), {**_params(now), "batch": BATCH}
        )
    ).all()
    won = await _claim(session, org.id, "task_due", [(r.id, r.member_id, r.period) for r in rows])
    people = await notify.recipients(session, {m for _, m in won})
    base = f"{public_url.rstrip('/')}/o/{org.slug}"
    for r in rows:
        if (r.id, r.member_id) in won and r.member_id in people:
            who = people[r.member_id]
            lang = messages.language(who.locale)
            await notify.deliver(
                session, org.id, who, "task_due", _task_message(r, lang, f"{base}/tasks/{r.id}")
            )
            report.tasks += 1
    return len(rows)


async def _send_appointments(
    session: AsyncSession, org: Organization, now: datetime, public_url: str, report: Report
) -> int:
    rows = (
        await session.execute(
            text(_DUE_APPOINTMENTS + " ORDER BY a.remind_at LIMIT :batch"), {**_params(now), "batch": BATCH}
        )
    ).all()
    won = await _claim(session, org.id, "appointment", [(r.id, r.member_id, r.period) for r in rows])
    people = await notify.recipients(session, {m for _, m in won})
    base = f"{public_url.rstrip('/')}/o/{org.slug}"
    for r in rows:
        if (r.id, r.member_id) in won and r.member_id in people:
            who = people[r.member_id]
            lang = messages.language(who.locale)
            link = f"{base}/calendar?start={r.starts_at.date().isoformat()}"
            await notify.deliver(session, org.id, who, "appointment", _appointment_message(r, lang, link))
            report.appointments += 1
    return len(rows)


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
    for step in (_send_tasks, _send_appointments, _send_digests):
        while True:
            async with db.tenant(org_id) as session:
                org = await session.get(Organization, org_id)
                if org is None:
                    return report
                seen = await step(session, org, now, public_url, report)
            if seen < BATCH:
                break
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
