"""A person's page leads to everything about them (checklist, tasks, tandems), links guardians,
children and contact persons, and the tandem page leads to its two people."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member, csrf_of, make_match, sign_in


async def test_a_coordinator_links_a_guardian_to_a_child_and_sees_the_siblings(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    mother = await intake.person("guardian", "Maria")
    child = await intake.person("mentee", "Lina")
    brother = await intake.person("mentee", "Tom")
    await intake.call(
        "POST", f"/contacts/{mother}/links", json={"related_id": brother, "kind": "guardian_of"}, expect=201
    )
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/contacts/{child}"
    page = await browserless.get(url, params={"link_q": "mari"})
    assert "Maria Muster" in page.text and 'name="related_id"' in page.text, "the picker finds her by name"
    csrf = csrf_of(page.text)
    r = await browserless.post(f"{url}/links", data={"_csrf": csrf, "kind_direction": "guardian_of:of_this"})
    assert (
        r.status_code == 422 and 'id="related_id-error"' in r.text and "Bitte aus der Liste wählen" in r.text
    )
    r = await browserless.post(
        f"{url}/links",
        data={"_csrf": csrf, "related_id": child, "kind_direction": "guardian_of:of_this"},
    )
    assert r.status_code == 422 and "nicht mit sich selbst" in r.text
    r = await browserless.post(
        f"{url}/links",
        data={"_csrf": csrf, "related_id": mother, "kind_direction": "guardian_of:of_this"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    [link] = await intake.call("GET", f"/contacts/{child}/links")
    assert (link["contact_id"], link["kind"], link["related_id"]) == (mother, "guardian_of", child)
    page = await browserless.get(r.headers["location"])
    assert "Die Verknüpfung ist gespeichert." in page.text
    siblings = page.text[page.text.index("Geschwister") :]
    assert "Tom Muster" in siblings[:400], "the mother's other child shows as a sibling"
    assert "Die Verknüpfung zwischen Maria Muster und Lina Muster wird entfernt." in page.text
    r = await browserless.post(
        f"{url}/links/{link['id']}/remove", data={"_csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert await intake.call("GET", f"/contacts/{child}/links") == []


async def test_the_contact_page_leads_to_checklist_tasks_and_tandem_and_back(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    async with db.tenant(org_a.id) as session:
        match = await make_match(session, org_a.id)
        mentee, mentor, match_id = str(match.mentee_id), str(match.mentor_id), str(match.id)
    task = {"title": "Zeugnis nachfragen", "due_date": "2026-12-01", "contact_id": mentee}
    await intake.call("POST", "/tasks", json=task, expect=201)
    await sign_in(browserless, await add_member(db, org_a))
    page = await browserless.get(f"/o/{org_a.slug}/contacts/{mentee}")
    assert f'href="/o/{org_a.slug}/intake/people/{mentee}"' in page.text
    assert (
        f'href="/o/{org_a.slug}/tasks?contact_id={mentee}"' in page.text and "Zeugnis nachfragen" in page.text
    )
    assert f'href="/o/{org_a.slug}/matches/{match_id}"' in page.text
    tandem = await browserless.get(f"/o/{org_a.slug}/matches/{match_id}")
    assert f'href="/o/{org_a.slug}/contacts/{mentee}"' in tandem.text
    assert f'href="/o/{org_a.slug}/contacts/{mentor}"' in tandem.text
    checklist = await browserless.get(f"/o/{org_a.slug}/intake/people/{mentee}")
    assert checklist.status_code == 200


async def test_a_timeline_entry_is_deleted_after_asking_and_viewers_cannot_link(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    person = await intake.person("mentor", "Paul")
    other = await intake.person("guardian", "Olga")
    entry = await intake.call(
        "POST",
        f"/contacts/{person}/timeline",
        json={"kind": "call", "body": "Rückruf vereinbart"},
        expect=201,
    )
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/contacts/{person}"
    page = await browserless.get(url)
    assert "wird endgültig gelöscht" in page.text
    r = await browserless.post(
        f"{url}/timeline/{entry['id']}/remove", data={"_csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "Rückruf vereinbart" not in (await browserless.get(url)).text

    await sign_in(browserless, await add_member(db, org_a, role="viewer"))
    page = await browserless.get(url)
    assert "Verknüpfung speichern" not in page.text and "Eintrag löschen" not in page.text
    r = await browserless.post(
        f"{url}/links",
        data={"_csrf": csrf_of(page.text), "related_id": other, "kind_direction": "guardian_of:of_this"},
    )
    assert r.status_code == 403
    assert await intake.call("GET", f"/contacts/{person}/links") == []
