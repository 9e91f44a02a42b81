"""Bad input, versions, figures, privacy and isolation of questionnaires."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared.db import Database
from shared.permissions import Role
from shared.questionnaires.models import QuestionnaireAnswer, QuestionnaireInvitation, QuestionnaireResponse
from tests.conftest import Org
from tests.fixtures.questionnaires import Tandem, make_tandem


async def _copy(client: AsyncTestClient[Any], org: Org, template: str = "checkin") -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/orgs/{org.slug}/questionnaires/from-template",
        json={"template": template},
        headers=org.auth(),
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def _link(
    client: AsyncTestClient[Any], tandem: Tandem, qid: str, audience: str = "mentor", **extra: Any
) -> str:
    org = tandem.org
    r = await client.post(
        f"/api/v1/orgs/{org.slug}/matches/{tandem.match_id}/questionnaires",
        json={"questionnaire_id": qid, "audience": audience, **extra},
        headers=org.auth(),
    )
    assert r.status_code == 201, r.text
    link: str = r.json()["items"][0]["link"]
    return link.rsplit("/", 1)[1]


async def _tandem(db: Database, org: Org, **kw: Any) -> Tandem:
    return await make_tandem(db, org, started_on=(datetime.now(UTC) - timedelta(days=40)).date(), **kw)


async def test_bad_answers_name_the_question_and_write_nothing(
    db: Database, client: AsyncTestClient[Any], org_a: Org
) -> None:
    tandem = await _tandem(db, org_a, mentor_lang="en")
    q = await _copy(client, org_a)
    token = await _link(client, tandem, q["id"])
    good = {"satisfaction": 4, "meetings": "once", "worry": False}
    cases = [
        ({"meetings": "once", "worry": False}, "answers.satisfaction", "Please answer this question."),
        ({**good, "satisfaction": 6}, "answers.satisfaction", "Please choose a value from 1 to 5."),
        ({**good, "satisfaction": "four"}, "answers.satisfaction", "Please choose a value from 1 to 5."),
        ({**good, "meetings": "daily"}, "answers.meetings", "Please choose one of the options."),
        ({**good, "activities": ["talk", "bake"]}, "answers.activities", "Please choose one of the options."),
        ({**good, "worry": "maybe"}, "answers.worry", "Please answer yes or no."),
        ({**good, "comment": "x" * 5001}, "answers.comment", "Please write at most 5000 characters."),
        ({**good, "comment": 12}, "answers.comment", "Please answer this question."),
        ({**good, "shoe_size": 44}, "answers.shoe_size", "This questionnaire has no such question."),
    ]
    for answers, field, detail in cases:
        r = await client.post(f"/api/v1/q/{token}", json={"answers": answers})
        assert r.status_code == 422, (answers, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field and r.json()["detail"] == detail
    r = await client.post(f"/api/v1/q/{token}", json={"answers": "nope"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")

    # The form shows each error next to its question, in the person's language (English here).
    page = await client.post(
        f"/q/{token}",
        data={"lang": "en", "satisfaction": "9", "meetings": "once", "worry": "no", "comment": "y" * 5001},
    )
    assert page.status_code == 422
    assert (
        '<small class="error" id="q-satisfaction-error">Please choose a value from 1 to 5.</small>'
        in page.text
    )
    assert (
        '<small class="error" id="q-comment-error">Please write at most 5000 characters.</small>' in page.text
    )
    assert 'aria-describedby="q-satisfaction-error"' in page.text
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(select(QuestionnaireResponse))).first() is None
        inv = (await session.execute(select(QuestionnaireInvitation))).scalar_one()
        assert inv.submitted_at is None
    # Still usable after the mistakes.
    r = await client.post(f"/api/v1/q/{token}", json={"answers": good})
    assert r.status_code == 201


async def test_editing_an_answered_questionnaire_makes_a_new_version_and_answers_keep_theirs(
    db: Database, client: AsyncTestClient[Any], org_a: Org
) -> None:
    tandem = await _tandem(db, org_a)
    q = await _copy(client, org_a)
    url = f"/api/v1/orgs/{org_a.slug}/questionnaires/{q['id']}"
    # Not yet sent: an edit changes version 1 itself.
    content = q["content"]
    content["questions"][0]["text"]["de"] = "Wie zufrieden sind Sie bisher?"
    r = await client.patch(url, json={"content": content}, headers=org_a.auth())
    assert r.status_code == 200 and r.json()["version"] == 1
    token = await _link(client, tandem, q["id"])
    assert (
        await client.post(
            f"/api/v1/q/{token}", json={"answers": {"satisfaction": 3, "meetings": "once", "worry": False}}
        )
    ).status_code == 201
    content["questions"][0]["text"]["de"] = "Wie zufrieden sind Sie jetzt?"
    content["questions"][0]["text"]["de_du"] = "Wie zufrieden bist du jetzt?"
    r = await client.patch(url, json={"content": content}, headers=org_a.auth())
    assert r.status_code == 200 and r.json()["version"] == 2
    # A coordinator may not change it; a broken definition names its field.
    assert (
        await client.patch(url, json={"content": content}, headers=org_a.auth(Role.COORDINATOR))
    ).status_code == 403
    content["questions"][1]["options"] = [content["questions"][1]["options"][0]]
    r = await client.patch(url, json={"content": content}, headers=org_a.auth())
    assert r.status_code == 422 and r.json()["field"] == "content.questions[1].options"
    versions = (await client.get(f"{url}/versions", headers=org_a.auth())).json()["items"]
    assert [(v["number"], v["answered"]) for v in versions] == [(1, 1), (2, 0)]
    async with db.tenant(org_a.id) as session:
        wording = (
            await session.execute(
                select(QuestionnaireAnswer.wording).where(QuestionnaireAnswer.question_key == "satisfaction")
            )
        ).scalar_one()
    assert wording == "Wie zufrieden bist du mit dem Tandem?"  # the mentor is "du"; the du text of version 1
    # The next link asks version 2.
    token2 = await _link(client, tandem, q["id"])
    assert "Wie zufrieden bist du jetzt?" in (await client.get(f"/q/{token2}")).text


async def test_figures_per_version_with_before_after_and_small_number_suppression(
    db: Database, client: AsyncTestClient[Any], org_a: Org
) -> None:
    q = await _copy(client, org_a, "impact")
    values = [(2, 4), (3, 4), (1, 3)]
    for before, after in values:
        tandem = await _tandem(db, org_a)
        for phase, value in (("before", before), ("after", after)):
            token = await _link(client, tandem, q["id"], phase=phase)
            answers = {"confidence": value, "school_work": 3, "language": 3, "contacts": 3}
            assert (await client.post(f"/api/v1/q/{token}", json={"answers": answers})).status_code == 201
    lonely = await _tandem(db, org_a)
    await _link(client, lonely, q["id"])  # sent, not answered
    r = await client.get(
        f"/api/v1/orgs/{org_a.slug}/questionnaires/{q['id']}/report", headers=org_a.auth(Role.REPORTER)
    )
    assert r.status_code == 200, r.text
    [v1] = r.json()["versions"]
    assert (v1["invited"], v1["responded"], v1["response_rate"]) == (7, 6, round(6 / 7, 3))
    confidence = next(f for f in v1["questions"] if f["question_key"] == "confidence")
    assert confidence["answers"] == 6
    assert confidence["distribution"] == ["< 3", "< 3", "< 3", "< 3", 0]
    assert (confidence["before"], confidence["after"], confidence["change"]) == (2.0, 3.67, 1.67)
    satisfaction = next(f for f in v1["questions"] if f["question_key"] == "satisfaction")
    assert satisfaction["answers"] == 0 and satisfaction["average"] is None
    # No free text ever reaches the figures.
    assert "text" not in r.text.lower().replace("context", "")


async def test_export_includes_answers_and_erasure_removes_free_text(
    db: Database, client: AsyncTestClient[Any], org_a: Org
) -> None:
    tandem = await _tandem(db, org_a)
    q = await _copy(client, org_a)
    token = await _link(client, tandem, q["id"])
    open_token = await _link(client, tandem, q["id"])
    answers = {
        "satisfaction": 5,
        "meetings": "weekly",
        "worry": True,
        "worry_text": "Meine Sorge",
        "comment": "Schön",
    }
    assert (await client.post(f"/api/v1/q/{token}", json={"answers": answers})).status_code == 201
    base = f"/api/v1/orgs/{org_a.slug}/contacts/{tandem.mentor_id}"
    exported = (await client.get(f"{base}/export", headers=org_a.auth())).json()
    part = exported["domains"]["questionnaires"]
    texts = {a["question"]: a["text"] for a in part["answers"][0]["answers"]}
    assert texts["Wenn ja: Was macht dir Sorgen?"] == "Meine Sorge" and len(part["questionnaires_sent"]) == 2
    r = await client.post(f"{base}/erase", headers=org_a.auth())
    assert r.status_code == 200, r.text
    async with db.tenant(org_a.id) as session:
        rows = (await session.execute(select(QuestionnaireAnswer))).scalars().all()
        response = (await session.execute(select(QuestionnaireResponse))).scalar_one()
    assert rows and all(a.text_value is None for a in rows)
    assert {a.question_key: a.number for a in rows}["satisfaction"] == 5  # figures keep the scale answer
    assert response.anonymised_at is not None
    assert (await client.get(f"/q/{open_token}")).status_code == 404


async def test_organisation_a_reaches_nothing_of_b(
    db: Database, client: AsyncTestClient[Any], org_a: Org, org_b: Org
) -> None:
    tandem_b = await _tandem(db, org_b)
    q_b = await _copy(client, org_b)
    token_b = await _link(client, tandem_b, q_b["id"])
    schedule_b = (
        await client.post(
            f"/api/v1/orgs/{org_b.slug}/questionnaires/schedules",
            json={"questionnaire_id": q_b["id"], "audience": "mentor", "trigger": "end"},
            headers=org_b.auth(),
        )
    ).json()
    async with db.tenant(org_b.id) as session:
        invitation_b = (await session.execute(select(QuestionnaireInvitation.id))).scalar_one()
    a = f"/api/v1/orgs/{org_a.slug}"
    calls = [
        ("GET", f"{a}/questionnaires/{q_b['id']}", None),
        ("PATCH", f"{a}/questionnaires/{q_b['id']}", {"archived": True}),
        ("GET", f"{a}/questionnaires/{q_b['id']}/versions", None),
        ("GET", f"{a}/questionnaires/{q_b['id']}/report", None),
        (
            "PUT",
            f"{a}/questionnaires/schedules/{schedule_b['id']}",
            {"questionnaire_id": q_b["id"], "audience": "mentor", "trigger": "end"},
        ),
        ("DELETE", f"{a}/questionnaires/schedules/{schedule_b['id']}", None),
        (
            "POST",
            f"{a}/matches/{tandem_b.match_id}/questionnaires",
            {"questionnaire_id": q_b["id"], "audience": "mentor"},
        ),
        ("GET", f"{a}/matches/{tandem_b.match_id}/questionnaires", None),
        ("GET", f"{a}/matches/{tandem_b.match_id}/questionnaire-answers", None),
        ("POST", f"{a}/questionnaire-invitations/{invitation_b}/revoke", None),
    ]
    for method, url, body in calls:
        r = await client.request(method, url, json=body, headers=org_a.auth())
        assert r.status_code == 404, (method, url, r.status_code, r.text)
    # B's questionnaire cannot be scheduled in A either.
    r = await client.post(
        f"{a}/questionnaires/schedules",
        json={"questionnaire_id": q_b["id"], "audience": "mentor", "trigger": "end"},
        headers=org_a.auth(),
    )
    assert r.status_code == 422 and r.json()["field"] == "questionnaire_id"
    # B's link still works for B, and was untouched by A's attempts.
    assert (await client.get(f"/q/{token_b}")).status_code == 200
    assert uuid.UUID(schedule_b["id"])


async def test_consent_where_the_organisation_requires_it_and_links_are_rate_limited(
    db: Database, client: AsyncTestClient[Any], org_a: Org
) -> None:
    tandem = await _tandem(db, org_a)
    q = await _copy(client, org_a)
    base = f"/api/v1/orgs/{org_a.slug}"
    settings = {
        "low_rating_threshold": 2,
        "link_valid_days": 14,
        "reminder_after_days": 5,
        "consent_required": True,
    }
    assert (
        await client.put(f"{base}/questionnaires/settings", json=settings, headers=org_a.auth())
    ).status_code == 200
    r = await client.post(
        f"{base}/matches/{tandem.match_id}/questionnaires",
        json={"questionnaire_id": q["id"], "audience": "mentor"},
        headers=org_a.auth(),
    )
    assert r.status_code == 201 and r.json()["items"] == []
    assert r.json()["skipped"][0]["reason"] == "no_consent"
    consent = {"purpose": "questionnaires", "status": "given", "effective_on": "2026-01-01"}
    c = await client.post(f"{base}/contacts/{tandem.mentor_id}/consents", json=consent, headers=org_a.auth())
    assert c.status_code == 201, c.text
    token = await _link(client, tandem, q["id"])
    statuses = [(await client.get(f"/q/{token}")).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
