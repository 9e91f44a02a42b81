"""The reminder ledger and in-app notifications are tied to the organisation through their member
only: a row can name no member of another organisation and no organisation that does not exist,
and removing a member or deleting an organisation still takes that member's rows along."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest
from sqlalchemy import func, select

from shared.actor import Actor
from shared.db import Database, plain_url
from shared.identity import members
from shared.ids import new_id
from shared.permissions import Role
from shared.tasks import reminders
from shared.tasks.models import Notification, ReminderSent, Task
from tests.conftest import Org, Servers, create_org
from tests.fixtures.tasks import Member, add_member
from tests.tasks.test_reminders import URL, make_task

DUE = date(2032, 2, 3)
NOW = datetime(2032, 2, 3, 9, 30, tzinfo=UTC)  # 10:30 in Berlin, half an hour before 11:00


async def _counts(db: Database, org: Org, member: Member) -> tuple[int, int]:
    async with db.tenant(org.id) as session:
        sent = await session.scalar(
            select(func.count()).select_from(ReminderSent).where(ReminderSent.membership_id == member.id)
        )
        notes = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.membership_id == member.id)
        )
    return int(sent or 0), int(notes or 0)


async def _remind(db: Database, org: Org) -> tuple[Member, Member]:
    leaving, staying = await add_member(db, org), await add_member(db, org)
    for member in (leaving, staying):
        await make_task(db, org, member, f"Elterngespräch {member.email}", DUE, "11:00")
    assert (await reminders.send_due(db, org.id, NOW, URL)).tasks == 2
    assert await _counts(db, org, leaving) == (1, 1)
    return leaving, staying


async def test_a_removed_member_takes_their_reminder_ledger_and_notifications_along(db: Database) -> None:
    org = await create_org(db)
    leaving, staying = await _remind(db, org)
    async with db.tenant(org.id) as session:
        await members.remove_member(session, org.id, Actor(role=Role.OWNER, org_id=org.id), leaving.id)
    assert await _counts(db, org, leaving) == (0, 0)
    assert await _counts(db, org, staying) == (1, 1)
    # The removed member's task is nobody's now: nothing is claimed for it again.
    async with db.tenant(org.id) as session:
        unassigned = await session.scalar(
            select(func.count()).select_from(Task).where(Task.assignee_id.is_(None))
        )
    assert unassigned == 1
    assert (await reminders.send_due(db, org.id, NOW, URL)).tasks == 0


async def test_deleting_an_organisation_removes_its_reminder_ledger_and_notifications(
    db: Database, servers: Servers
) -> None:
    gone, kept = await create_org(db), await create_org(db)
    await _remind(db, gone)
    kept_member, _ = await _remind(db, kept)
    conn = await asyncpg.connect(plain_url(servers.migrations_url))
    try:
        await conn.execute("DELETE FROM organizations WHERE id = $1", gone.id)
        for table in ("reminders_sent", "notifications", "memberships"):
            # The owner role is under the tables' forced row-level security like everyone else.
            async with conn.transaction():
                await conn.execute("SELECT set_config('codo.org_id', $1, true)", str(gone.id))
                assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    finally:
        await conn.close()
    assert await _counts(db, kept, kept_member) == (1, 1)


async def test_a_ledger_row_or_notification_names_only_a_member_of_its_own_organisation(
    db: Database, org_a: Org, org_b: Org
) -> None:
    other = await add_member(db, org_b)
    rows = [
        ReminderSent(
            organization_id=org_a.id, kind="task_due", subject_id=new_id(), membership_id=other.id, period="1"
        ),
        Notification(organization_id=org_a.id, membership_id=other.id, kind="task_due", title="x"),
        # An organisation that does not exist, with a member id of a real one.
        ReminderSent(
            organization_id=new_id(), kind="task_due", subject_id=new_id(), membership_id=other.id, period="1"
        ),
        Notification(organization_id=new_id(), membership_id=other.id, kind="task_due", title="x"),
    ]
    for row in rows:
        # Even the system context, which may write any organisation's rows, is refused.
        with pytest.raises(Exception, match="foreign key"):
            async with db.system_context("test: reminder keys") as session:
                session.add(row)
                await session.flush()
