"""Intake pages for signed-in members: a person's checklist, events with attendance, form settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_dir
from litestar.testing import AsyncTestClient

from services.api.web import i18n
from shared.db import Database
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member, csrf_of, sign_in

REPO = Path(__file__).resolve().parents[2]
SAME_IN_GERMAN = {"Version", "Person", "Status", "optional"}


async def test_the_checklist_shows_why_a_person_cannot_be_matched_and_records_steps(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    programme = await intake.programme()
    steps = await intake.steps(programme)
    person = await intake.person("mentor", "Greta", programme)
    member = await add_member(db, org_a)
    await sign_in(browserless, member)
    url = f"/o/{org_a.slug}/intake/people/{person}"
    page = await browserless.get(url)
    assert page.status_code == 200
    assert "Noch nicht. Die Vermittlung lehnt diese Person ab, weil:" in page.text
    assert "„Erstgespräch“ (Lesepaten) fehlt noch" in page.text
    assert "„Erweitertes Führungszeugnis“ (Lesepaten) fehlt noch" in page.text
    # The certificate form asks for exactly the allowed facts: no file, no free text.
    certificate = page.text[
        page.text.index("/certificate") : page.text.index("</form>", page.text.index("/certificate"))
    ]
    assert 'type="file"' not in page.text and "multipart" not in page.text
    assert set(re.findall(r'name="([^"]+)"', certificate)) == {
        "_csrf", "seen", "issued_on", "inspected_on", "inspected_by", "has_relevant_entries",
    }  # fmt: skip

    csrf = csrf_of(page.text)
    bad = {"_csrf": csrf, "step_id": steps["interview"], "outcome": "passed", "done_on": "2999-01-01"}
    r = await browserless.post(f"{url}/records", data=bad)
    assert r.status_code == 422
    assert 'id="done_on-error"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="2999-01-01"' in r.text, "what was typed is shown again"
    r = await browserless.post(f"{url}/records", data={**bad, "done_on": ""}, follow_redirects=False)
    assert r.status_code == 303
    r = await browserless.post(
        f"{url}/certificate",
        data={"_csrf": csrf, "issued_on": "2026-10-01", "has_relevant_entries": "no"},
    )
    assert r.status_code == 422 and 'id="seen-error"' in r.text
    r = await browserless.post(
        f"{url}/certificate",
        data={"_csrf": csrf, "seen": "yes", "issued_on": "2026-10-01", "has_relevant_entries": "no"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = await browserless.get(url)
    assert "„Erstgespräch“ (Lesepaten) fehlt noch" not in page.text
    assert "„Vorbereitungsseminar“ (Lesepaten) fehlt noch" in page.text
    assert "Mia Mitglied" in page.text, "the signed-in member is recorded as who did it"

    r = await browserless.post(
        f"{url}/profile", data={"_csrf": csrf, "form_of_address": "du"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (await intake.call("GET", f"/screening/people/{person}"))["form_of_address"] == "du"
    r = await browserless.post(
        f"{url}/profile",
        data={"_csrf": csrf, "form_of_address": "du", "intake_status": "declined_child_protection"},
    )
    assert r.status_code == 422 and "intake_status-error" in r.text


async def test_events_page_plans_invites_and_takes_attendance(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    anna = await intake.person("mentor", "Anna", email="anna@example.org")
    bert = await intake.person("mentor", "Bert")
    member = await add_member(db, org_a)
    await sign_in(browserless, member)
    base = f"/o/{org_a.slug}/intake/events"
    page = await browserless.get(base)
    assert page.status_code == 200 and "Noch keine Veranstaltungen." in page.text
    csrf = csrf_of(page.text)
    event = {"_csrf": csrf, "title": "Grillfest", "kind": "outing", "starts_at": "2026-07-04T16:00"}
    r = await browserless.post(base, data={**event, "title": ""})
    assert r.status_code == 422 and 'id="title-error"' in r.text
    assert (await intake.call("GET", "/events"))["items"] == []
    r = await browserless.post(base, data=event, follow_redirects=False)
    assert r.status_code == 303
    detail_url = r.headers["location"]
    [listed] = (await intake.call("GET", "/events"))["items"]
    assert listed["starts_at"] == "2026-07-04T14:00:00Z", "the time is read as Berlin wall time"

    page = await browserless.get(detail_url)
    assert "Anna Muster" in page.text and "(keine E-Mail)" in page.text
    r = await browserless.post(
        f"{detail_url}/invitations", data={"_csrf": csrf, "contact_ids": [anna, bert]}, follow_redirects=False
    )
    assert r.status_code == 303
    page = await browserless.get(r.headers["location"])
    assert "Die Einladungen sind unterwegs." in page.text
    assert "Eingeladen: 2" in page.text
    r = await browserless.post(
        f"{detail_url}/attendance",
        data={"_csrf": csrf, f"status.{anna}": "present", f"status.{bert}": "absent"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    detail = await intake.call("GET", f"/events/{listed['id']}")
    assert detail["counts"] == {"total": 2, "invited": 0, "confirmed": 0, "present": 1, "absent": 1}
    page = await browserless.get(base)
    assert "Grillfest" in page.text


async def test_an_admin_sets_up_a_form_and_its_consents_on_the_page(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    programme = await intake.programme("Familienpaten")
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    base = f"/o/{org_a.slug}/intake/forms"
    page = await browserless.get(base)
    assert page.status_code == 200 and "Noch keine Anmeldeformulare." in page.text
    csrf = csrf_of(page.text)
    new = {
        "_csrf": csrf,
        "title_de": "Familie anmelden",
        "slug": "familien",
        "programme_id": programme,
        "audience": "mentee",
    }
    r = await browserless.post(base, data={**new, "slug": "Mit Leerzeichen"})
    assert r.status_code == 422 and 'id="slug-error"' in r.text
    r = await browserless.post(base, data=new, follow_redirects=False)
    assert r.status_code == 303
    form_url = r.headers["location"]
    page = await browserless.get(form_url)
    assert f"/f/{org_a.slug}/familien" in page.text and "iframe" in page.text
    settings = {
        "_csrf": csrf,
        "active": "yes",
        "title_de": "Familie anmelden",
        "title_en": "Sign up a family",
        "slug": "familien",
        "programme_id": programme,
        "audience": "mentee",
        "confirm_within_hours": "24",
        "field.phone": "yes",
        "required.phone": "yes",
        "consents[0].purpose": "data_processing",
        "consents[0].version": "2",
        "consents[0].text_de": "Ich bin einverstanden.",
        "consents[0].text_en": "I agree.",
        "consents[0].required": "yes",
        "consents[1].purpose": "photos",
        "consents[1].version": "",
        "consents[1].text_de": "Fotos sind erlaubt.",
        "consents[1].text_en": "Photos are fine.",
    }
    r = await browserless.post(form_url, data=settings)
    assert r.status_code == 422 and 'id="consents-1-version-error"' in r.text
    assert "Fotos sind erlaubt." in r.text and 'value="Sign up a family"' in r.text, "nothing typed is lost"
    r = await browserless.post(
        form_url, data={**settings, "consents[1].version": "1"}, follow_redirects=False
    )
    assert r.status_code == 303
    [form] = (await intake.call("GET", "/forms"))["items"]
    assert form["fields"] == [{"key": "phone", "required": True}]
    assert [(c["purpose"], c["version"], c["required"]) for c in form["consents"]] == [
        ("data_processing", "2", True),
        ("photos", "1", False),
    ]
    assert form["confirm_within_hours"] == 24
    public = await browserless.get(f"/f/{org_a.slug}/familien")
    assert "Ich bin einverstanden." in public.text and "Wer meldet sich an?" in public.text


async def test_viewers_read_but_do_not_change(
    browserless: AsyncTestClient[Any], intake: IntakeApi, db: Database, org_a: Org
) -> None:
    person = await intake.person("mentor", "Vera")
    viewer = await add_member(db, org_a, role="viewer")
    await sign_in(browserless, viewer)
    url = f"/o/{org_a.slug}/intake/people/{person}"
    page = await browserless.get(url)
    assert page.status_code == 200 and "Schritt erfassen" not in page.text
    r = await browserless.post(f"{url}/profile", data={"_csrf": csrf_of(page.text), "form_of_address": "du"})
    assert r.status_code == 403
    assert (await intake.call("GET", f"/screening/people/{person}", role=Role.VIEWER))[
        "form_of_address"
    ] == "sie"


def test_every_ui_text_of_intake_has_a_german_translation() -> None:
    api = REPO / "services" / "api"
    method_map = [
        ("intake/templates/*.html", "jinja2"),
        ("intake/pages.py", "python"),
        ("intake/public_forms.py", "python"),
    ]
    options = {"intake/templates/*.html": {"extensions": "jinja2.ext.i18n"}}
    messages = {
        m[2] if isinstance(m[2], str) else m[2][0]
        for m in extract_from_dir(
            api, method_map, options_map=options, keywords={"_": None, "_t": (2,), "tr": (2,)}
        )
    }
    assert len(messages) > 60
    untranslated = sorted(m for m in messages if i18n.gettext("de", m) == m and m not in SAME_IN_GERMAN)
    assert untranslated == []
