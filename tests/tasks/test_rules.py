"""Automatic tasks: idempotent however often (and from however many places) a rule runs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import event, select, update

# The worker that runs the rules reads the page catalogues too (consent purposes are labelled there).
import services.worker.jobs.contacts  # noqa: F401
from shared import clock
from shared.actor import Actor
from shared.contacts.models import Consent, Contact
from shared.db import Database
from shared.matching.models import CheckIn, Match
from shared.permissions import Role
from shared.settings import Settings
from shared.tasks import rules, tasks
from shared.tasks.models import Task
from shared.tasks.schemas import RuleIn
from tests.conftest import Org
from tests.fixtures.tasks import add_member, make_contact, make_match, sign_in

TODAY = date(2027, 5, 10)


async def switch_on(db: Database, org: Org, rule: str, **params: int) -> None:
    async with db.tenant(org.id) as session:
        await rules.set_rule(session, org.id, rule, RuleIn(enabled=True, params=params), datetime.now(UTC))


async def run(db: Database, org: Org, today: date = TODAY) -> dict[str, int]:
    return await rules.run_for(db, org.id, today)


async def rule_tasks(db: Database, org: Org, rule: str) -> list[Task]:
    async with db.tenant(org.id) as session:
        rows = await session.execute(select(Task).where(Task.rule == rule).order_by(Task.id))
        return list(rows.scalars())


async def complete(db: Database, org: Org, task: Task) -> None:
    async with db.tenant(org.id) as session:
        await tasks.complete_task(
            session, Actor.system("test", org_id=org.id, slug=org.slug), task.id, datetime.now(UTC)
        )


async def test_a_waiting_mentee_gets_one_follow_up_however_often_the_rule_runs(
    db: Database, org_a: Org
) -> None:
    owner = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        waiting = await make_contact(
            session, org_a.id, waiting_since=TODAY - timedelta(days=40), owner=owner.id
        )
        newcomer = await make_contact(session, org_a.id, waiting_since=TODAY - timedelta(days=5))
        await make_contact(session, org_a.id, kind="mentor", waiting_since=TODAY - timedelta(days=90))
    await switch_on(db, org_a, "waiting_followup", days=30)
    assert (await run(db, org_a))["waiting_followup"] == 1
    assert (await run(db, org_a))["waiting_followup"] == 0
    [task] = await rule_tasks(db, org_a, "waiting_followup")
    assert task.contact_id == waiting.id and task.assignee_id == owner.id and task.status == "open"
    assert task.title == "Nachfassen: wartet seit 31.03.2027 auf ein Tandem"

    await complete(db, org_a, task)
    assert (await run(db, org_a, TODAY + timedelta(days=5)))["waiting_followup"] == 0, "followed up already"
    # Thirty days later, still waiting: the next follow-up.
    assert (await run(db, org_a, TODAY + timedelta(days=20)))["waiting_followup"] == 1
    assert (await run(db, org_a, TODAY + timedelta(days=21)))["waiting_followup"] == 0

    # Matched meanwhile: the person no longer qualifies and gets nothing new.
    for t in await rule_tasks(db, org_a, "waiting_followup"):
        if t.status == "open":
            await complete(db, org_a, t)
    async with db.tenant(org_a.id) as session:
        await session.execute(update(Contact).where(Contact.id == waiting.id).values(status="matched"))
    assert (await run(db, org_a, TODAY + timedelta(days=60)))["waiting_followup"] == 1
    made = await rule_tasks(db, org_a, "waiting_followup")
    assert [t.contact_id for t in made] == [waiting.id, waiting.id, newcomer.id], "only the newcomer"


async def test_many_runs_at_once_still_make_one_task(db: Database, settings: Settings, org_a: Org) -> None:
    async with db.tenant(org_a.id) as session:
        for _ in range(5):
            await make_contact(session, org_a.id, waiting_since=TODAY - timedelta(days=31))
    await switch_on(db, org_a, "waiting_followup", days=30)
    others = [Database.from_settings(settings) for _ in range(3)]
    try:
        results = await asyncio.gather(*(rules.run_for(d, org_a.id, TODAY) for d in [db, *others]))
    finally:
        for d in others:
            await d.dispose()
    assert sum(r["waiting_followup"] for r in results) == 5
    assert len(await rule_tasks(db, org_a, "waiting_followup")) == 5


async def test_a_check_in_task_when_the_programme_interval_has_passed(db: Database, org_a: Org) -> None:
    async with db.tenant(org_a.id) as session:
        overdue = await make_match(session, org_a.id, started_on=TODAY - timedelta(days=45))
        fresh = await make_match(session, org_a.id, started_on=TODAY - timedelta(days=45))
        session.add(
            CheckIn(
                organization_id=org_a.id,
                match_id=fresh.id,
                occurred_on=TODAY - timedelta(days=3),
                channel="phone",
                rating=4,
            )
        )
        await make_match(session, org_a.id, status="paused", started_on=TODAY - timedelta(days=400))
    await switch_on(db, org_a, "checkin_due")
    assert (await run(db, org_a))["checkin_due"] == 1
    assert (await run(db, org_a))["checkin_due"] == 0
    [task] = await rule_tasks(db, org_a, "checkin_due")
    assert task.match_id == overdue.id and task.due_date == TODAY
    # The coordinator calls: a check-in is recorded, the task done; nothing new until the interval passes.
    async with db.tenant(org_a.id) as session:
        session.add(
            CheckIn(
                organization_id=org_a.id, match_id=overdue.id, occurred_on=TODAY, channel="phone", rating=5
            )
        )
    await complete(db, org_a, task)
    assert (await run(db, org_a, TODAY + timedelta(days=10)))["checkin_due"] == 0
    assert (await run(db, org_a, TODAY + timedelta(days=31)))["checkin_due"] == 2, (
        "both matches are due again"
    )


async def test_a_consent_reminder_before_it_expires_and_none_after_a_withdrawal(
    db: Database, org_a: Org
) -> None:
    async with db.tenant(org_a.id) as session:
        person = await make_contact(session, org_a.id)
        other = await make_contact(session, org_a.id)
        session.add_all(
            [
                # Given two years ago less ten days: expires in ten days.
                Consent(
                    organization_id=org_a.id,
                    contact_id=person.id,
                    purpose="photos",
                    status="given",
                    effective_on=date(2025, 5, 20),
                ),
                Consent(
                    organization_id=org_a.id,
                    contact_id=other.id,
                    purpose="photos",
                    status="given",
                    effective_on=date(2025, 5, 20),
                ),
                Consent(
                    organization_id=org_a.id,
                    contact_id=other.id,
                    purpose="photos",
                    status="withdrawn",
                    effective_on=date(2026, 1, 1),
                ),
            ]
        )
    await switch_on(db, org_a, "consent_expiry", valid_months=24, lead_days=30)
    assert (await run(db, org_a, date(2027, 4, 19)))["consent_expiry"] == 0, "31 days before: not yet"
    assert (await run(db, org_a, date(2027, 4, 20)))["consent_expiry"] == 1
    assert (await run(db, org_a, date(2027, 4, 21)))["consent_expiry"] == 0
    [task] = await rule_tasks(db, org_a, "consent_expiry")
    assert task.contact_id == person.id and task.title == "Einwilligung „Fotos“ läuft am 20.05.2027 ab"


async def test_each_coordinator_reads_rule_tasks_in_their_own_language(
    dev_web_app: Any, db: Database, org_a: Org
) -> None:
    english = await add_member(db, org_a, locale="en")
    german = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        for owner in (english, german):
            await make_contact(session, org_a.id, waiting_since=date(2027, 3, 31), owner=owner.id)
            await make_match(session, org_a.id, started_on=date(2026, 6, 1), owner=owner.id)
    await switch_on(db, org_a, "waiting_followup", days=30)
    await switch_on(db, org_a, "match_wrap_up", duration_months=12, lead_days=30)
    await run(db, org_a, date(2027, 5, 2))
    made = await rule_tasks(db, org_a, "waiting_followup") + await rule_tasks(db, org_a, "match_wrap_up")
    titles = {(t.assignee_id, t.rule): t.title for t in made}
    assert titles[(english.id, "waiting_followup")] == "Follow up: waiting for a tandem since Mar 31, 2027"
    assert titles[(english.id, "match_wrap_up")] == "Prepare the end of the tandem (planned end Jun 1, 2027)"
    assert titles[(german.id, "waiting_followup")] == "Nachfassen: wartet seit 31.03.2027 auf ein Tandem"
    assert titles[(german.id, "match_wrap_up")] == (
        "Tandem-Abschluss vorbereiten (geplantes Ende 01.06.2027)"
    )
    # What each of them sees on their task's page.
    for member, wanted in ((english, "Mar 31, 2027"), (german, "31.03.2027")):
        async with AsyncTestClient(app=dev_web_app) as browser:
            await sign_in(browser, member)
            [task] = [t for t in made if t.assignee_id == member.id and t.rule == "waiting_followup"]
            page = await browser.get(f"/o/{org_a.slug}/tasks/{task.id}")
            assert page.status_code == 200 and titles[(member.id, "waiting_followup")] in page.text
            assert wanted in page.text


async def test_a_wrap_up_task_when_the_planned_end_nears(db: Database, org_a: Org) -> None:
    async with db.tenant(org_a.id) as session:
        ending = await make_match(session, org_a.id, started_on=date(2026, 6, 1))
        await make_match(session, org_a.id, started_on=date(2026, 9, 1))
    await switch_on(db, org_a, "match_wrap_up", duration_months=12, lead_days=30)
    assert (await run(db, org_a, date(2027, 5, 2)))["match_wrap_up"] == 1
    assert (await run(db, org_a, date(2027, 5, 3)))["match_wrap_up"] == 0
    [task] = await rule_tasks(db, org_a, "match_wrap_up")
    assert task.match_id == ending.id and task.due_date == date(2027, 5, 31)


async def test_rules_that_are_off_do_nothing(db: Database, org_a: Org) -> None:
    async with db.tenant(org_a.id) as session:
        await make_contact(session, org_a.id, waiting_since=TODAY - timedelta(days=400))
        await rules.set_rule(session, org_a.id, "waiting_followup", RuleIn(enabled=False), datetime.now(UTC))
    assert await run(db, org_a) == {}
    assert org_a.id not in await rules.organisations_with_rules(db)


async def test_rules_over_the_api(client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org) -> None:
    base = f"/api/v1/orgs/{org_a.slug}/task-rules"
    listed = (await client.get(base, headers=org_a.auth(Role.VIEWER))).json()
    assert {r["rule"] for r in listed} == set(rules.RULES) and not any(r["enabled"] for r in listed)
    r = await client.put(
        f"{base}/waiting_followup", json={"enabled": True, "params": {"days": 14}}, headers=org_a.auth()
    )
    assert r.status_code == 200 and r.json()["params"] == {"days": 14}
    for body in ({"enabled": True, "params": {"days": 0}}, {"enabled": True, "params": {"weeks": 2}}):
        r = await client.put(f"{base}/waiting_followup", json=body, headers=org_a.auth())
        assert r.status_code == 422 and r.json()["field"] == "params"
    bea = await add_member(db, org_b)
    r = await client.put(
        f"{base}/checkin_due", json={"enabled": True, "assignee_id": str(bea.id)}, headers=org_a.auth()
    )
    assert r.status_code == 422 and org_b.slug not in r.text
    assert (
        await client.put(
            f"{base}/waiting_followup", json={"enabled": False}, headers=org_a.auth(Role.COORDINATOR)
        )
    ).status_code == 403
    assert (
        await client.put(f"{base}/no_such_rule", json={"enabled": True}, headers=org_a.auth())
    ).status_code == 404


async def test_tasks_and_appointments_link_to_contacts_and_matches(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    async with db.tenant(org_a.id) as session:
        person = await make_contact(session, org_a.id)
        match = await make_match(
            session, org_a.id, status="proposed", proposed_on=clock.today() - timedelta(days=3)
        )
    async with db.tenant(org_b.id) as session:
        stranger = await make_contact(session, org_b.id)
    api = f"/api/v1/orgs/{org_a.slug}"
    h = org_a.auth(Role.COORDINATOR)
    r = await client.post(
        f"{api}/tasks",
        json={
            "title": "Anruf",
            "due_date": "2027-01-05",
            "contact_id": str(person.id),
            "match_id": str(match.id),
        },
        headers=h,
    )
    assert r.status_code == 201 and r.json()["contact_id"] == str(person.id)
    await client.post(f"{api}/tasks", json={"title": "Anderes", "due_date": "2027-01-05"}, headers=h)
    by_contact = (await client.get(f"{api}/tasks", params={"contact_id": str(person.id)}, headers=h)).json()[
        "items"
    ]
    assert [t["title"] for t in by_contact] == ["Anruf"]
    by_match = (await client.get(f"{api}/tasks", params={"match_id": str(match.id)}, headers=h)).json()[
        "items"
    ]
    assert [t["title"] for t in by_match] == ["Anruf"]
    r = await client.post(
        f"{api}/tasks",
        json={"title": "x", "due_date": "2027-01-05", "contact_id": str(stranger.id)},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "contact_id"

    starts = datetime.now(UTC) + timedelta(days=2)
    r = await client.post(
        f"{api}/appointments",
        json={
            "title": "Kennenlernen",
            "kind": "introduction",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "match_id": str(match.id),
            "contact_ids": [str(match.mentor_id), str(match.mentee_id)],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    appointment = r.json()
    assert sorted(appointment["contact_ids"]) == sorted([str(match.mentor_id), str(match.mentee_id)])
    r = await client.post(f"{api}/appointments/{appointment['id']}/confirm", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    async with db.tenant(org_a.id) as session:
        moved = (await session.execute(select(Match).where(Match.id == match.id))).scalar_one()
    assert moved.status == "introduced" and moved.introduced_on == clock.today()
    assert moved.first_meeting_on == starts.astimezone().date() or moved.first_meeting_on is not None
    r = await client.post(
        f"{api}/appointments",
        json={
            "title": "x",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "contact_ids": [str(stranger.id)],
        },
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "contact_ids"


def _scans(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _scans(child))]


async def test_a_rules_run_reads_its_organisations_rows_from_the_indexes(db: Database, org_a: Org) -> None:
    """The rules run once a day for every organisation. Row-level security keeps each run to its
    organisation, but the policy is no index condition: a statement that does not name the
    organisation itself reads the matches, contacts and consents of all of them, and a day's runs
    then cost the square of the number of organisations."""
    for rule in rules.RULES:
        await switch_on(db, org_a, rule)
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        await run(db, org_a)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    read = {"matches", "contacts", "contact_consents"}
    checked = 0
    async with db.tenant(org_a.id) as session:
        connection = await session.connection()
        # What is left to a table scan is what no index condition serves.
        await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for statement, parameters in sent:
            explained = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
            plan = explained.scalar_one()
            for node in _scans((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]):
                if node.get("Relation Name") in read:
                    condition = node.get("Index Cond") or node.get("Recheck Cond") or ""
                    assert "organization_id" in condition, (statement, node["Node Type"], condition)
                    checked += 1
    assert checked >= 4
