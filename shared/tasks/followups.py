"""A check-in marked "follow-up needed" becomes a task for the tandem's coordinator.

Matching sits above tasks and calls this from the one place a check-in is recorded, so the API
and the pages create the same task. The task is keyed like an automatic rule's (rule
``checkin_follow_up``, subject ``checkin:<id>``): the unique index on (rule, subject,
occurrence) lets a check-in make one task however often the call is repeated.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n
from shared.actor import Actor
from shared.db import current_org
from shared.i18n import N_
from shared.ids import new_id
from shared.tasks import notify
from shared.tasks.models import DEFAULT_TIMEZONE, Task
from shared.tasks.tasks import notify_assignment, schedule

RULE = "checkin_follow_up"
TITLE = N_("Follow up on the check-in of %(day)s")


async def checkin_needs_follow_up(
    session: AsyncSession,
    actor: Actor,
    *,
    checkin_id: uuid.UUID,
    match_id: uuid.UUID,
    checked_in_on: date,
    coordinator_id: uuid.UUID | None,
    notes: str,
    today: date,
) -> uuid.UUID | None:
    """The id of the new task, or None when this check-in already has one.

    ``coordinator_id`` is the member who looks after the tandem; without one the task goes to
    whoever recorded the check-in, so it is never a task nobody sees.
    """
    if actor.org_id is None:
        actor = actor.within(current_org(session), actor.slug, actor.public_url)
    assignee = coordinator_id or actor.membership_id
    found = await notify.recipients(session, {assignee}) if assignee else {}
    lang = i18n.language(found[assignee].locale if assignee in found else None)
    due_at, remind_at = schedule(today, None, DEFAULT_TIMEZONE)
    task_id = new_id()
    inserted = await session.execute(
        insert(Task)
        .values(
            organization_id=actor.organization_id,
            id=task_id,
            title=i18n.gettext(lang, TITLE, domain="tasks", day=checked_in_on),
            # The coordinator reads what the check-in said without opening it.
            description=notes[:20_000],
            assignee_id=assignee,
            due_date=today,
            due_at=due_at,
            remind_at=remind_at,
            timezone=DEFAULT_TIMEZONE,
            priority="high",
            status="open",
            rule=RULE,
            rule_subject=f"checkin:{checkin_id}",
            rule_occurrence="follow-up",
            match_id=match_id,
            created_by_membership_id=actor.membership_id,
        )
        .on_conflict_do_nothing()
        .returning(Task.id)
    )
    if inserted.scalar_one_or_none() is None:
        return None
    task = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one()
    await notify_assignment(session, actor, task)
    return task_id


__all__ = ["RULE", "checkin_needs_follow_up"]
