"""Reminders and digests with a controllable clock, delivered to a real SMTP server, exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message

from sqlalchemy import func, select

from shared import outbox
from shared.actor import Actor
from shared.db import Database
from shared.models import OutboxMessage
from shared.permissions import Role
from shared.settings import Settings
from shared.tasks import appointments, messages, notify, reminders, tasks
from shared.tasks.models import ReminderSent
from shared.tasks.schemas import AppointmentCreate, Channels, TaskCreate, TaskPatch
from tests.conftest import Mailbox, Org
from tests.fixtures.tasks import Member, add_member

URL = "http://codo.test"


def subject(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def reminders_to(mailbox: Mailbox, address: str) -> list[Message]:
    return [m for m in mailbox.to(address) if not subject(m).startswith(("Neue Aufgabe", "New task"))]


def text_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())  # type: ignore[union-attr]
    raise AssertionError("no plain-text part")


async def make_task(
    db: Database, org: Org, member: Member, title: str, due: date, due_time: str | None
) -> uuid_t:
    async with db.tenant(org.id) as session:
        out = await tasks.create_task(
            session,
            Actor(
                role=Role.COORDINATOR, membership_id=member.id, org_id=org.id, slug=org.slug
            ),  # assigned by themselves: no assignment mail
            TaskCreate(title=title, due_date=due, due_time=due_time, assignee_id=member.id),
            datetime.now(UTC),
        )
    return out.id


uuid_t = __import__("uuid").UUID


async def ledger(db: Database, org: Org, subject: object) -> int:
    async with db.tenant(org.id) as session:
        return int(
            (
                await session.execute(
                    select(func.count()).select_from(ReminderSent).where(ReminderSent.subject_id == subject)
                )
            ).scalar_one()
        )


async def test_a_task_reminder_arrives_at_its_time_once_in_german(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    member = await add_member(db, org_a)
    task_id = await make_task(db, org_a, member, "Hausbesuch Familie Ahmadi", date(2027, 3, 29), "09:00")
    # 09:00 summer time in Berlin is 07:00 UTC; the reminder comes an hour earlier.
    remind_at = datetime(2027, 3, 29, 6, 0, tzinfo=UTC)
    early = await reminders.send_due(db, org_a.id, remind_at - timedelta(seconds=1), URL)
    await outbox.deliver_due(db, settings, worker="test")
    assert early.tasks == 0 and reminders_to(mailbox, member.email) == []

    on_time = await reminders.run_once(db, remind_at, URL)
    assert org_a.id in on_time.organisations
    await outbox.deliver_due(db, settings, worker="test")
    [mail] = await mailbox.wait_for(member.email)
    assert (
        subject(mail)
        == "Erinnerung: Hausbesuch Familie Ahmadi ist fällig am Montag, 29. März 2027, 09:00 Uhr"
    )
    assert mail.is_multipart()
    assert {p.get_content_type() for p in mail.walk()} >= {"text/plain", "text/html"}
    assert f"{URL}/o/{org_a.slug}/tasks/{task_id}" in text_part(mail)

    for later in (remind_at, remind_at + timedelta(minutes=1), remind_at + timedelta(hours=5)):
        assert (await reminders.send_due(db, org_a.id, later, URL)).tasks == 0
    await outbox.deliver_due(db, settings, worker="test")
    await asyncio.sleep(0.2)
    assert len(reminders_to(mailbox, member.email)) == 1
    assert await ledger(db, org_a, task_id) == 1
    async with db.tenant(org_a.id) as session:
        page = await notify.list_notifications(session, member.id, unread_only=True, limit=10, cursor=None)
    assert page.unread_count == 1 and page.items[0].kind == "task_due"


async def test_english_members_get_english_and_a_task_without_time_is_reminded_at_seven(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    member = await add_member(db, org_a, locale="en")
    await make_task(db, org_a, member, "Call the school", date(2027, 1, 15), None)
    seven_berlin = datetime(2027, 1, 15, 6, 0, tzinfo=UTC)
    assert (await reminders.send_due(db, org_a.id, seven_berlin - timedelta(minutes=1), URL)).tasks == 0
    assert (await reminders.send_due(db, org_a.id, seven_berlin, URL)).tasks == 1
    await outbox.deliver_due(db, settings, worker="test")
    [mail] = await mailbox.wait_for(member.email)
    assert subject(mail) == "Reminder: Call the school is due on Friday, January 15, 2027"


async def test_a_title_with_markup_and_percent_signs_arrives_as_written(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    member = await add_member(db, org_a, locale="en")
    title = '<b>Elternabend</b> & "100 %" %(due)s'
    task_id = await make_task(db, org_a, member, title, date(2027, 4, 20), "18:00")
    assert (await reminders.send_due(db, org_a.id, datetime(2027, 4, 20, 15, 30, tzinfo=UTC), URL)).tasks == 1
    await outbox.deliver_due(db, settings, worker="test")
    [mail] = await mailbox.wait_for(member.email)
    # A long subject is folded onto two header lines.
    assert " ".join(subject(mail).split()) == f"Reminder: {title} is due on Tuesday, 20 April 2027, 18:00"
    html = next(
        str(p.get_payload(decode=True).decode()) for p in mail.walk() if p.get_content_type() == "text/html"
    )  # type: ignore[union-attr]
    assert "<b>Elternabend" not in html and "&lt;b&gt;Elternabend&lt;/b&gt; &amp;" in html
    # The batch's texts are the ones the general renderer gives for the same reminder.
    link = f"{URL}/o/{org_a.slug}/tasks/{task_id}"
    expected = messages.render(
        "en", "task_due", intro_params={"title": title, "due": "Tuesday, 20 April 2027, 18:00"}, link=link
    )
    async with db.tenant(org_a.id) as session:
        row = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.to_address == member.email))
        ).scalar_one()
        page = await notify.list_notifications(session, member.id, unread_only=True, limit=10, cursor=None)
    assert (row.subject, row.body_text, row.body_html) == (expected.subject, expected.text, expected.html)
    [note] = page.items
    assert (note.title, note.body, note.link) == (expected.title, expected.text.split("\n")[0], link)


async def test_channels_follow_the_members_choice(db: Database, settings: Settings, org_a: Org) -> None:
    quiet = await add_member(db, org_a)
    app_only = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        await notify.set_preferences(session, org_a.id, quiet.id, {"task_due": Channels(False, False)})
        await notify.set_preferences(session, org_a.id, app_only.id, {"task_due": Channels(False, True)})
    day = date(2027, 2, 3)
    quiet_task = await make_task(db, org_a, quiet, "a", day, "10:00")
    await make_task(db, org_a, app_only, "b", day, "10:00")
    await reminders.send_due(db, org_a.id, datetime(2027, 2, 3, 8, 30, tzinfo=UTC), URL)
    async with db.tenant(org_a.id) as session:
        mails = (
            await session.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.to_address.in_([quiet.email, app_only.email]))
            )
        ).scalar_one()
        assert mails == 0
        assert (await notify.unread_count(session, app_only.id)) == 1
        assert (await notify.unread_count(session, quiet.id)) == 0
    assert await ledger(db, org_a, quiet_task) == 1, "a silenced reminder is still done, not retried forever"


async def test_moving_the_due_date_reminds_again_and_a_completed_task_not_at_all(
    db: Database, org_a: Org
) -> None:
    member = await add_member(db, org_a)
    moved = await make_task(db, org_a, member, "moved", date(2027, 6, 1), "12:00")
    done = await make_task(db, org_a, member, "done", date(2027, 6, 1), "12:00")
    actor = Actor(role=Role.COORDINATOR, membership_id=member.id, org_id=org_a.id, slug=org_a.slug)
    async with db.tenant(org_a.id) as session:
        await tasks.complete_task(session, actor, done, datetime.now(UTC))
    first = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
    assert (await reminders.send_due(db, org_a.id, first, URL)).tasks == 1
    async with db.tenant(org_a.id) as session:
        await tasks.update_task(
            session, actor, moved, TaskPatch(due_date=date(2027, 6, 2)), datetime.now(UTC)
        )
    assert (await reminders.send_due(db, org_a.id, first + timedelta(hours=1), URL)).tasks == 0
    assert (await reminders.send_due(db, org_a.id, first + timedelta(days=1), URL)).tasks == 1
    assert await ledger(db, org_a, moved) == 2 and await ledger(db, org_a, done) == 0


async def test_a_reminder_missed_for_a_day_is_still_sent_but_not_one_days_stale(
    db: Database, org_a: Org
) -> None:
    member = await add_member(db, org_a)
    await make_task(db, org_a, member, "late", date(2027, 8, 2), "12:00")
    # The workers were down from before the reminder time until a day later: still sent.
    assert (await reminders.send_due(db, org_a.id, datetime(2027, 8, 3, 9, 0, tzinfo=UTC), URL)).tasks == 1
    other = await make_task(db, org_a, member, "stale", date(2027, 8, 2), "12:00")
    assert (await reminders.send_due(db, org_a.id, datetime(2027, 8, 5, 9, 0, tzinfo=UTC), URL)).tasks == 0
    assert await ledger(db, org_a, other) == 0


async def test_appointment_reminders_go_to_each_participant_unless_cancelled(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    ben = await add_member(db, org_a, locale="en")
    starts = datetime(2027, 4, 12, 15, 0, tzinfo=UTC)
    async with db.tenant(org_a.id) as session:
        kept = await appointments.create(
            session,
            Actor(role=Role.COORDINATOR, membership_id=ana.id, org_id=org_a.id, slug=org_a.slug),
            AppointmentCreate(
                title="Kennenlernen",
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                member_ids=[ben.id],
                location="Café Kranzler",
                reminder_minutes=30,
            ),
        )
        dropped = await appointments.create(
            session,
            Actor(role=Role.COORDINATOR, membership_id=ana.id, org_id=org_a.id, slug=org_a.slug),
            AppointmentCreate(title="Abgesagt", starts_at=starts, ends_at=starts + timedelta(hours=1)),
        )
        await appointments.cancel(session, dropped.id, "krank", datetime.now(UTC))
    assert (await reminders.send_due(db, org_a.id, starts - timedelta(minutes=31), URL)).appointments == 0
    report = await reminders.send_due(db, org_a.id, starts - timedelta(minutes=30), URL)
    assert report.appointments == 2
    await outbox.deliver_due(db, settings, worker="test")
    [de] = await mailbox.wait_for(ana.email)
    [en] = await mailbox.wait_for(ben.email)
    assert subject(de) == "Erinnerung: Kennenlernen am Montag, 12. April 2027, 17:00 Uhr"
    assert subject(en) == "Reminder: Kennenlernen on Monday, 12 April 2027, 17:00"
    assert "Café Kranzler" in text_part(de)
    assert await ledger(db, org_a, kept.id) == 2 and await ledger(db, org_a, dropped.id) == 0


async def test_the_daily_digest_comes_once_after_seven_local_time(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    member = await add_member(db, org_a)
    silent = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        for who in (member, silent):
            await notify.set_preferences(
                session,
                org_a.id,
                who.id,
                {"digest": Channels(True, False), "task_due": Channels(False, False)},
            )
    await make_task(db, org_a, member, "Bericht schreiben", date(2027, 9, 14), None)
    await make_task(db, org_a, member, "Liegengeblieben", date(2027, 9, 10), None)
    before = datetime(2027, 9, 14, 4, 59, tzinfo=UTC)  # 06:59 in Berlin
    assert (await reminders.send_due(db, org_a.id, before, URL)).digests == 0
    at_seven = datetime(2027, 9, 14, 5, 0, tzinfo=UTC)
    assert (await reminders.send_due(db, org_a.id, at_seven, URL)).digests == 1, "nothing due for silent"
    assert (await reminders.send_due(db, org_a.id, at_seven + timedelta(hours=3), URL)).digests == 0
    await outbox.deliver_due(db, settings, worker="test")
    [digest] = await mailbox.wait_for(member.email)
    assert subject(digest) == "Ihr Tag bei codo: Dienstag, 14. September 2027"
    body = text_part(digest)
    assert "Bericht schreiben" in body and "Liegengeblieben (überfällig)" in body
    assert mailbox.to(silent.email) == []
    # The next day is a new digest.
    assert (await reminders.send_due(db, org_a.id, at_seven + timedelta(days=1), URL)).digests == 1


async def test_two_concurrent_senders_send_each_reminder_once(
    db: Database, settings: Settings, org_a: Org, org_b: Org
) -> None:
    second = Database.from_settings(settings)
    try:
        made: list[tuple[Org, object]] = []
        for org in (org_a, org_b):
            member = await add_member(db, org)
            for i in range(15):
                made.append((org, await make_task(db, org, member, f"t{i}", date(2027, 10, 5), "10:00")))
        now = datetime(2027, 10, 5, 8, 0, tzinfo=UTC)
        runs = await asyncio.gather(
            *(reminders.send_due(d, org.id, now, URL) for org in (org_a, org_b) for d in (db, second))
        )
        assert sum(r.tasks for r in runs) == 30
        assert Counter([await ledger(db, org, t) for org, t in made]) == {1: 30}
    finally:
        await second.dispose()


async def test_one_sweep_over_many_organisations_gives_each_exactly_its_own_reminders(
    db: Database, settings: Settings
) -> None:
    """The worker's cross-organisation sweep: batches smaller than one organisation's work and
    spanning several organisations, two sweepers at once; each organisation's members get their
    own tasks' reminders, once, with their own organisation's links, and nothing of another."""
    from tests.conftest import create_org

    orgs = [await create_org(db) for _ in range(6)]
    due = date(2031, 5, 14)
    now = datetime(2031, 5, 14, 8, 0, tzinfo=UTC)  # 10:00 summer time in Berlin: an hour before 11:00
    expected: dict[uuid_t, dict[str, str]] = {}  # organisation -> task title -> assignee's address
    members: dict[uuid_t, list[Member]] = {}
    for n, org in enumerate(orgs):
        members[org.id] = [await add_member(db, org), await add_member(db, org, locale="en")]
        expected[org.id] = {}
        for i in range(n + 3):
            member = members[org.id][i % 2]
            title = f"{org.slug}-{i}"
            await make_task(db, org, member, title, due, "11:00")
            expected[org.id][title] = member.email
    # Not yet due anywhere: nothing is written.
    assert (await reminders.sweep_tasks(db, now - timedelta(minutes=1), URL, batch=4)).tasks == 0

    second = Database.from_settings(settings)
    try:
        runs = await asyncio.gather(
            reminders.sweep_tasks(db, now, URL, batch=4, chunk=4),
            reminders.sweep_tasks(second, now, URL, batch=4, chunk=4),
        )
    finally:
        await second.dispose()
    total = sum(len(v) for v in expected.values())
    assert sum(r.tasks for r in runs) == total
    assert set().union(*(r.organisations for r in runs)) == {o.id for o in orgs}

    for org in orgs:
        async with db.tenant(org.id) as session:
            mails = (
                await session.execute(select(OutboxMessage).where(OutboxMessage.kind == "task_due"))
            ).scalars()
            got = {m.subject: (m.to_address, m.body_text) for m in mails}
            counted = Counter(
                (
                    await session.execute(
                        select(ReminderSent.subject_id).where(ReminderSent.kind == "task_due")
                    )
                )
                .scalars()
                .all()
            )
            unread = [
                (await notify.list_notifications(session, m.id, unread_only=True, limit=50, cursor=None))
                for m in members[org.id]
            ]
        assert len(got) == len(expected[org.id]), "one e-mail per task of this organisation, no more"
        for title, address in expected[org.id].items():
            [(subj, (to, body))] = [(s, v) for s, v in got.items() if f"{title} " in s]
            assert to == address
            assert f"{URL}/o/{org.slug}/tasks/" in body
            german = address == members[org.id][0].email
            assert subj.startswith("Erinnerung: " if german else "Reminder: ")
        assert all(n == 1 for n in counted.values()) and len(counted) == len(expected[org.id])
        for member, page in zip(members[org.id], unread, strict=True):
            mine = {t for t, a in expected[org.id].items() if a == member.email}
            assert {n.title.split(" ", 1)[1].split(" ")[0] for n in page.items} == mine
    # Everything is claimed: a further sweep finds nothing, and no organisation's own run either.
    assert (await reminders.sweep_tasks(db, now + timedelta(minutes=5), URL)).tasks == 0
    assert all([(await reminders.send_due(db, o.id, now, URL)).tasks == 0 for o in orgs])
