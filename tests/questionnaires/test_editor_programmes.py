"""The questionnaire editor offers the organisation's programmes, as the API does: a blank
questionnaire, its settings and its schedules are for one programme or for all; a programme of
another organisation (or a made-up one) is named next to the list and nothing is written. Without
script the blank form shows the options and the scale words whatever kind is chosen."""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared.db import Database
from shared.questionnaires.models import Questionnaire, QuestionnaireSchedule, QuestionnaireVersion
from shared.questionnaires.service import decode_content
from tests.conftest import Org
from tests.fixtures.tasks import add_member, csrf_of, sign_in


def _wording(prefix: str, de: str, du: str = "", en: str = "") -> dict[str, str]:
    return {f"{prefix}_de": de, f"{prefix}_de_du": du, f"{prefix}_en": en}


async def _programme(client: AsyncTestClient[Any], org: Org, name: str) -> str:
    r = await client.post(
        f"/api/v1/orgs/{org.slug}/contacts/programmes", json={"name": name}, headers=org.auth()
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _questionnaires(db: Database, org: Org) -> list[Questionnaire]:
    async with db.tenant(org.id) as session:
        return list((await session.execute(select(Questionnaire))).scalars())


async def _schedules(db: Database, org: Org) -> list[QuestionnaireSchedule]:
    async with db.tenant(org.id) as session:
        return list((await session.execute(select(QuestionnaireSchedule))).scalars())


async def test_a_questionnaire_and_its_schedules_are_for_a_chosen_programme(
    db: Database,
    browserless: AsyncTestClient[Any],
    client: AsyncTestClient[Any],
    org_a: Org,
    org_b: Org,
) -> None:
    reading = await _programme(client, org_a, "Lesepatenschaften")
    jobs = await _programme(client, org_a, "Berufspatenschaften")
    foreign = await _programme(client, org_b, "Fremdes Programm")
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    base = f"/o/{org_a.slug}/questionnaires"

    form = await browserless.get(f"{base}/new")
    assert 'id="f-programme_id" name="programme_id"' in form.text
    assert "alle Programme" in form.text and "Lesepatenschaften" in form.text
    assert "Fremdes Programm" not in form.text
    csrf = csrf_of(form.text)
    blank = {
        "_csrf": csrf,
        "kind": "checkin",
        **_wording("title", "Wie läuft es?"),
        "type": "yes_no",
        **_wording("text", "Alles gut?"),
    }

    # Another organisation's programme: named at the list, in German, and nothing is written.
    for wrong, says in ((foreign, "gibt es in dieser Organisation nicht"), ("kein-programm", "Liste")):
        bad = await browserless.post(f"{base}/new", data={**blank, "programme_id": wrong})
        assert bad.status_code == 422, bad.text
        assert 'aria-invalid="true" aria-describedby="hint-programme_id err-programme_id"' in bad.text
        assert re.search(r'id="err-programme_id">[^<]*' + says, bad.text)
        assert 'value="Wie läuft es?"' in bad.text  # what was typed stays
    assert await _questionnaires(db, org_a) == []

    made = await browserless.post(
        f"{base}/new", data={**blank, "programme_id": reading}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    [q] = await _questionnaires(db, org_a)
    assert str(q.programme_id) == reading
    page = await browserless.get(made.headers["location"])
    assert "Lesepatenschaften" in page.text and "Titel, Einleitung und Programm ändern" in page.text

    # The settings form shows the programme chosen and moves the questionnaire to another one.
    settings = await browserless.get(f"{base}/{q.id}/edit")
    assert f'<option value="{reading}" selected>' in settings.text
    keep = {"_csrf": csrf, **_wording("title", "Wie läuft es?")}
    bad = await browserless.post(f"{base}/{q.id}/edit", data={**keep, "programme_id": foreign})
    assert bad.status_code == 422 and 'id="err-programme_id"' in bad.text
    [q] = await _questionnaires(db, org_a)
    assert str(q.programme_id) == reading
    r = await browserless.post(
        f"{base}/{q.id}/edit", data={**keep, "programme_id": jobs}, follow_redirects=False
    )
    assert r.status_code == 303
    [q] = await _questionnaires(db, org_a)
    assert str(q.programme_id) == jobs
    # "All programmes" takes it out of any programme; the wording did not change, so no new version.
    r = await browserless.post(
        f"{base}/{q.id}/edit", data={**keep, "programme_id": ""}, follow_redirects=False
    )
    assert r.status_code == 303 and "done=saved" in r.headers["location"]
    [q] = await _questionnaires(db, org_a)
    assert q.programme_id is None

    # A new schedule for one programme; a foreign one is named at the schedule form's list.
    listing = await browserless.get(base)
    assert 'id="s-pr" name="programme_id"' in listing.text
    schedule = {
        "_csrf": csrf,
        "questionnaire_id": str(q.id),
        "audience": "mentor",
        "trigger": "during",
        "after_days": "30",
        "every_days": "60",
        "phase": "",
    }
    bad = await browserless.post(f"{base}/schedules", data={**schedule, "programme_id": foreign})
    assert bad.status_code == 422
    assert 'aria-invalid="true" aria-describedby="err-s-pr"' in bad.text
    assert "gibt es in dieser Organisation nicht" in bad.text
    assert await _schedules(db, org_a) == []
    r = await browserless.post(
        f"{base}/schedules", data={**schedule, "programme_id": reading}, follow_redirects=False
    )
    assert r.status_code == 303
    [s] = await _schedules(db, org_a)
    assert str(s.programme_id) == reading
    listing = await browserless.get(base)
    assert re.search(r"30 Tage nach dem Start, dann alle 60 Tage\s*· Lesepatenschaften", listing.text)

    # Changing the schedule keeps or changes its programme; "all programmes" clears it.
    form = await browserless.get(f"{base}/schedules/{s.id}")
    assert f'<option value="{reading}" selected>' in form.text
    change = {"_csrf": csrf, "after_days": "30", "every_days": "60", "active": "on"}
    bad = await browserless.post(f"{base}/schedules/{s.id}", data={**change, "programme_id": foreign})
    assert bad.status_code == 422 and 'id="err-programme_id"' in bad.text
    r = await browserless.post(
        f"{base}/schedules/{s.id}", data={**change, "programme_id": jobs}, follow_redirects=False
    )
    assert r.status_code == 303
    [s] = await _schedules(db, org_a)
    assert str(s.programme_id) == jobs
    r = await browserless.post(
        f"{base}/schedules/{s.id}", data={**change, "programme_id": ""}, follow_redirects=False
    )
    assert r.status_code == 303
    [s] = await _schedules(db, org_a)
    assert s.programme_id is None
    # A template is copied for a programme too.
    assert 'id="t-checkin-pr" name="programme_id"' in listing.text
    r = await browserless.post(
        f"{base}/from-template",
        data={"_csrf": csrf, "template": "closing", "programme_id": jobs},
        follow_redirects=False,
    )
    assert r.status_code == 303
    copied = [c for c in await _questionnaires(db, org_a) if c.template == "closing"]
    assert [str(c.programme_id) for c in copied] == [jobs]
    listing = await browserless.get(base)
    assert re.search(r"Abschluss · Berufspatenschaften</td>", listing.text)
    # The API reads what the pages wrote.
    api = await client.get(f"/api/v1/orgs/{org_a.slug}/questionnaires/schedules", headers=org_a.auth())
    assert api.json()["items"][0]["programme_id"] is None
    assert uuid.UUID(reading)  # the ids in the forms are the API's


async def test_the_blank_form_shows_options_and_scale_words_without_script(
    db: Database, browserless: AsyncTestClient[Any], org_a: Org
) -> None:
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    base = f"/o/{org_a.slug}/questionnaires"
    form = await browserless.get(f"{base}/new")
    # The kind is chosen in the browser: both sections are open in the HTML, whichever kind it shows.
    assert re.search(r'<details open data-for-types="single multiple">\s*<summary>Optionen', form.text)
    assert re.search(r'<details open data-for-types="scale">\s*<summary>Wörter für 1 bis 5', form.text)
    assert 'name="opt0_de"' in form.text and 'name="scale5_de"' in form.text
    made = await browserless.post(
        f"{base}/new",
        data={
            "_csrf": csrf_of(form.text),
            "kind": "custom",
            **_wording("title", "Wie oft?"),
            "type": "single",
            **_wording("text", "Wie oft treffen Sie sich?"),
            **_wording("opt0", "jede Woche", "", "every week"),
            **_wording("opt1", "seltener", "", "less often"),
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    async with db.tenant(org_a.id) as session:
        [version] = (await session.execute(select(QuestionnaireVersion))).scalars().all()
    [question] = decode_content(version.content).questions
    assert question.type == "single"
    assert [(o.label.de, o.label.en) for o in question.options] == [
        ("jede Woche", "every week"),
        ("seltener", "less often"),
    ]
