"""Appointments over HTTP, the private calendar feed and .ics invitations (parsed with icalendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Calendar
from litestar.testing import AsyncTestClient

from shared import clock
from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.tasks import Member, add_member

API = "/api/v1/orgs"


def soon(days: int, hour: int = 10) -> datetime:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return base.replace(hour=hour)


async def appointment(client: AsyncTestClient[Any], org: Org, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Kennenlerntreffen")
    body.setdefault("starts_at", soon(2).isoformat())
    body.setdefault("ends_at", (soon(2) + timedelta(hours=1)).isoformat())
    r = await client.post(f"{API}/{org.slug}/appointments", json=body, headers=org.auth(Role.COORDINATOR))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def task(client: AsyncTestClient[Any], org: Org, **body: Any) -> dict[str, Any]:
    body.setdefault("due_date", (clock.today() + timedelta(days=3)).isoformat())
    r = await client.post(f"{API}/{org.slug}/tasks", json=body, headers=org.auth(Role.COORDINATOR))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def feed_url(client: AsyncTestClient[Any], org: Org, member: Member) -> str:
    r = await client.post(
        f"{API}/{org.slug}/calendar-feed", json={"member_id": str(member.id)}, headers=org.auth(Role.ADMIN)
    )
    assert r.status_code == 201, r.text
    url = str(r.json()["url"])
    return url[url.index("/calendar/") :]


async def test_times_are_wall_clock_in_berlin_and_stored_in_utc(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    a = await appointment(
        client,
        org_a,
        starts_at="2027-07-01T18:00:00",
        ends_at="2027-07-01T19:30:00",
        video_url="https://meet.example/x",
    )
    assert a["starts_at"] == "2027-07-01T16:00:00Z" and a["local_start"] == "2027-07-01T18:00:00+02:00"
    b = await appointment(
        client,
        org_a,
        starts_at="2027-01-10T18:00:00",
        ends_at="2027-01-10T19:00:00",
        timezone="America/New_York",
    )
    assert b["starts_at"] == "2027-01-10T23:00:00Z"
    c = await appointment(
        client, org_a, starts_at="2027-01-10T18:00:00+01:00", ends_at="2027-01-10T19:00:00+01:00"
    )
    assert c["starts_at"] == "2027-01-10T17:00:00Z"
    for body, field in [
        ({"title": "x", "starts_at": "2027-01-10T18:00:00", "ends_at": "2027-01-10T17:00:00"}, "ends_at"),
        (
            {
                "title": "x",
                "starts_at": "2027-01-10T18:00:00",
                "ends_at": "2027-01-10T19:00:00",
                "video_url": "javascript:1",
            },
            "video_url",
        ),
        ({"title": "", "starts_at": "2027-01-10T18:00:00", "ends_at": "2027-01-10T19:00:00"}, "title"),
        ({"title": "x", "starts_at": "soon", "ends_at": "2027-01-10T19:00:00"}, "starts_at"),
    ]:
        r = await client.post(f"{API}/{org_a.slug}/appointments", json=body, headers=org_a.auth())
        assert r.status_code in (400, 422) and r.json()["field"] == field, (body, r.text)


async def test_confirm_cancel_and_the_invitation(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    a = await appointment(client, org_a, member_ids=[str(ana.id)], location="Stadtteilzentrum")
    h = org_a.auth(Role.COORDINATOR)
    base = f"{API}/{org_a.slug}/appointments/{a['id']}"
    r = await client.post(f"{base}/confirm", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    r = await client.get(f"{base}/invitation.ics", headers=org_a.auth(Role.VIEWER))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    assert cal["method"] == "REQUEST"
    [event] = cal.walk("VEVENT")
    assert str(event["summary"]) == "Kennenlerntreffen" and str(event["location"]) == "Stadtteilzentrum"
    assert event.decoded("dtstart") == datetime.fromisoformat(a["starts_at"])
    assert [str(x) for x in [event["attendee"]]] == [f"mailto:{ana.email}"]
    r = await client.post(f"{base}/cancel", json={"reason": "krank"}, headers=h)
    assert r.json()["status"] == "cancelled" and r.json()["sequence"] > a["sequence"]
    cancelled = Calendar.from_ical((await client.get(f"{base}/invitation.ics", headers=h)).content)
    assert cancelled["method"] == "CANCEL"
    assert str(cancelled.walk("VEVENT")[0]["status"]) == "CANCELLED"
    r = await client.patch(base, json={"title": "again"}, headers=h)
    assert r.status_code == 409
    assert (await client.post(f"{base}/confirm", headers=org_a.auth(Role.VIEWER))).status_code == 403


async def test_the_feed_holds_exactly_the_members_items_of_their_organisation_and_dies_when_revoked(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    ana, ben = await add_member(db, org_a, locale="en"), await add_member(db, org_a)
    bea = await add_member(db, org_b)
    mine = await appointment(client, org_a, title="Ana meets", member_ids=[str(ana.id)])
    await appointment(client, org_a, title="Ben meets", member_ids=[str(ben.id)])
    gone = await appointment(client, org_a, title="Cancelled", member_ids=[str(ana.id)])
    await client.post(f"{API}/{org_a.slug}/appointments/{gone['id']}/cancel", json={}, headers=org_a.auth())
    await appointment(client, org_b, title="Other org", member_ids=[str(bea.id)])
    all_day = await task(client, org_a, title="Ana's task", assignee_id=str(ana.id))
    timed = await task(
        client, org_a, title="Ana's call", assignee_id=str(ana.id), due_time="15:30", due_date="2027-02-01"
    )
    done = await task(client, org_a, title="Ana's done", assignee_id=str(ana.id))
    await client.post(f"{API}/{org_a.slug}/tasks/{done['id']}/complete", headers=org_a.auth())
    await task(client, org_a, title="Ben's task", assignee_id=str(ben.id))
    await task(client, org_b, title="Other org task", assignee_id=str(bea.id))

    url = await feed_url(client, org_a, ana)
    r = await client.get(url)  # no Authorization: the URL is the key
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {
        f"appointment-{mine['id']}@codo",
        f"task-{all_day['id']}@codo",
        f"task-{timed['id']}@codo",
    }
    assert str(events[f"task-{all_day['id']}@codo"]["summary"]) == "Task: Ana's task"
    assert events[f"task-{all_day['id']}@codo"].decoded("dtstart") == date.fromisoformat(all_day["due_date"])
    assert events[f"task-{timed['id']}@codo"].decoded("dtstart") == datetime(2027, 2, 1, 14, 30, tzinfo=UTC)

    rotated = await feed_url(client, org_a, ana)
    assert (await client.get(url)).status_code == 404, "rotating revokes the old URL"
    assert (await client.get(rotated)).status_code == 200
    r = await client.delete(
        f"{API}/{org_a.slug}/calendar-feed", params={"member_id": str(ana.id)}, headers=org_a.auth()
    )
    assert r.status_code == 204
    revoked = await client.get(rotated)
    unknown = await client.get(rotated[:-10] + "AAAAAA.ics")
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.text == unknown.text or revoked.json()["detail"] == unknown.json()["detail"]
    assert "Ana" not in revoked.text
    for junk in ("/calendar/x.ics", "/calendar/" + "0" * 32 + "." + "a" * 43 + ".ics", "/calendar/nothing"):
        assert (await client.get(junk)).status_code == 404


async def test_only_the_member_or_an_admin_may_open_a_feed(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    ana = await add_member(db, org_a)
    r = await client.post(
        f"{API}/{org_a.slug}/calendar-feed",
        json={"member_id": str(ana.id)},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 403
    r = await client.post(f"{API}/{org_a.slug}/calendar-feed", json={}, headers=org_a.auth(Role.OWNER))
    assert r.status_code == 422 and r.json()["field"] == "member_id"
    bea = await add_member(db, org_b)
    r = await client.post(
        f"{API}/{org_a.slug}/calendar-feed", json={"member_id": str(bea.id)}, headers=org_a.auth(Role.OWNER)
    )
    assert r.status_code == 422 and org_b.slug not in r.text


async def test_my_day_and_the_calendar_range(client: AsyncTestClient[Any], db: Database, org_a: Org) -> None:
    ana = await add_member(db, org_a)
    today = clock.today()
    overdue = await task(
        client, org_a, title="old", assignee_id=str(ana.id), due_date=(today - timedelta(days=2)).isoformat()
    )
    now_task = await task(client, org_a, title="now", assignee_id=str(ana.id), due_date=today.isoformat())
    later = await task(
        client,
        org_a,
        title="later",
        assignee_id=str(ana.id),
        due_date=(today + timedelta(days=9)).isoformat(),
    )
    r = await client.get(
        f"{API}/{org_a.slug}/my-day", params={"member_id": str(ana.id)}, headers=org_a.auth(Role.VIEWER)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["id"] for t in body["overdue"]] == [overdue["id"]]
    assert [t["id"] for t in body["tasks"]] == [now_task["id"]]
    r = await client.get(
        f"{API}/{org_a.slug}/calendar",
        params={
            "from": today.isoformat(),
            "to": (today + timedelta(days=14)).isoformat(),
            "member_id": str(ana.id),
        },
        headers=org_a.auth(Role.VIEWER),
    )
    assert {t["id"] for t in r.json()["tasks"]} == {now_task["id"], later["id"]}


async def test_notifications_list_unread_count_and_settings(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    for i in range(3):
        await task(client, org_a, title=f"für Ana {i}", assignee_id=str(ana.id))
    base = f"{API}/{org_a.slug}/notifications"
    q = {"member_id": str(ana.id)}
    r = await client.get(base, params=q, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 403, "someone else's notifications are for administrators only"
    body = (await client.get(base, params=q, headers=org_a.auth())).json()
    assert body["unread_count"] == 3 and [n["kind"] for n in body["items"]] == ["assignment"] * 3
    assert body["items"][0]["title"] == "Neue Aufgabe für Sie: für Ana 2"
    r = await client.post(
        f"{base}/{body['items'][0]['id']}/read", json={"member_id": str(ana.id)}, headers=org_a.auth()
    )
    assert r.json() == {"marked": 1, "unread_count": 2}
    r = await client.post(f"{base}/read-all", json={"member_id": str(ana.id)}, headers=org_a.auth())
    assert (await client.get(f"{base}/unread-count", params=q, headers=org_a.auth())).json() == {
        "unread_count": 0
    }
    s = f"{API}/{org_a.slug}/notification-settings"
    r = await client.put(
        s,
        json={"member_id": str(ana.id), "kinds": {"assignment": {"email": False, "in_app": True}}},
        headers=org_a.auth(),
    )
    assert r.status_code == 200 and r.json()["kinds"]["assignment"] == {"email": False, "in_app": True}
    assert r.json()["kinds"]["digest"] == {"email": False, "in_app": False}
    r = await client.put(
        s,
        json={"member_id": str(ana.id), "kinds": {"spam": {"email": True, "in_app": True}}},
        headers=org_a.auth(),
    )
    assert r.status_code == 422 and r.json()["field"] == "kinds"
    r = await client.put(
        s, json={"member_id": str(ana.id), "kinds": {}}, headers=org_a.auth(Role.COORDINATOR)
    )
    assert r.status_code == 403
