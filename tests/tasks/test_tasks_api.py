"""Tasks over HTTP: create, recurring completion, filters and views, bulk actions, comments, roles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import Engine, event, select

from shared import clock
from shared.db import Database
from shared.models import OutboxMessage
from shared.permissions import Role
from shared.tasks.models import Notification
from tests.conftest import Org
from tests.fixtures.tasks import Member, add_member

API = "/api/v1/orgs"


def url(org: Org, path: str = "") -> str:
    return f"{API}/{org.slug}/tasks{path}"


async def create(client: AsyncTestClient[Any], org: Org, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Anruf bei Familie Yilmaz")
    body.setdefault("due_date", clock.today().isoformat())
    r = await client.post(url(org), json=body, headers=org.auth(Role.COORDINATOR))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_weekly_task_completes_into_its_next_occurrence(
    client: AsyncTestClient[Any], org_a: Org, member_a: Member
) -> None:
    task = await create(
        client,
        org_a,
        due_date="2027-03-22",
        due_time="09:00",
        assignee_id=str(member_a.id),
        recurrence="FREQ=WEEKLY;INTERVAL=2",
    )
    assert task["recurrence"] == "FREQ=WEEKLY;INTERVAL=2" and task["due_at"] == "2027-03-22T08:00:00Z"
    r = await client.post(url(org_a, f"/{task['id']}/complete"), headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 200, r.text
    done, nxt = r.json()["task"], r.json()["next"]
    assert done["status"] == "done" and done["completed_at"]
    # Two weeks later, across the switch to summer time: still 09:00 in Berlin.
    assert (nxt["due_date"], nxt["due_time"], nxt["due_at"]) == (
        "2027-04-05",
        "09:00",
        "2027-04-05T07:00:00Z",
    )
    assert nxt["series_id"] == task["id"] and nxt["assignee_id"] == str(member_a.id)
    assert nxt["status"] == "open"
    again = await client.post(url(org_a, f"/{task['id']}/complete"), headers=org_a.auth(Role.COORDINATOR))
    assert again.status_code == 409
    listed = (await client.get(url(org_a), params={"status": "open"}, headers=org_a.auth())).json()["items"]
    assert [t["id"] for t in listed if t["series_id"] == task["id"]] == [nxt["id"]]


async def test_a_task_without_recurrence_answers_no_next(client: AsyncTestClient[Any], org_a: Org) -> None:
    task = await create(client, org_a)
    r = await client.post(url(org_a, f"/{task['id']}/complete"), headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 200 and r.json()["next"] is None


async def test_bad_input_names_the_field(
    client: AsyncTestClient[Any], org_a: Org, org_b: Org, db: Database
) -> None:
    foreign = await add_member(db, org_b)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"due_date": "2027-01-01"}, "title"),
        ({"title": " ", "due_date": "2027-01-01"}, "title"),
        ({"title": "x", "due_date": "2027-13-01"}, "due_date"),
        ({"title": "x", "due_date": "2027-01-01", "due_time": "25:00"}, "due_time"),
        ({"title": "x", "due_date": "2027-01-01", "recurrence": "FREQ=HOURLY"}, "recurrence"),
        ({"title": "x", "due_date": "2027-01-01", "priority": "urgent"}, "priority"),
        ({"title": "x", "due_date": "2027-01-01", "timezone": "Mars/Base"}, "timezone"),
        # Another organisation's member is simply unknown here.
        ({"title": "x", "due_date": "2027-01-01", "assignee_id": str(foreign.id)}, "assignee_id"),
    ]
    for body, field in cases:
        r = await client.post(url(org_a), json=body, headers=org_a.auth())
        assert r.status_code in (400, 422), (body, r.text)
        assert r.json()["field"] == field, (body, r.json())
        assert org_b.slug not in r.text


async def test_filters_and_views(client: AsyncTestClient[Any], db: Database, org_a: Org) -> None:
    ana = await add_member(db, org_a)
    ben = await add_member(db, org_a)
    today = datetime.now(UTC).astimezone().date()
    long_ago = await create(
        client,
        org_a,
        title="overdue",
        due_date=(today - timedelta(days=10)).isoformat(),
        assignee_id=str(ana.id),
    )
    future = await create(
        client,
        org_a,
        title="later",
        due_date=(today + timedelta(days=40)).isoformat(),
        assignee_id=str(ana.id),
    )
    other = await create(
        client,
        org_a,
        title="bens",
        due_date=(today + timedelta(days=40)).isoformat(),
        assignee_id=str(ben.id),
    )
    h = org_a.auth(Role.VIEWER)

    async def ids(**params: Any) -> set[str]:
        r = await client.get(url(org_a), params=params, headers=h)
        assert r.status_code == 200, r.text
        return {t["id"] for t in r.json()["items"]}

    assert await ids(assignee_id=str(ana.id)) == {long_ago["id"], future["id"]}
    assert await ids(mine="true", member_id=str(ben.id)) == {other["id"]}
    assert long_ago["id"] in await ids(view="overdue")
    assert future["id"] not in await ids(view="overdue")
    assert await ids(assignee_id=str(ana.id), due_before=(today + timedelta(days=1)).isoformat()) == {
        long_ago["id"]
    }
    assert await ids(assignee_id=str(ana.id), due_after=today.isoformat()) == {future["id"]}
    assert future["id"] not in await ids(view="week")
    assert await ids(q="bens") == {other["id"]}
    r = await client.get(url(org_a), params={"mine": "true"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "member_id"


async def test_pages_by_due_time_without_gaps_or_repeats(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    who = await add_member(db, org_a)
    made = [
        (await create(client, org_a, due_date=f"2027-02-{1 + i % 3:02d}", assignee_id=str(who.id)))["id"]
        for i in range(7)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"assignee_id": str(who.id), "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get(url(org_a), params=params, headers=org_a.auth())).json()
        seen += [t["id"] for t in body["items"]]
        dues = [t["due_at"] for t in body["items"]]
        assert dues == sorted(dues)
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7


async def test_bulk_complete_and_reassign(client: AsyncTestClient[Any], db: Database, org_a: Org) -> None:
    ana = await add_member(db, org_a)
    ben = await add_member(db, org_a)
    a = await create(client, org_a, assignee_id=str(ana.id))
    b = await create(client, org_a, assignee_id=str(ana.id), recurrence="daily")
    c = await create(client, org_a, assignee_id=str(ana.id))
    h = org_a.auth(Role.COORDINATOR)
    r = await client.post(
        url(org_a, "/bulk-reassign"), json={"ids": [a["id"], b["id"]], "assignee_id": str(ben.id)}, headers=h
    )
    assert r.status_code == 200 and sorted(r.json()["updated"]) == sorted([a["id"], b["id"]])
    r = await client.post(url(org_a, "/bulk-complete"), json={"ids": [a["id"], b["id"], c["id"]]}, headers=h)
    assert r.status_code == 200, r.text
    assert len(r.json()["updated"]) == 3
    [nxt] = r.json()["next"]
    assert nxt["assignee_id"] == str(ben.id) and nxt["series_id"] == b["id"]
    # One unknown id: nothing at all changes.
    d = await create(client, org_a)
    r = await client.post(
        url(org_a, "/bulk-complete"),
        json={"ids": [d["id"], "0190f5c8-0000-7000-8000-000000000000"]},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "ids"
    assert (await client.get(url(org_a, f"/{d['id']}"), headers=h)).json()["status"] == "open"


async def test_assigning_notifies_the_member_in_their_language(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    english = await add_member(db, org_a, locale="en")
    task = await create(
        client, org_a, title="Write <the> report", assignee_id=str(english.id), due_date="2027-05-03"
    )
    async with db.tenant(org_a.id) as session:
        mail = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.to_address == english.email))
        ).scalar_one()
        note = (
            await session.execute(select(Notification).where(Notification.membership_id == english.id))
        ).scalar_one()
    assert mail.kind == "assignment" and mail.subject == "New task for you: Write <the> report"
    assert "Monday, May 3, 2027" in mail.body_text and task["id"] in mail.body_text
    assert "Write &lt;the&gt; report" in (mail.body_html or "")
    assert note.kind == "assignment" and note.read_at is None


async def test_comments_change_and_delete(client: AsyncTestClient[Any], org_a: Org) -> None:
    task = await create(client, org_a)
    h = org_a.auth(Role.COORDINATOR)
    r = await client.post(
        url(org_a, f"/{task['id']}/comments"), json={"body": "Hat zurückgerufen."}, headers=h
    )
    assert r.status_code == 201
    r = await client.patch(
        url(org_a, f"/{task['id']}"),
        json={"title": "Neu", "due_time": "14:30", "priority": "high"},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["due_time"] == "14:30" and r.json()["priority"] == "high"
    detail = (await client.get(url(org_a, f"/{task['id']}"), headers=h)).json()
    assert detail["title"] == "Neu" and [c["body"] for c in detail["comments"]] == ["Hat zurückgerufen."]
    r = await client.patch(url(org_a, f"/{task['id']}"), json={"status": "cancelled"}, headers=h)
    assert r.json()["status"] == "cancelled"
    assert (await client.delete(url(org_a, f"/{task['id']}"), headers=h)).status_code == 204
    assert (await client.get(url(org_a, f"/{task['id']}"), headers=h)).status_code == 404


async def test_viewers_read_but_do_not_write_and_404_comes_before_403(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    task = await create(client, org_a)
    v = org_a.auth(Role.VIEWER)
    assert (await client.get(url(org_a, f"/{task['id']}"), headers=v)).status_code == 200
    assert (
        await client.post(url(org_a), json={"title": "x", "due_date": "2027-01-01"}, headers=v)
    ).status_code == 403
    assert (await client.post(url(org_a, f"/{task['id']}/complete"), headers=v)).status_code == 403
    missing = "0190f5c8-0000-7000-8000-000000000000"
    assert (await client.post(url(org_a, f"/{missing}/complete"), headers=v)).status_code == 404


async def test_another_organisations_tasks_are_not_found(
    client: AsyncTestClient[Any], org_a: Org, org_b: Org
) -> None:
    theirs = await create(client, org_b)
    h = org_a.auth(Role.OWNER)
    for method, path, body in [
        ("GET", f"/{theirs['id']}", None),
        ("PATCH", f"/{theirs['id']}", {"title": "mine now"}),
        ("POST", f"/{theirs['id']}/complete", None),
        ("POST", f"/{theirs['id']}/comments", {"body": "hi"}),
        ("DELETE", f"/{theirs['id']}", None),
    ]:
        r = await client.request(method, url(org_a, path), json=body, headers=h)
        assert r.status_code == 404, (method, path, r.text)
    r = await client.post(url(org_a, "/bulk-complete"), json={"ids": [theirs["id"]]}, headers=h)
    assert r.status_code == 422
    r = await client.get(url(org_b, f"/{theirs['id']}"), headers=org_b.auth())
    assert r.json()["title"] == theirs["title"] and r.json()["status"] == "open"


def _nodes(node: dict[str, Any]) -> list[str]:
    return [node["Node Type"], *(n for child in node.get("Plans", []) for n in _nodes(child))]


async def test_a_page_of_tasks_is_read_from_an_index_in_order_not_sorted(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    """The list shows tasks by due time, then id. Read from an index in that order, a page costs
    the same in an organisation with ten tasks as in one with years of them; sorted, every page
    costs all of them. Checked for the whole list, the open tasks' views and a later page."""
    for i in range(4):
        await create(client, org_a, due_date=f"2027-03-{1 + i:02d}")
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM tasks" in statement and "ORDER BY tasks.due_at" in statement:
            sent.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        first = (await client.get(url(org_a), params={"limit": 2}, headers=org_a.auth())).json()
        later = {"limit": 2, "cursor": first["next_cursor"]}
        await client.get(url(org_a), params=later, headers=org_a.auth())
        await client.get(url(org_a), params={"view": "upcoming", "limit": 2}, headers=org_a.auth())
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert len(sent) == 3
    async with db.tenant(org_a.id) as session:
        connection = await session.connection()
        # Forbidding sorts and table scans leaves them in a plan only where no index can serve it.
        await connection.exec_driver_sql("SET LOCAL enable_sort = off")
        await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for statement, parameters in sent:
            explained = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
            plan = explained.scalar_one()
            nodes = _nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
            assert "Sort" not in nodes and "Incremental Sort" not in nodes, (statement, nodes)
