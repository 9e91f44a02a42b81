"""Preparation steps set up on a settings page instead of through the API alone, and a record made
in error removed from a person's checklist."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member, csrf_of, sign_in


async def test_an_admin_defines_orders_changes_and_removes_a_programmes_steps(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    programme = await intake.programme("Lesepaten")
    await sign_in(browserless, await add_member(db, org_a, role="admin"))
    base = f"/o/{org_a.slug}/intake/steps"
    page = await browserless.get(base)
    assert page.status_code == 200 and "Lesepaten" in page.text
    csrf = csrf_of(page.text)
    r = await browserless.post(
        f"{base}/defaults", data={"_csrf": csrf, "programme_id": programme}, follow_redirects=False
    )
    assert r.status_code == 303
    steps = (await intake.call("GET", f"/screening/steps?programme_id={programme}"))["items"]
    assert [s["kind"] for s in steps] == ["interview", "seminar", "certificate", "references", "agreement"]

    new = {"_csrf": csrf, "programme_id": programme, "kind": "other", "label_de": "Hausbesuch",
           "label_en": "Home visit", "applies_to": ["mentor", "mentee"], "required": "yes"}  # fmt: skip
    r = await browserless.post(base, data={**new, "valid_months": "zwölf"})
    assert r.status_code == 422 and f'id="new-{programme}-valid_months-error"' in r.text
    assert "Hausbesuch" in r.text, "what was typed is shown again"
    r = await browserless.post(base, data={**new, "kind": "certificate"})
    assert r.status_code == 422 and "hat schon einen Schritt mit diesem Schlüssel" in r.text
    r = await browserless.post(base, data=new, follow_redirects=False)
    assert r.status_code == 303
    steps = (await intake.call("GET", f"/screening/steps?programme_id={programme}"))["items"]
    assert [s["label_de"] for s in steps][-1] == "Hausbesuch", "a new step comes last"
    visit = steps[-1]
    assert visit["applies_to"] == ["mentor", "mentee"]

    r = await browserless.post(
        f"{base}/{visit['id']}/move", data={"_csrf": csrf, "direction": "up"}, follow_redirects=False
    )
    assert r.status_code == 303
    steps = (await intake.call("GET", f"/screening/steps?programme_id={programme}"))["items"]
    assert [s["kind"] for s in steps][-2:] == ["other", "agreement"]

    r = await browserless.post(
        f"{base}/{visit['id']}",
        data={
            "_csrf": csrf,
            "label_de": "Hausbesuch bei der Familie",
            "label_en": "Home visit",
            "applies_to": ["mentee"],
            "valid_months": "12",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    changed = next(
        s for s in (await intake.call("GET", "/screening/steps"))["items"] if s["id"] == visit["id"]
    )
    assert (changed["label_de"], changed["applies_to"], changed["required"], changed["valid_months"]) == (
        "Hausbesuch bei der Familie", ["mentee"], False, 12
    )  # fmt: skip

    page = await browserless.get(base)
    assert "wird aus Lesepaten entfernt, mit allen Einträgen dazu" in page.text, "removal asks first"
    r = await browserless.post(f"{base}/{visit['id']}/remove", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    steps = (await intake.call("GET", f"/screening/steps?programme_id={programme}"))["items"]
    assert "other" not in [s["kind"] for s in steps]


async def test_coordinators_read_the_steps_but_do_not_change_them(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    programme = await intake.programme("Lesepaten")
    steps = await intake.steps(programme)
    await sign_in(browserless, await add_member(db, org_a))
    base = f"/o/{org_a.slug}/intake/steps"
    page = await browserless.get(base)
    assert page.status_code == 200 and "Erstgespräch" in page.text and "Schritt entfernen" not in page.text
    r = await browserless.post(f"{base}/{steps['interview']}/remove", data={"_csrf": csrf_of(page.text)})
    assert r.status_code == 403
    assert len((await intake.call("GET", "/screening/steps"))["items"]) == 5


async def test_a_record_made_in_error_is_removed_from_the_checklist(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    programme = await intake.programme()
    steps = await intake.steps(programme)
    person = await intake.person("mentor", "Greta", programme)
    await intake.call(
        "POST", "/screening/records",
        json={"contact_id": person, "step_id": steps["interview"], "outcome": "passed"}, expect=201,
    )  # fmt: skip
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/intake/people/{person}"
    page = await browserless.get(url)
    assert "„Erstgespräch“ (Lesepaten) fehlt noch" not in page.text
    [record] = (await intake.call("GET", f"/screening/records?contact_id={person}"))["items"]
    assert "die Checkliste zählt den Schritt wieder als fehlend" in page.text
    other = await intake.person("mentor", "Otto", programme)
    r = await browserless.post(
        f"/o/{org_a.slug}/intake/people/{other}/records/{record['id']}/remove",
        data={"_csrf": csrf_of(page.text)},
    )
    assert r.status_code == 404, "a record is removed only through its own person's page"
    r = await browserless.post(
        f"{url}/records/{record['id']}/remove", data={"_csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    page = await browserless.get(url)
    assert "„Erstgespräch“ (Lesepaten) fehlt noch" in page.text
