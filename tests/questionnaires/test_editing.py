"""Admins write questionnaires in the pages, with plain forms: a blank one, its title, questions of
every type added, changed, moved and removed; a change to one that was sent becomes the next
version (as over the API) and bad input is named next to its field. Schedules change in place.
Every change is in the change history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared.db import Database
from shared.history.models import HistoryEntry
from shared.questionnaires.models import QuestionnaireSchedule, QuestionnaireVersion
from shared.questionnaires.service import decode_content
from tests.conftest import Org
from tests.fixtures.questionnaires import make_tandem
from tests.fixtures.tasks import add_member, csrf_of, sign_in


def _wording(prefix: str, de: str, du: str = "", en: str = "") -> dict[str, str]:
    return {f"{prefix}_de": de, f"{prefix}_de_du": du, f"{prefix}_en": en}


async def _versions(db: Database, org: Org, qid: str) -> list[QuestionnaireVersion]:
    async with db.tenant(org.id) as session:
        return list(
            (
                await session.execute(
                    select(QuestionnaireVersion)
                    .where(QuestionnaireVersion.questionnaire_id == qid)
                    .order_by(QuestionnaireVersion.number)
                )
            ).scalars()
        )


async def test_an_admin_writes_a_blank_questionnaire_with_every_kind_of_question(
    db: Database, browserless: AsyncTestClient[Any], client: AsyncTestClient[Any], org_a: Org
) -> None:
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    base = f"/o/{org_a.slug}/questionnaires"
    form = await browserless.get(f"{base}/new")
    assert form.status_code == 200 and "Neuer Fragebogen" in form.text
    csrf = csrf_of(form.text)

    # No title: the page says so next to the German title, and nothing is written.
    bad = await browserless.post(
        f"{base}/new",
        data={"_csrf": csrf, "kind": "custom", "type": "yes_no", **_wording("text", "Alles gut?")},
    )
    assert bad.status_code == 422
    assert 'id="f-title_de" name="title_de"' in bad.text and 'aria-invalid="true"' in bad.text
    assert 'id="err-title_de"' in bad.text and "deutschen Text" in bad.text
    assert (await client.get(f"/api/v1/orgs/{org_a.slug}/questionnaires", headers=org_a.auth())).json()[
        "items"
    ] == []

    made = await browserless.post(
        f"{base}/new",
        data={
            "_csrf": csrf,
            "kind": "checkin",
            **_wording("title", "Wie geht es Ihnen?", "Wie geht es dir?", "How are you?"),
            **_wording("intro", "Drei Fragen.", "", "Three questions."),
            "type": "scale",
            "required": "on",
            "signal": "low_rating",
            **_wording("text", "Wie zufrieden sind Sie?", "Wie zufrieden bist du?", "How satisfied are you?"),
            **{
                k: v
                for n in range(1, 6)
                for k, v in _wording(f"scale{n}", f"Stufe {n}", "", f"level {n}").items()
            },
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    page_url = made.headers["location"].split("?")[0]
    qid = page_url.rsplit("/", 1)[1]
    page = await browserless.get(made.headers["location"])
    assert "Fügen Sie unten die Fragen hinzu" in page.text and "Wie zufrieden sind Sie?" in page.text

    # One question of each remaining kind, by plain form posts.
    for kind, extra in (
        ("single", {**_wording("opt0", "oft", "", "often"), **_wording("opt1", "selten", "", "rarely")}),
        (
            "multiple",
            {**_wording("opt0", "Sport"), **_wording("opt1", "Lernen"), **_wording("opt2", "Kochen")},
        ),
        ("yes_no", {"signal": "worry"}),
        ("number", {"min": "0", "max": "20"}),
        ("short_text", {}),
        ("long_text", {"confidential": "on"}),
    ):
        r = await browserless.post(
            f"{base}/{qid}/questions/new",
            data={
                "_csrf": csrf,
                "type": kind,
                **_wording("text", f"Frage {kind}", f"Frage {kind} du"),
                **extra,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, (kind, r.text)
    [v1] = await _versions(db, org_a, qid)
    content = decode_content(v1.content)
    assert [q.type for q in content.questions] == [
        "scale", "single", "multiple", "yes_no", "number", "short_text", "long_text"
    ]  # fmt: skip
    assert content.title.de_du == "Wie geht es dir?" and content.questions[0].scale[4].en == "level 5"
    assert [o.label.de for o in content.questions[2].options] == ["Sport", "Lernen", "Kochen"]
    assert content.questions[4].max == 20 and content.questions[6].confidential
    assert content.questions[3].signal == "worry" and content.questions[0].required

    # A choice question with one option: the error names the options.
    key = content.questions[1].key
    edit = await browserless.get(f"{base}/{qid}/questions/{key}")
    assert edit.status_code == 200 and 'value="oft"' in edit.text
    bad = await browserless.post(
        f"{base}/{qid}/questions/{key}",
        data={"_csrf": csrf, "type": "single", **_wording("text", "Wie oft?"), **_wording("opt0", "oft")},
    )
    assert bad.status_code == 422 and 'id="err-options"' in bad.text and "mindestens zwei" in bad.text
    # A number that is not one: named next to its field, in German.
    bad = await browserless.post(
        f"{base}/{qid}/questions/new",
        data={"_csrf": csrf, "type": "number", **_wording("text", "Wie viele?"), "min": "viele"},
    )
    assert bad.status_code == 422 and 'id="err-min"' in bad.text and "Zahl" in bad.text
    assert len(decode_content((await _versions(db, org_a, qid))[0].content).questions) == 7

    # Not sent yet: changes stay in version 1. Move the yes/no question up, remove the short text.
    yes_no, short = content.questions[3].key, content.questions[5].key
    r = await browserless.post(
        f"{base}/{qid}/questions/{yes_no}/move",
        data={"_csrf": csrf, "direction": "up"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "done=saved" in r.headers["location"]
    r = await browserless.post(
        f"{base}/{qid}/questions/{short}/remove", data={"_csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    [v1] = await _versions(db, org_a, qid)
    assert [q.type for q in decode_content(v1.content).questions] == [
        "scale", "single", "yes_no", "multiple", "number", "long_text"
    ]  # fmt: skip

    # Sent to a tandem: the next change is version 2, and the page says so; version 1 is kept.
    tandem = await make_tandem(db, org_a, started_on=(datetime.now(UTC) - timedelta(days=40)).date())
    sent = await client.post(
        f"/api/v1/orgs/{org_a.slug}/matches/{tandem.match_id}/questionnaires",
        json={"questionnaire_id": qid, "audience": "mentor"},
        headers=org_a.auth(),
    )
    assert sent.status_code == 201, sent.text
    page = await browserless.get(f"{base}/{qid}/questions/{yes_no}")
    assert 'id="version-note"' in page.text and "Version 2" in page.text
    r = await browserless.post(
        f"{base}/{qid}/questions/{yes_no}",
        data={
            "_csrf": csrf,
            "type": "yes_no",
            "signal": "worry",
            **_wording("text", "Macht Ihnen etwas Sorgen?"),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "done=version" in r.headers["location"]
    page = await browserless.get(r.headers["location"])
    assert "als Version 2 gespeichert" in page.text
    v1, v2 = await _versions(db, org_a, qid)
    assert decode_content(v1.content).questions[2].text.de == "Frage yes_no"
    assert decode_content(v2.content).questions[2].text.de == "Macht Ihnen etwas Sorgen?"
    assert decode_content(v2.content).questions[2].key == yes_no  # answers stay comparable

    # The change history names each step, on the questionnaire's page too.
    async with db.tenant(org_a.id) as session:
        entries = (
            await session.execute(
                select(HistoryEntry.entity, HistoryEntry.action)
                .where(HistoryEntry.entity.in_(["questionnaire", "questionnaire_invitation"]))
                .order_by(HistoryEntry.id)
            )
        ).all()
    assert entries[0] == ("questionnaire", "created")
    assert ("questionnaire_invitation", "sent") in entries
    assert entries.count(("questionnaire", "changed")) == 9  # six added, moved, removed, reworded
    assert "Änderungsverlauf" in page.text and "Fragebogen" in page.text

    # Archive: no longer offered for sending; the history has it.
    r = await browserless.post(
        f"{base}/{qid}/archive", data={"_csrf": csrf, "archived": "yes"}, follow_redirects=False
    )
    assert r.status_code == 303
    listing = await client.get(f"/api/v1/orgs/{org_a.slug}/questionnaires", headers=org_a.auth())
    assert listing.json()["items"] == []


async def test_a_schedule_changes_in_place_and_bad_numbers_are_named(
    db: Database, browserless: AsyncTestClient[Any], client: AsyncTestClient[Any], org_a: Org
) -> None:
    api = f"/api/v1/orgs/{org_a.slug}/questionnaires"
    qid = (
        await client.post(f"{api}/from-template", json={"template": "checkin"}, headers=org_a.auth())
    ).json()["id"]
    sid = (
        await client.post(
            f"{api}/schedules",
            json={
                "questionnaire_id": qid,
                "audience": "mentor",
                "trigger": "during",
                "after_days": 30,
                "every_days": 60,
            },
            headers=org_a.auth(),
        )
    ).json()["id"]
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    listing = await browserless.get(f"/o/{org_a.slug}/questionnaires")
    assert f'href="/o/{org_a.slug}/questionnaires/schedules/{sid}"' in listing.text
    form = await browserless.get(f"/o/{org_a.slug}/questionnaires/schedules/{sid}")
    assert form.status_code == 200 and 'value="30"' in form.text and 'value="60"' in form.text
    bad = await browserless.post(
        f"/o/{org_a.slug}/questionnaires/schedules/{sid}",
        data={"_csrf": csrf_of(form.text), "after_days": "14", "every_days": "0", "active": "on"},
    )
    assert bad.status_code == 422 and 'id="err-every_days"' in bad.text and "Zahl von 1 bis" in bad.text
    r = await browserless.post(
        f"/o/{org_a.slug}/questionnaires/schedules/{sid}",
        data={"_csrf": csrf_of(form.text), "after_days": "14", "every_days": "90", "phase": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    async with db.tenant(org_a.id) as session:
        [s] = (await session.execute(select(QuestionnaireSchedule))).scalars().all()
        assert (s.id.hex, s.after_days, s.every_days, s.active) == (sid.replace("-", ""), 14, 90, False)
        [entry] = (
            await session.execute(
                select(HistoryEntry).where(
                    HistoryEntry.entity == "questionnaire_schedule", HistoryEntry.action == "changed"
                )
            )
        ).scalars()
    assert entry.changes == {"after_days": [30, 14], "every_days": [60, 90], "active": [True, False]}
    listing = await browserless.get(f"/o/{org_a.slug}/questionnaires?done=schedule")
    assert "Der Zeitplan ist gespeichert." in listing.text and "abgeschaltet" in listing.text
    assert re.search(r"14 Tage nach dem Start, dann alle 90 Tage", listing.text)
    # The organisation's history shows the change with labels, not keys.
    log = await browserless.get(f"/o/{org_a.slug}/history?entity=questionnaire_schedule")
    assert log.status_code == 200
    assert "Zeitplan eines Fragebogens" in log.text and "Tage nach Start oder Ende" in log.text
    assert "after_days" not in log.text and "Wie läuft Ihr Tandem?" in log.text
