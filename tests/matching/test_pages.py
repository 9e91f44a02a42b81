"""The pages: the matching board with suggestions side by side, a cohort run's review, a match's
timeline with its forms; German everywhere."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

from babel.messages.extract import extract_from_dir
from litestar.testing import AsyncTestClient

from services.api.matching.pages import translator
from shared.db import Database
from shared.matching import runs
from shared.permissions import Role
from tests.conftest import REPO, Org
from tests.fixtures.matching import MatchingApi
from tests.fixtures.tasks import add_member, csrf_of, sign_in


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


async def test_the_board_shows_who_waits_who_has_room_and_suggestions_with_reasons(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, matching: MatchingApi
) -> None:
    samir = await matching.person("mentee", "Samir", languages=["ar"], postal_code="10115")
    hanna = await matching.person("mentor", "Hanna", languages=["ar", "de"], postal_code="12043", capacity=2)
    await matching.person("mentor", "Pierre", languages=["fr"])
    await sign_in(browserless, await add_member(db, org_a))

    board = await browserless.get(f"/o/{org_a.slug}/matching")
    assert board.status_code == 200
    seen = text(board.text)
    assert "Wartende Mentees (1)" in seen and "Samir Test" in seen and "wartet seit 0 Tagen" in seen
    assert "Verfügbare Mentor:innen (2)" in seen and "Hanna Test 2 frei" in seen

    board = await browserless.get(f"/o/{org_a.slug}/matching", params={"mentee": samir})
    seen = text(board.text)
    assert "Vorschläge für Samir Test" in seen
    assert "beide sprechen Arabisch" in seen and "7 km entfernt" in seen
    assert "Pierre" not in seen.split("Vorschläge für")[1].split("Verfügbare")[0]

    r = await browserless.post(
        f"/o/{org_a.slug}/matching/propose",
        data={"_csrf": csrf_of(board.text), "mentee_id": samir, "mentor_id": hanna},
        follow_redirects=False,
    )
    assert r.status_code == 303
    match_page = await browserless.get(r.headers["location"])
    seen = text(match_page.text)
    assert "Samir Test & Hanna Test" in seen and "vorgeschlagen" in seen
    assert "Warum sie zusammenpassen" in seen and "beide sprechen Arabisch" in seen
    # From the mentor's side: Hanna's best mentees (Samir now has a match and no longer waits).
    await matching.person("mentee", "Rami", languages=["ar"])
    for_hanna = text((await browserless.get(f"/o/{org_a.slug}/matching", params={"mentor": hanna})).text)
    assert "Vorschläge für Hanna Test" in for_hanna and "Rami Test" in for_hanna
    assert "Samir Test" not in for_hanna.split("Vorschläge für")[1]
    # Proposed twice: the board comes back with the reason, nothing is written.
    again = await browserless.post(
        f"/o/{org_a.slug}/matching/propose",
        data={"_csrf": csrf_of(board.text), "mentee_id": samir, "mentor_id": hanna},
    )
    assert again.status_code == 409
    assert "hat schon ein Tandem" in text(again.text)
    assert len((await matching.call("GET", "/matches"))["items"]) == 1


async def test_a_match_page_moves_the_match_on_and_records_the_accompaniment(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, matching: MatchingApi
) -> None:
    mentee = await matching.person("mentee", "Lea", languages=["de"])
    mentor = await matching.person("mentor", "Ole", languages=["de"])
    match = await matching.propose(mentor, mentee)
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/matches/{match['id']}"
    page = await browserless.get(url)
    csrf = csrf_of(page.text)

    r = await browserless.post(f"{url}/transition", data={"_csrf": csrf, "to": "active"})
    assert r.status_code == 409 and "kann vorgestellt oder beendet werden, nicht „aktiv“" in r.text
    r = await browserless.post(
        f"{url}/transition", data={"_csrf": csrf, "to": "introduced"}, follow_redirects=False
    )
    assert r.status_code == 303
    r = await browserless.post(
        f"{url}/checkins",
        data={"_csrf": csrf, "channel": "phone", "rating": "2", "follow_up": "on", "notes": "Termine"},
    )
    assert r.status_code == 200
    r = await browserless.post(
        f"{url}/meetings", data={"_csrf": csrf, "duration_minutes": "120", "activity": "Bücherei"}
    )
    page = await browserless.get(url)
    seen = text(page.text)
    assert "Stand vorgestellt" in seen
    assert "Nachfrage (Telefon): nicht so gut · Nachfassen nötig \u2013 Termine" in seen
    assert "Treffen: 120 Minuten \u2013 Bücherei" in seen
    assert "1 Treffen, 2 Stunden" in seen

    r = await browserless.post(f"{url}/transition", data={"_csrf": csrf, "to": "ended", "reason": "conflict"})
    seen = text(r.text)
    assert "Beendet" in seen and "Konflikt" in seen and "vorzeitig beendet" in seen
    assert (await matching.contact(mentee))["status"] == "alumni"
    r = await browserless.post(f"{url}/meetings", data={"_csrf": csrf, "duration_minutes": "abc"})
    assert r.status_code == 400


async def test_a_cohort_run_is_started_reviewed_and_accepted_from_its_page(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, matching: MatchingApi
) -> None:
    ali = await matching.person("mentee", "Ali", languages=["de"])
    bea = await matching.person("mentee", "Bea", languages=["de"])
    await matching.person("mentor", "Carl", languages=["de"], capacity=2)
    await sign_in(browserless, await add_member(db, org_a))
    board = await browserless.get(f"/o/{org_a.slug}/matching")
    r = await browserless.post(
        f"/o/{org_a.slug}/matching/runs", data={"_csrf": csrf_of(board.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    run_url = r.headers["location"]
    waiting = await browserless.get(run_url)
    assert "wartet auf Start" in text(waiting.text) and 'http-equiv="refresh"' in waiting.text

    run_id = uuid.UUID(run_url.rsplit("/", 1)[1])
    assert await runs.execute(db, org_a.id, run_id) == "done"
    review = await browserless.get(run_url)
    seen = text(review.text)
    assert "fertig" in seen and "Ali Test" in seen and "Bea Test" in seen and "refresh" not in review.text
    r = await browserless.post(
        f"{run_url}/accept", data={"_csrf": csrf_of(review.text), "accept": ali}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/matches?status=proposed")
    listed = text((await browserless.get(r.headers["location"])).text)
    assert "Ali Test" in listed and "Bea Test" not in listed
    review = await browserless.get(run_url)
    assert "übernommen" in text(review.text)
    assert bea in review.text  # still offered


def test_every_ui_text_of_the_matching_pages_has_a_german_translation() -> None:
    folder = REPO / "services" / "api" / "matching" / "templates"
    messages = {
        m[2] if isinstance(m[2], str) else m[2][0]
        for m in extract_from_dir(
            folder, [("*.html", "jinja2")], options_map={"*.html": {"extensions": "jinja2.ext.i18n"}}
        )
    }
    assert len(messages) > 60
    german = translator("de")
    assert [m for m in messages if german(m) == m and m not in {"Mentee"}] == []
    for status in (
        "proposed",
        "introduced",
        "active",
        "paused",
        "ended",
        "queued",
        "running",
        "done",
        "failed",
    ):
        assert german(status) != status
    assert translator("en")("Propose") == "Propose"


async def test_the_board_of_one_programme(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, matching: MatchingApi
) -> None:
    reading = await matching.call(
        "POST", "/contacts/programmes", 201, role=Role.ADMIN, json={"name": "Lesepaten"}
    )
    inside = {"programme_ids": [reading["id"]], "languages": ["de"]}
    mia = await matching.person("mentee", "Mia", **inside)
    await matching.person("mentee", "Outside mentee", languages=["de"])
    uwe = await matching.person("mentor", "Uwe", **inside)
    await matching.person("mentor", "Outside mentor", languages=["de"])
    await sign_in(browserless, await add_member(db, org_a))

    board = await browserless.get(
        f"/o/{org_a.slug}/matching", params={"programme": reading["id"], "mentee": mia}
    )
    seen = text(board.text)
    assert "Wartende Mentees (1)" in seen and "Verfügbare Mentor:innen (1)" in seen
    assert "Outside" not in seen and "Uwe Test" in seen
    r = await browserless.post(
        f"/o/{org_a.slug}/matching/propose",
        data={
            "_csrf": csrf_of(board.text),
            "mentee_id": mia,
            "mentor_id": uwe,
            "programme_id": reading["id"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    [match] = (await matching.call("GET", "/matches", params={"programme_id": reading["id"]}))["items"]
    assert (match["mentee_id"], match["mentor_id"]) == (mia, uwe)
    missing = await browserless.get(f"/o/{org_a.slug}/matching", params={"programme": str(uuid.uuid4())})
    assert missing.status_code == 404
