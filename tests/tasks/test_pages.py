"""The pages: my day, the task list, the calendar, notifications; and what another organisation sees."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any

from icalendar import Calendar
from litestar.testing import AsyncTestClient

from shared.actor import Actor
from shared.db import Database
from shared.permissions import Role
from shared.tasks import appointments, rules, tasks
from shared.tasks.schemas import AppointmentCreate, TaskCreate, TaskOut
from tests.conftest import Org
from tests.fixtures.tasks import Member, add_member, csrf_of, make_contact, make_match, sign_in


async def a_task(db: Database, org: Org, member: Member, title: str, due: date, **extra: Any) -> TaskOut:
    async with db.tenant(org.id) as session:
        return await tasks.create_task(
            session,
            Actor(role=Role.COORDINATOR, membership_id=member.id, org_id=org.id, slug=org.slug),
            TaskCreate(title=title, due_date=due, assignee_id=member.id, **extra),
            datetime.now(UTC),
        )


def today() -> date:
    from shared.tasks.recurrence import local_now

    return local_now(datetime.now(UTC), "Europe/Berlin").date()


async def test_my_day_creates_a_recurring_task_and_completing_it_rolls_on(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/my-day")
    assert (
        page.status_code == 200
        and "Mein Tag" in page.text
        and "Für heute ist nichts mehr offen." in page.text
    )
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks",
        data={
            "_csrf": csrf_of(page.text),
            "title": "Wochenbericht <b>",
            "due_date": today().isoformat(),
            "recurrence": "weekly",
            "next": f"/o/{org_a.slug}/my-day",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/o/{org_a.slug}/my-day"
    page = await browserless.get(f"/o/{org_a.slug}/my-day")
    assert "Wochenbericht &lt;b&gt;" in page.text and "wöchentlich" in page.text
    action = re.search(r'action="(/o/[^"]+/tasks/[0-9a-f-]+/complete)"', page.text)
    assert action
    r = await browserless.post(
        action.group(1),
        data={"_csrf": csrf_of(page.text), "next": f"/o/{org_a.slug}/my-day"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = await browserless.get(r.headers["location"])
    following = today() + timedelta(days=7)
    assert "„Wochenbericht &lt;b&gt;“ ist erledigt." in page.text
    assert f"{following.day}." in page.text.split("ist erledigt.")[1][:80]
    listed = await browserless.get(f"/o/{org_a.slug}/tasks", params={"assignee_id": str(ana.id)})
    assert listed.text.count('name="ids"') == 1, "only the next occurrence is open"
    assert "Wochenbericht" in listed.text and "wöchentlich" in listed.text


async def test_a_bad_form_comes_back_with_the_problem_and_nothing_is_written(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/my-day")
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks",
        data={
            "_csrf": csrf_of(page.text),
            "title": "x",
            "due_date": today().isoformat(),
            "due_time": "99:99",
        },
    )
    assert r.status_code == 422 and "Eine Uhrzeit hat die Form HH:MM" in r.text
    r = await browserless.post(f"/o/{org_a.slug}/tasks", data={"title": "no token", "due_date": "2027-01-01"})
    assert r.status_code == 403
    assert "no token" not in (await browserless.get(f"/o/{org_a.slug}/tasks")).text


async def test_bulk_complete_and_reassign_from_the_list(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana, ben = await add_member(db, org_a), await add_member(db, org_a)
    first = await a_task(db, org_a, ana, "Erstens", today())
    second = await a_task(db, org_a, ana, "Zweitens", today())
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/tasks", params={"assignee_id": str(ana.id)})
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks/bulk",
        data={
            "_csrf": csrf_of(page.text),
            "ids": [str(first.id), str(second.id)],
            "action": "reassign",
            "assignee_id": str(ben.id),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    mine = await browserless.get(f"/o/{org_a.slug}/tasks", params={"assignee_id": str(ben.id)})
    assert "Erstens" in mine.text and "Zweitens" in mine.text
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks/bulk",
        data={"_csrf": csrf_of(page.text), "ids": [str(first.id)], "action": "complete"},
        follow_redirects=False,
    )
    done = await browserless.get(
        f"/o/{org_a.slug}/tasks", params={"status": "done", "assignee_id": str(ben.id)}
    )
    assert "Erstens" in done.text and "Zweitens" not in done.text


async def test_the_calendar_week_and_month(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    await a_task(db, org_a, ana, "Im Kalender", date(2027, 3, 31), due_time="16:00")
    starts = datetime(2027, 3, 30, 8, 0, tzinfo=UTC)
    async with db.tenant(org_a.id) as session:
        await appointments.create(
            session,
            Actor(role=Role.COORDINATOR, membership_id=ana.id, org_id=org_a.id, slug=org_a.slug),
            AppointmentCreate(title="Treffen im März", starts_at=starts, ends_at=starts + timedelta(hours=1)),
        )
    await sign_in(browserless, ana)
    week = await browserless.get(f"/o/{org_a.slug}/calendar", params={"start": "2027-03-31"})
    assert week.status_code == 200
    assert "Im Kalender" in week.text and "Treffen im März" in week.text and "10:00" in week.text
    month = await browserless.get(
        f"/o/{org_a.slug}/calendar", params={"view": "month", "start": "2027-03-01"}
    )
    assert month.text.count('class="week"') == 5 and "Im Kalender" in month.text
    other = await browserless.get(f"/o/{org_a.slug}/calendar", params={"start": "2027-04-07"})
    assert "Im Kalender" not in other.text


async def test_notification_settings_and_the_calendar_address(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    await a_task(db, org_a, ana, "Für den Feed", today() + timedelta(days=1))
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/notifications")
    assert page.status_code == 200 and "Tagesübersicht um 7 Uhr" in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/notification-settings",
        data={"_csrf": csrf_of(page.text), "digest:email": "on", "task_due:in_app": "on"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    settings = (await browserless.get(f"/o/{org_a.slug}/notification-settings", params={})).status_code
    assert settings in (404, 405)  # the settings page is the notifications page
    page = await browserless.get(f"/o/{org_a.slug}/notifications")
    assert 'name="digest:email" aria-label="Tagesübersicht um 7 Uhr: E-Mail" checked' in page.text
    assert 'name="task_due:email" aria-label="Fällige Aufgaben: E-Mail">' in page.text
    r = await browserless.post(f"/o/{org_a.slug}/calendar-feed", data={"_csrf": csrf_of(page.text)})
    url = unescape(re.search(r'id="feed-url">([^<]+)<', r.text).group(1))  # type: ignore[union-attr]
    feed = await browserless.get(url[url.index("/calendar/") :])
    assert feed.status_code == 200
    assert [str(e["summary"]) for e in Calendar.from_ical(feed.content).walk("VEVENT")] == [
        "Aufgabe: Für den Feed"
    ]
    await browserless.post(f"/o/{org_a.slug}/calendar-feed/revoke", data={"_csrf": csrf_of(page.text)})
    assert (await browserless.get(url[url.index("/calendar/") :])).status_code == 404


async def test_every_page_of_another_organisation_is_not_found(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    ana, bea = await add_member(db, org_a), await add_member(db, org_b)
    theirs = await a_task(db, org_b, bea, "Geheim", today())
    async with db.tenant(org_b.id) as session:
        their_meeting = await appointments.create(
            session,
            Actor(role=Role.COORDINATOR, membership_id=bea.id, org_id=org_b.id, slug=org_b.slug),
            appointments.AppointmentCreate(
                title="Geheim", starts_at=datetime(2027, 5, 3, 10, 0), ends_at=datetime(2027, 5, 3, 11, 0)
            ),
        )
    ids = {"task_id": theirs.id, "appointment_id": their_meeting.id}
    await sign_in(browserless, ana)
    csrf = csrf_of((await browserless.get(f"/o/{org_a.slug}/my-day")).text)
    from services.api.tasks.appointment_pages import AppointmentPages
    from services.api.tasks.pages import NotificationPages, TaskPages

    def theirs_in(path: str) -> str:
        return re.sub(r"\{(\w+):uuid\}", lambda m: str(ids.get(m.group(1), theirs.id)), path)

    checked = 0
    for route in browserless.app.routes:
        for handler in getattr(route, "route_handlers", []):
            qualname = getattr(handler.fn, "__qualname__", "")
            controllers = (TaskPages.__name__, NotificationPages.__name__, AppointmentPages.__name__)
            if qualname.split(".")[0] not in controllers:
                continue
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                path = theirs_in(route.path.replace("{slug:str}", org_b.slug))
                data = {"_csrf": csrf} if method == "POST" else None
                r = await browserless.request(method, path, data=data, follow_redirects=False)
                assert r.status_code == 404, (method, path, r.status_code)
                assert "Geheim" not in r.text
                # B's ids inside A's pages are just as unknown.
                own = theirs_in(route.path.replace("{slug:str}", org_a.slug))
                if own != route.path.replace("{slug:str}", org_a.slug):
                    r = await browserless.request(method, own, data=data, follow_redirects=False)
                    assert r.status_code == 404, (method, own, r.status_code)
                checked += 1
    assert checked >= 20


async def test_the_task_list_by_contact_and_by_match(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        person = await make_contact(session, org_a.id)
        match = await make_match(session, org_a.id)
    await a_task(db, org_a, ana, "Über die Person", today(), contact_id=person.id)
    await a_task(db, org_a, ana, "Über das Tandem", today(), match_id=match.id)
    await sign_in(browserless, ana)
    by_contact = await browserless.get(f"/o/{org_a.slug}/tasks", params={"contact_id": str(person.id)})
    assert "Über die Person" in by_contact.text and "Über das Tandem" not in by_contact.text
    assert f'href="/o/{org_a.slug}/contacts/{person.id}"' in by_contact.text
    by_match = await browserless.get(f"/o/{org_a.slug}/tasks", params={"match_id": str(match.id)})
    assert "Über das Tandem" in by_match.text and "Über die Person" not in by_match.text
    assert f'href="/o/{org_a.slug}/matches/{match.id}"' in by_match.text


async def test_an_admin_switches_a_rule_on_and_tunes_it(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    page = await browserless.get(f"/o/{org_a.slug}/task-rules")
    assert page.status_code == 200 and "Nachfassen: eine Mentee wartet auf ein Tandem" in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/task-rules",
        data={
            "_csrf": csrf_of(page.text),
            "waiting_followup:enabled": "on",
            "waiting_followup:days": "21",
            "waiting_followup:assignee_id": str(admin.id),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    async with db.tenant(org_a.id) as session:
        stored = {x.rule: x for x in await rules.list_rules(session)}
    assert stored["waiting_followup"].enabled and stored["waiting_followup"].params == {"days": 21}
    assert stored["waiting_followup"].assignee_id == admin.id and not stored["checkin_due"].enabled
    r = await browserless.post(
        f"/o/{org_a.slug}/task-rules",
        data={"_csrf": csrf_of(page.text), "waiting_followup:enabled": "on", "waiting_followup:days": "0"},
    )
    assert r.status_code == 422


async def test_a_coordinator_sees_the_rules_but_cannot_change_them(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/task-rules")
    assert page.status_code == 200 and "disabled" in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/task-rules", data={"_csrf": csrf_of(page.text), "checkin_due:enabled": "on"}
    )
    assert r.status_code == 403


async def test_an_appointment_made_on_the_calendar_page(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana, ben = await add_member(db, org_a), await add_member(db, org_a)
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/calendar", params={"start": "2027-10-25"})
    r = await browserless.post(
        f"/o/{org_a.slug}/appointments",
        data={
            "_csrf": csrf_of(page.text),
            "title": "Elternabend",
            "day": "2027-10-27",
            "start": "18:30",
            "end": "20:00",
            "location": "Aula",
            "member_ids": [str(ana.id), str(ben.id)],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=created")
    week = await browserless.get(f"/o/{org_a.slug}/calendar", params={"start": "2027-10-27"})
    assert "Elternabend" in week.text and "18:30" in week.text
    async with db.tenant(org_a.id) as session:
        [made] = await appointments.list_between(
            session, datetime(2027, 10, 27, tzinfo=UTC), datetime(2027, 10, 28, tzinfo=UTC), member_id=ben.id
        )
    # 18:30 in Berlin on 27 October 2027 is still summer time (it ends on 31 October): 16:30 UTC.
    assert made.starts_at == datetime(2027, 10, 27, 16, 30, tzinfo=UTC) and sorted(made.member_ids) == sorted(
        [ana.id, ben.id]
    )
    r = await browserless.post(
        f"/o/{org_a.slug}/appointments",
        data={
            "_csrf": csrf_of(page.text),
            "title": "x",
            "day": "2027-10-27",
            "start": "18:30",
            "end": "17:00",
        },
    )
    assert r.status_code == 422
