"""Tasks (linked to a contact and a match), comments, appointments, participants, preferences,
notifications, reminders, calendar feeds, rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from shared import clock
from shared.actor import Actor
from shared.db import Database
from shared.models import Membership
from shared.permissions import Role
from shared.tasks import appointments, calendar_feed, notify, rules, tasks
from shared.tasks.models import Notification, ReminderSent
from shared.tasks.schemas import AppointmentCreate, Channels, RuleIn, TaskCreate
from tests.conftest import Org
from tests.fixtures.tasks import make_contact, make_match


async def seed(db: Database, org: Org) -> None:
    now = datetime.now(UTC)
    async with db.tenant(org.id) as session:
        member = (await session.execute(select(Membership.id).limit(1))).scalar_one()
        actor = Actor(role=Role.COORDINATOR, membership_id=member, org_id=org.id, slug=org.slug)
        match = await make_match(session, org.id, status="proposed")
        contact = await make_contact(session, org.id)
        task = await tasks.create_task(
            session,
            actor,
            TaskCreate(
                title="Seed",
                due_date=clock.today(),
                assignee_id=member,
                recurrence="weekly",
                contact_id=contact.id,
                match_id=match.id,
            ),
            now,
        )
        await rules.set_rule(session, org.id, "waiting_followup", RuleIn(enabled=True), now)
        await tasks.add_comment(session, actor, task.id, "first comment")
        await appointments.create(
            session,
            actor,
            AppointmentCreate(
                title="Seed meeting",
                starts_at=now + timedelta(days=1),
                ends_at=now + timedelta(days=1, hours=1),
            ),
        )
        await notify.set_preferences(session, org.id, member, {"digest": Channels(email=True, in_app=False)})
        session.add(Notification(organization_id=org.id, membership_id=member, kind="assignment", title="t"))
        session.add(
            ReminderSent(
                organization_id=org.id, kind="task_due", subject_id=task.id, membership_id=member, period="p"
            )
        )
        await calendar_feed.create_or_rotate(session, org.id, member, "http://codo.test")
