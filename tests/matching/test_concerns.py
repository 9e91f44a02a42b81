"""A worry from a tandem reaches its coordinator once: one open task per source, an in-app and an
e-mail notification, the follow-up flag; the reporter's words only for admins and the coordinator."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import select, update

from shared.actor import Actor
from shared.db import Database
from shared.errors import NotFound, ValidationFailed
from shared.matching import concerns
from shared.matching.models import Match
from shared.matching.privacy import export_contact
from shared.permissions import Role
from shared.settings import Settings
from shared.tasks.models import Notification, Task, TaskComment
from tests.conftest import Mailbox, Org
from tests.fixtures.mail import deliver_all
from tests.fixtures.tasks import add_member, make_match

ON = date(2026, 3, 1)


def _actor(org: Org) -> Actor:
    return Actor.system(
        "meeting log", role=Role.VIEWER, org_id=org.id, slug=org.slug, public_url="https://codo.test"
    )


async def _tasks(db: Database, org: Org, match_id: object) -> list[Task]:
    async with db.tenant(org.id) as session:
        return list((await session.execute(select(Task).where(Task.match_id == match_id))).scalars())


async def test_a_worry_makes_one_task_for_the_coordinator_and_tells_them(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    coordinator = await add_member(db, org_a)
    colleague = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        match = await make_match(session, org_a.id, started_on=ON, owner=coordinator.id)
    mid = match.id

    async with db.tenant(org_a.id) as session:
        first = await concerns.raise_concern(
            session,
            match_id=mid,
            source="meeting_log",
            summary="Something worries the mentor",
            confidential_text="Er wirkt seit Wochen bedrückt.",
            actor=_actor(org_a),
        )
    assert first.new_task and first.coordinator_id == coordinator.id

    # A second and third worry while the task is open (two at once): no pile of tasks.
    async def again(text: str) -> concerns.Raised:
        async with db.tenant(org_a.id) as session:
            return await concerns.raise_concern(
                session, match_id=mid, source="meeting_log", summary="Rated the meeting 1 of 5",
                confidential_text=text, actor=_actor(org_a),
            )  # fmt: skip

    second, third = await asyncio.gather(again("Zweites"), again("Drittes"))
    assert not second.new_task and not third.new_task
    assert second.task_id == third.task_id == first.task_id

    [task] = await _tasks(db, org_a, mid)
    assert (task.assignee_id, task.status, task.priority) == (coordinator.id, "open", "high")
    assert "Something worries the mentor" in task.title
    assert "bedrückt" not in task.title and "bedrückt" not in task.description
    async with db.tenant(org_a.id) as session:
        notes = list(
            (await session.execute(select(Notification).where(Notification.kind == "concern"))).scalars()
        )
        comments = list(
            (await session.execute(select(TaskComment).where(TaskComment.task_id == task.id))).scalars()
        )
        flagged = (await session.execute(select(Match.follow_up_since).where(Match.id == mid))).scalar_one()
    assert [n.membership_id for n in notes] == [coordinator.id]
    assert notes[0].link == f"https://codo.test/o/{org_a.slug}/matches/{mid}"
    assert len(comments) == 2 and all("Zweites" not in c.body and "Drittes" not in c.body for c in comments)
    assert flagged is not None

    await deliver_all(db, settings)
    [mail] = await mailbox.wait_for(coordinator.email)
    body = mail.get_payload(decode=True).decode() if not mail.is_multipart() else mail.as_string()
    assert "Tandem" in mail["Subject"] and "bedrückt" not in body and str(mid) in body
    assert mailbox.to(colleague.email) == []

    # Once the coordinator is done, the next worry is a new task; another source has its own.
    async with db.tenant(org_a.id) as session:
        await session.execute(update(Task).where(Task.id == task.id).values(status="done"))
        later = await concerns.raise_concern(
            session, match_id=mid, source="meeting_log", summary="Still worried", actor=_actor(org_a)
        )
        other = await concerns.raise_concern(
            session, match_id=mid, source="questionnaire", summary="Would not continue", actor=_actor(org_a)
        )
    assert later.new_task and other.new_task
    assert len([t for t in await _tasks(db, org_a, mid) if t.status == "open"]) == 2


async def test_the_words_of_a_worry_are_for_admins_and_the_coordinator_only(db: Database, org_a: Org) -> None:
    coordinator = await add_member(db, org_a)
    colleague = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        match = await make_match(session, org_a.id, started_on=ON, owner=coordinator.id)
        await concerns.raise_concern(
            session, match_id=match.id, source="meeting_log", summary="Something worries the mentor",
            confidential_text="Vertraulich: Streit zu Hause", actor=_actor(org_a),
        )  # fmt: skip

    def member(m_id: object, role: Role) -> Actor:
        return Actor(role=role, membership_id=m_id, org_id=org_a.id, slug=org_a.slug)  # type: ignore[arg-type]

    readers = {
        "admin": Actor(role=Role.ADMIN, label="admin token", org_id=org_a.id),
        "coordinator": member(coordinator.id, Role.COORDINATOR),
        "colleague": member(colleague.id, Role.COORDINATOR),
        "reporter": Actor(role=Role.REPORTER, label="board", org_id=org_a.id),
    }
    seen = {}
    exported = {}
    async with db.tenant(org_a.id) as session:
        for name, actor in readers.items():
            [c] = await concerns.list_concerns(session, match.id, actor)
            assert c.summary == "Something worries the mentor"
            seen[name] = c.confidential_text
            exported[name] = (await export_contact(session, match.mentor_id, actor))["concerns"][0].get(
                "text"
            )
    assert (
        seen
        == exported
        == {
            "admin": "Vertraulich: Streit zu Hause",
            "coordinator": "Vertraulich: Streit zu Hause",
            "colleague": None,
            "reporter": None,
        }
    )


async def test_a_tandem_without_coordinator_tells_the_admins(db: Database, org_a: Org, org_b: Org) -> None:
    admin = await add_member(db, org_a, role="admin")
    async with db.tenant(org_a.id) as session:
        match = await make_match(session, org_a.id, started_on=ON)
        raised = await concerns.raise_concern(
            session, match_id=match.id, source="meeting_log", summary="Low rating", actor=_actor(org_a)
        )
        told = set(
            (
                await session.execute(
                    select(Notification.membership_id).where(Notification.kind == "concern")
                )
            ).scalars()
        )
    assert raised.coordinator_id is None
    # The organisation's owner (created with it) and the admin, nobody else.
    assert admin.id in told and len(told) == 2
    [task] = await _tasks(db, org_a, match.id)
    assert task.assignee_id is None

    # Another organisation's match does not exist here; bad input names its field.
    async with db.tenant(org_b.id) as session:
        with pytest.raises(NotFound):
            await concerns.raise_concern(
                session, match_id=match.id, source="meeting_log", summary="x", actor=_actor(org_b)
            )
    async with db.tenant(org_a.id) as session:
        for kwargs, field in (
            ({"source": "Meeting Log!", "summary": "x"}, "source"),
            ({"source": "meeting_log", "summary": "  "}, "summary"),
            ({"source": "meeting_log", "summary": "x", "confidential_text": "x" * 5001}, "confidential_text"),
        ):
            with pytest.raises(ValidationFailed) as caught:
                await concerns.raise_concern(session, match_id=match.id, actor=_actor(org_a), **kwargs)  # type: ignore[arg-type]
            assert caught.value.field == field
