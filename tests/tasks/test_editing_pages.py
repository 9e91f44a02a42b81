"""What the API lets a coordinator do with tasks and appointments, the pages offer too: edit,
delete, stop a repetition; open, change, confirm and cancel an appointment with members, contacts
and a tandem; and a check-in that needs a follow-up gives the tandem's coordinator a task."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared.actor import Actor
from shared.contacts.service import sync_terms
from shared.db import Database
from shared.errors import NotFound
from shared.permissions import Role
from shared.tasks import appointments, followups, tasks
from shared.tasks.models import Task
from tests.conftest import Org
from tests.fixtures.tasks import Member, add_member, csrf_of, make_contact, make_match, sign_in
from tests.tasks.test_pages import a_task, today


def now() -> datetime:
    return datetime.now(UTC)


async def task_in_db(db: Database, org: Org, task_id: uuid.UUID) -> tasks.TaskDetail:
    async with db.tenant(org.id) as session:
        return await tasks.get_task(session, task_id, now())


async def appointment_in_db(db: Database, org: Org, appointment_id: uuid.UUID) -> appointments.AppointmentOut:
    async with db.tenant(org.id) as session:
        return await appointments.get_out(session, appointment_id)


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


async def test_a_coordinator_edits_every_field_of_a_task(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana, ben = await add_member(db, org_a), await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        person = await make_contact(session, org_a.id)
        match = await make_match(session, org_a.id)
    task = await a_task(db, org_a, ana, "Anrufen", today())
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")
    assert page.status_code == 200 and "Aufgabe bearbeiten" in page.text
    due = today() + timedelta(days=3)
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks/{task.id}",
        data={
            "_csrf": csrf_of(page.text),
            "title": "Familie Berger anrufen",
            "due_date": due.isoformat(),
            "due_time": "14:15",
            "assignee_id": str(ben.id),
            "priority": "high",
            "status": "open",
            "recurrence": "every 2 weeks",
            "contact_id": str(person.id),
            "match_id": str(match.id),
            "description": "Nach dem Schulwechsel fragen.",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"/tasks/{task.id}?saved=1")
    stored = await task_in_db(db, org_a, task.id)
    assert (stored.title, stored.due_time, stored.assignee_id, stored.priority) == (
        "Familie Berger anrufen",
        "14:15",
        ben.id,
        "high",
    )
    assert stored.recurrence == "FREQ=WEEKLY;INTERVAL=2" and stored.due_date == due
    assert (stored.contact_id, stored.match_id) == (person.id, match.id)
    assert stored.description == "Nach dem Schulwechsel fragen."
    shown = await browserless.get(r.headers["location"])
    words = text_of(shown.text)
    assert "Gespeichert." in words and "alle 2 Wochen" in words and "hoch" in words
    assert f'href="/o/{org_a.slug}/contacts/{person.id}"' in shown.text
    assert f"{person.first_name} {person.last_name}" in words
    assert f'href="/o/{org_a.slug}/matches/{match.id}"' in shown.text
    # The edit form shows what is stored: the contact ticked, the tandem and the repetition chosen.
    assert re.search(rf'value="{person.id}" checked', shown.text)
    assert re.search(rf'<option value="{match.id}" selected', shown.text)
    assert '<option value="every 2 weeks" selected>' in shown.text


async def test_a_repetition_is_changed_and_stopped_from_the_task_page(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    task = await a_task(db, org_a, ana, "Wochenbericht", today(), recurrence="weekly")
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")
    assert "Wiederholung beenden" in page.text
    form = {
        "_csrf": csrf_of(page.text),
        "title": "Wochenbericht",
        "due_date": today().isoformat(),
        "priority": "normal",
        "status": "open",
        "assignee_id": str(ana.id),
        "recurrence": "monthly",
    }
    r = await browserless.post(f"/o/{org_a.slug}/tasks/{task.id}", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert (await task_in_db(db, org_a, task.id)).recurrence == "FREQ=MONTHLY"
    assert "monatlich" in (await browserless.get(r.headers["location"])).text
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks/{task.id}/stop-repeating",
        data={"_csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (await task_in_db(db, org_a, task.id)).recurrence is None
    shown = await browserless.get(r.headers["location"])
    assert "Die Aufgabe wiederholt sich nicht mehr" in shown.text
    assert "Wiederholung beenden" not in shown.text
    # Completing it now makes no next occurrence.
    await browserless.post(
        f"/o/{org_a.slug}/tasks/{task.id}/complete",
        data={"_csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    async with db.tenant(org_a.id) as session:
        open_ones = await tasks.list_tasks(
            session, tasks.TaskFilter(status="open", assignee_id=ana.id), now=now(), limit=10, cursor=None
        )
    assert open_ones.items == []


async def test_deleting_a_task_asks_first_naming_what_is_lost(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    task = await a_task(db, org_a, ana, "Alte Notiz", today(), recurrence="weekly")
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")
    await browserless.post(
        f"/o/{org_a.slug}/tasks/{task.id}/comments", data={"_csrf": csrf_of(page.text), "body": "erledigt?"}
    )
    page = await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")
    confirm = re.search(r'action="[^"]+/delete"[^>]*data-confirm="([^"]+)"', page.text)
    assert confirm, "the delete form asks before it deletes"
    assert unescape(confirm.group(1)) == (
        "Die Aufgabe „Alte Notiz“ und ihren 1 Kommentar endgültig löschen? "
        "Sie wiederholt sich dann nicht mehr."
    )
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks/{task.id}/delete", data={"_csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    with pytest.raises(NotFound):
        await task_in_db(db, org_a, task.id)
    listed = await browserless.get(r.headers["location"])
    assert "„Alte Notiz“ wurde gelöscht." in listed.text
    assert (await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")).status_code == 404


async def test_a_refused_task_change_shows_why_beside_the_field_and_writes_nothing(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    task = await a_task(db, org_a, ana, "Unverändert", today())
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")
    base = {
        "_csrf": csrf_of(page.text),
        "due_date": today().isoformat(),
        "priority": "normal",
        "status": "open",
        "assignee_id": str(ana.id),
    }
    r = await browserless.post(f"/o/{org_a.slug}/tasks/{task.id}", data={**base, "title": "  "})
    assert r.status_code == 422
    assert re.search(r'id="edit-title"[^>]*aria-invalid="true" aria-describedby="err-title"', r.text)
    assert '<small id="err-title" class="error">Der Titel muss 1 bis 300 Zeichen lang sein.</small>' in r.text
    # The title is changed before the assignee is checked: the refusal undoes it.
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks/{task.id}",
        data={**base, "title": "Geändert", "assignee_id": str(uuid.uuid4())},
    )
    assert r.status_code == 422 and 'id="err-assignee_id"' in r.text
    assert 'value="Geändert"' in r.text, "what was typed comes back"
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks/{task.id}", data={**base, "title": "Geändert", "due_time": "25:00"}
    )
    assert r.status_code == 422 and "Eine Uhrzeit hat die Form HH:MM" in r.text
    stored = await task_in_db(db, org_a, task.id)
    assert stored.title == "Unverändert" and stored.assignee_id == ana.id and stored.due_time is None


async def test_a_viewer_reads_tasks_and_appointments_but_changes_nothing(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    vera = await add_member(db, org_a, role="viewer")
    task = await a_task(db, org_a, ana, "Nur lesen", today(), recurrence="weekly")
    made = await an_appointment(db, org_a, ana, "Teamtreffen")
    await sign_in(browserless, vera)
    page = await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")
    assert page.status_code == 200 and "Nur lesen" in page.text
    for absent in ("Aufgabe bearbeiten", "Aufgabe löschen", "Wiederholung beenden", 'data-confirm="'):
        assert absent not in page.text
    appointment = await browserless.get(f"/o/{org_a.slug}/appointments/{made.id}")
    assert appointment.status_code == 200 and "Teamtreffen" in appointment.text
    assert "Termin bearbeiten" not in appointment.text and "Termin absagen" not in appointment.text
    assert (await browserless.get(f"/o/{org_a.slug}/appointments/new")).status_code == 403
    csrf = csrf_of(page.text)
    for path, data in (
        (f"/tasks/{task.id}", {"title": "Übernommen", "due_date": today().isoformat()}),
        (f"/tasks/{task.id}/delete", {}),
        (f"/tasks/{task.id}/stop-repeating", {}),
        (f"/appointments/{made.id}", {"title": "Übernommen"}),
        (f"/appointments/{made.id}/cancel", {}),
        (f"/appointments/{made.id}/confirm", {}),
    ):
        r = await browserless.post(f"/o/{org_a.slug}{path}", data={"_csrf": csrf, **data})
        assert r.status_code == 403, path
    stored = await task_in_db(db, org_a, task.id)
    assert stored.title == "Nur lesen" and stored.recurrence == "FREQ=WEEKLY"
    kept = await appointment_in_db(db, org_a, made.id)
    assert (kept.title, kept.status) == ("Teamtreffen", "planned")


async def an_appointment(db: Database, org: Org, member: Member, title: str, **extra: Any) -> Any:
    async with db.tenant(org.id) as session:
        return await appointments.create(
            session,
            Actor(role=Role.COORDINATOR, membership_id=member.id, org_id=org.id, slug=org.slug),
            appointments.AppointmentCreate(
                title=title,
                starts_at=datetime(2027, 3, 10, 10, 0),
                ends_at=datetime(2027, 3, 10, 11, 0),
                **extra,
            ),
        )


async def test_an_appointment_with_contacts_and_a_tandem_is_made_opened_changed_and_cancelled(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana, ben = await add_member(db, org_a), await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        mother = await make_contact(session, org_a.id, kind="guardian")
        teacher = await make_contact(session, org_a.id, kind="partner")
        match = await make_match(session, org_a.id)
    await sign_in(browserless, ana)
    calendar = await browserless.get(f"/o/{org_a.slug}/calendar", params={"start": "2027-03-08"})
    assert f'href="/o/{org_a.slug}/appointments/new?day=2027-03-08"' in calendar.text
    form = await browserless.get(f"/o/{org_a.slug}/appointments/new", params={"day": "2027-03-10"})
    assert form.status_code == 200 and 'value="2027-03-10"' in form.text
    # Contacts are ticked in a list (no multi-select), the tandem is chosen by its two names.
    assert f'type="checkbox" name="contact_ids" value="{mother.id}"' in form.text
    assert "<select" in form.text and 'name="contact_ids" multiple' not in form.text
    assert re.search(rf'<option value="{match.id}">[^<]+ &amp; [^<]+</option>', form.text)
    r = await browserless.post(
        f"/o/{org_a.slug}/appointments",
        data={
            "_csrf": csrf_of(form.text),
            "title": "Gespräch mit der Schule",
            "day": "2027-03-10",
            "start": "15:00",
            "end": "16:00",
            "location": "Grundschule am Park",
            "member_ids": [str(ana.id), str(ben.id)],
            "contact_ids": [str(mother.id), str(teacher.id)],
            "match_id": str(match.id),
            "reminder_minutes": "1440",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    appointment_id = uuid.UUID(
        re.search(r"/appointments/([0-9a-f-]+)\?saved=created", r.headers["location"]).group(1)
    )  # type: ignore[union-attr]
    made = await appointment_in_db(db, org_a, appointment_id)
    assert set(made.contact_ids) == {mother.id, teacher.id} and made.match_id == match.id
    assert set(made.member_ids) == {ana.id, ben.id} and made.reminder_minutes == 1440
    assert made.starts_at == datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
    opened = await browserless.get(r.headers["location"])
    words = text_of(opened.text)
    assert "Der Termin wurde angelegt." in words and "Grundschule am Park" in words
    assert f"{mother.first_name} {mother.last_name}" in words and " & " in words
    assert "Mittwoch, 10. März 2027, 15:00 \N{EN DASH} 16:00" in words
    # The calendar's entry opens it.
    week = await browserless.get(f"/o/{org_a.slug}/calendar", params={"start": "2027-03-08"})
    assert f'href="/o/{org_a.slug}/appointments/{appointment_id}">Gespräch mit der Schule</a>' in week.text

    r = await browserless.post(
        f"/o/{org_a.slug}/appointments/{appointment_id}",
        data={
            "_csrf": csrf_of(opened.text),
            "title": "Gespräch mit der Schule (verschoben)",
            "day": "2027-03-11",
            "start": "09:00",
            "end": "10:30",
            "location": "Grundschule am Park",
            "member_ids": [str(ana.id)],
            "contact_ids": [str(mother.id)],
            "match_id": "",
            "reminder_minutes": "60",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    changed = await appointment_in_db(db, org_a, appointment_id)
    assert changed.title == "Gespräch mit der Schule (verschoben)" and changed.contact_ids == [mother.id]
    assert changed.member_ids == [ana.id] and changed.match_id is None
    assert changed.starts_at == datetime(2027, 3, 11, 8, 0, tzinfo=UTC)

    opened = await browserless.get(f"/o/{org_a.slug}/appointments/{appointment_id}")
    r = await browserless.post(
        f"/o/{org_a.slug}/appointments/{appointment_id}/confirm",
        data={"_csrf": csrf_of(opened.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and (await appointment_in_db(db, org_a, appointment_id)).status == "confirmed"
    opened = await browserless.get(r.headers["location"])
    assert "Der Termin ist bestätigt." in opened.text and "Termin bestätigen" not in opened.text
    confirm = re.search(r'action="[^"]+/cancel"[^>]*data-confirm="([^"]+)"', opened.text)
    assert confirm and unescape(confirm.group(1)) == (
        "„Gespräch mit der Schule (verschoben)“ absagen? 1 Kontakt erhält eine Absage per E-Mail; "
        "das lässt sich nicht rückgängig machen."
    )
    r = await browserless.post(
        f"/o/{org_a.slug}/appointments/{appointment_id}/cancel",
        data={"_csrf": csrf_of(opened.text), "reason": "Krankheit"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cancelled = await appointment_in_db(db, org_a, appointment_id)
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Krankheit")
    shown = text_of((await browserless.get(r.headers["location"])).text)
    assert "Der Termin wurde abgesagt." in shown and "Abgesagt: Krankheit" in shown
    assert "Termin bearbeiten" not in shown


async def test_a_refused_appointment_comes_back_with_the_reason_beside_the_field(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    await sign_in(browserless, ana)
    form = await browserless.get(f"/o/{org_a.slug}/appointments/new")
    r = await browserless.post(
        f"/o/{org_a.slug}/appointments",
        data={
            "_csrf": csrf_of(form.text),
            "title": "Zu kurz",
            "day": "2027-03-10",
            "start": "15:00",
            "end": "14:00",
            "location": "Büro",
        },
    )
    assert r.status_code == 422
    assert re.search(r'id="appt-end"[^>]*aria-invalid="true"', r.text)
    assert '<small id="err-end" class="error">Ein Termin endet nach seinem Beginn.</small>' in r.text
    assert 'value="Zu kurz"' in r.text and 'value="Büro"' in r.text
    made = await an_appointment(db, org_a, ana, "Bleibt")
    page = await browserless.get(f"/o/{org_a.slug}/appointments/{made.id}")
    r = await browserless.post(
        f"/o/{org_a.slug}/appointments/{made.id}",
        data={
            "_csrf": csrf_of(page.text),
            "title": "Bleibt nicht",
            "day": "2027-03-10",
            "start": "10:00",
            "end": "11:00",
            "video_url": "zoom.example/123",
        },
    )
    assert r.status_code == 422 and 'id="err-video_url"' in r.text
    assert "Der Termin wurde nicht geändert:" in r.text
    assert (await appointment_in_db(db, org_a, made.id)).title == "Bleibt"


async def test_the_contact_picker_finds_contacts_by_name_and_keeps_the_ticked_ones(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        found = await make_contact(session, org_a.id)
        other = await make_contact(session, org_a.id)
        ticked = await make_contact(session, org_a.id)
        await sync_terms(session, [found, other, ticked])
    await sign_in(browserless, ana)
    r = await browserless.get(
        f"/o/{org_a.slug}/contact-options",
        params={"name": "contact_ids", "q": found.last_name, "contact_ids": str(ticked.id)},
    )
    assert r.status_code == 200
    assert f'name="contact_ids" value="{found.id}">' in r.text
    assert f'name="contact_ids" value="{ticked.id}" checked>' in r.text
    assert str(other.id) not in r.text
    single = await browserless.get(
        f"/o/{org_a.slug}/contact-options", params={"name": "contact_id", "q": "zzz"}
    )
    assert 'type="radio" name="contact_id" value="" checked' in single.text
    assert "Kein Kontakt gefunden." in single.text


async def follow_up_tasks(db: Database, org: Org, match_id: uuid.UUID) -> list[Task]:
    async with db.tenant(org.id) as session:
        return list(
            (
                await session.execute(
                    select(Task).where(Task.match_id == match_id, Task.rule == followups.RULE)
                )
            ).scalars()
        )


async def test_a_check_in_that_needs_a_follow_up_gives_the_coordinator_a_task_once(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana, carla = await add_member(db, org_a), await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        match = await make_match(session, org_a.id, owner=carla.id)
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{match.id}")
    assert "Nachfassen nötig" in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/matches/{match.id}/checkins",
        data={"_csrf": csrf_of(page.text), "channel": "phone", "rating": "2", "notes": "Streit um Termine"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and await follow_up_tasks(db, org_a, match.id) == []
    r = await browserless.post(
        f"/o/{org_a.slug}/matches/{match.id}/checkins",
        data={
            "_csrf": csrf_of(page.text),
            "channel": "phone",
            "rating": "2",
            "notes": "Mentee möchte wechseln",
            "follow_up": "on",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    [task] = await follow_up_tasks(db, org_a, match.id)
    # The mentee's contact owner looks after the tandem; the one who checked in is someone else.
    assert task.assignee_id == carla.id and task.status == "open" and task.priority == "high"
    assert task.title.startswith("Nachfassen nach dem Check-in vom ") and task.due_date == today()
    assert task.description == "Mentee möchte wechseln"
    await sign_in(browserless, carla)
    mine = await browserless.get(f"/o/{org_a.slug}/my-day")
    assert "Nachfassen nach dem Check-in vom" in mine.text
    # The same from the API, and a repeated call for the same check-in makes no second task.
    r = await browserless.post(
        f"/api/v1/orgs/{org_a.slug}/matches/{match.id}/checkins",
        json={"channel": "video", "rating": 3, "follow_up": True},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 201, r.text
    checkin_id = uuid.UUID(r.json()["id"])
    assert len(await follow_up_tasks(db, org_a, match.id)) == 2
    async with db.tenant(org_a.id) as session:
        again = await followups.checkin_needs_follow_up(
            session,
            Actor(role=Role.COORDINATOR, membership_id=ana.id),
            checkin_id=checkin_id,
            match_id=match.id,
            checked_in_on=today(),
            coordinator_id=carla.id,
            notes="",
            today=today(),
        )
    assert again is None and len(await follow_up_tasks(db, org_a, match.id)) == 2


async def test_a_task_made_on_a_tandems_task_list_is_linked_to_it(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        match = await make_match(session, org_a.id)
    await sign_in(browserless, ana)
    listed = await browserless.get(f"/o/{org_a.slug}/tasks", params={"match_id": str(match.id)})
    assert f'name="match_id" value="{match.id}"' in listed.text
    r = await browserless.post(
        f"/o/{org_a.slug}/tasks",
        data={
            "_csrf": csrf_of(listed.text),
            "title": "Abschlussgespräch planen",
            "due_date": today().isoformat(),
            "match_id": str(match.id),
            "next": f"/o/{org_a.slug}/tasks?match_id={match.id}",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    shown = await browserless.get(r.headers["location"])
    assert "Abschlussgespräch planen" in shown.text
    async with db.tenant(org_a.id) as session:
        [made] = (
            await tasks.list_tasks(
                session, tasks.TaskFilter(match_id=match.id), now=now(), limit=5, cursor=None
            )
        ).items
    assert made.title == "Abschlussgespräch planen"


async def test_one_notification_is_marked_read_from_the_page(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana, ben = await add_member(db, org_a), await add_member(db, org_a)
    async with db.tenant(org_a.id) as session:
        await tasks.create_task(
            session,
            Actor(role=Role.COORDINATOR, membership_id=ben.id, org_id=org_a.id, slug=org_a.slug),
            tasks.TaskCreate(title="Für Ana", due_date=today(), assignee_id=ana.id),
            now(),
        )
    await sign_in(browserless, ana)
    page = await browserless.get(f"/o/{org_a.slug}/notifications")
    action = re.search(r'action="(/o/[^"]+/notifications/[0-9a-f-]+/read)"', page.text)
    assert action and "Als gelesen markieren" in page.text and "Ungelesen: 1" in page.text
    r = await browserless.post(action.group(1), data={"_csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    page = await browserless.get(r.headers["location"])
    assert "Ungelesen: 0" in page.text and "Als gelesen markieren" not in page.text


async def test_the_pages_speak_english_to_an_english_coordinator(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    eve = await add_member(db, org_a, locale="en")
    task = await a_task(db, org_a, eve, "Call the school", today(), recurrence="weekly")
    made = await an_appointment(db, org_a, eve, "Parents' evening", reminder_minutes=90)
    await sign_in(browserless, eve)
    page = text_of((await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")).text)
    for words in ("Edit task", "Stop repeating", "Delete task", "Repeats weekly", "Priority"):
        assert words in page, words
    opened = await browserless.get(f"/o/{org_a.slug}/appointments/{made.id}")
    words = text_of(opened.text)
    assert "Wednesday, 10 March 2027, 10:00" in words and "Cancel appointment" in words
    assert "Absagen" not in words and "Termin" not in words
    # A lead time set through the API is shown and kept, not replaced by the nearest offer.
    assert '<option value="90" selected>90 minutes before</option>' in opened.text
    confirm = re.search(r'data-confirm="([^"]+)"', opened.text)
    assert confirm and unescape(confirm.group(1)).startswith("Cancel “Parents' evening”? 0 contacts get")


async def test_a_repetition_on_weekdays_reads_as_words_in_the_readers_language(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    ana = await add_member(db, org_a)
    task = await a_task(db, org_a, ana, "Lernrunde", today(), recurrence="FREQ=WEEKLY;BYDAY=MO,TH")
    await sign_in(browserless, ana)
    page = (await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")).text
    assert "<dd>wöchentlich am Montag und Donnerstag</dd>" in page
    await sign_in(browserless, await add_member(db, org_a, locale="en"))
    page = (await browserless.get(f"/o/{org_a.slug}/tasks/{task.id}")).text
    assert "<dd>weekly on Monday and Thursday</dd>" in page
