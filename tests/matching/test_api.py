"""Matching over HTTP: suggestions, the score of a pair, settings, roles, and organisations kept apart."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.exc import IntegrityError

from shared.db import Database
from shared.matching.models import Match
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.matching import MatchingApi

ARABIC_MENTEE = {
    "languages": ["ar", "de"],
    "interests": ["Fußball", "Kochen"],
    "availability": ["tue-evening", "sat-morning"],
    "postal_code": "10115",
}


async def test_suggestions_are_best_first_with_reasons_and_excluded_pairs_left_out(
    matching: MatchingApi,
) -> None:
    mentee = await matching.person("mentee", "Samir", **ARABIC_MENTEE)
    best = await matching.person(
        "mentor", "Hanna", languages=["ar"], interests=["Kochen", "Fußball"], availability=["tue-evening"],
        postal_code="12043",
    )  # fmt: skip
    fair = await matching.person(
        "mentor", "Jonas", languages=["de"], interests=["Lesen"], postal_code="10115"
    )
    no_language = await matching.person("mentor", "Pierre", languages=["fr"], interests=["Kochen", "Fußball"])
    await matching.person("mentee", "Other mentee", languages=["ar"])

    got = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee, "limit": 5})
    assert got["role"] == "mentee"
    assert [i["candidate_id"] for i in got["items"]] == [best, fair]
    assert no_language not in str(got)
    top = got["items"][0]
    assert top["candidate_name"] == "Hanna Test"
    reasons = {c["name"]: c["reason"] for c in top["criteria"]}
    assert reasons["languages"] == "beide sprechen Arabisch"
    assert reasons["distance"] == "7 km entfernt"
    assert reasons["availability"] == "gemeinsame Zeit: Di abends"
    assert top["score"] == round(sum(c["points"] for c in top["criteria"]), 2)
    assert got["items"][0]["score"] > got["items"][1]["score"]

    english = await matching.call(
        "GET", "/matching/suggestions", params={"contact_id": mentee, "lang": "en", "limit": 1}
    )
    assert {c["name"]: c["reason"] for c in english["items"][0]["criteria"]}["distance"] == "7 km apart"

    # The other way round: mentees for a mentor.
    for_mentor = await matching.call("GET", "/matching/suggestions", params={"contact_id": best})
    assert for_mentor["role"] == "mentor" and for_mentor["items"][0]["candidate_id"] == mentee


async def test_a_proposal_takes_the_mentee_off_the_waiting_list_and_the_place_of_the_mentor(
    matching: MatchingApi,
) -> None:
    mentee = await matching.person("mentee", "Lea", languages=["de"])
    other = await matching.person("mentee", "Tom", languages=["de"])
    mentor = await matching.person("mentor", "Ute", languages=["de"], capacity=1)
    assert [i["candidate_id"] for i in (await matching.call(
        "GET", "/matching/suggestions", params={"contact_id": other}))["items"]] == [mentor]  # fmt: skip
    waiting = await matching.call("GET", "/matching/waiting")
    assert {p["id"] for p in waiting} == {mentee, other}
    available = await matching.call("GET", "/matching/available")
    assert [(p["id"], p["free_places"]) for p in available] == [(mentor, 1)]
    await matching.propose(mentor, mentee)
    assert [p["id"] for p in await matching.call("GET", "/matching/waiting")] == [other]
    assert await matching.call("GET", "/matching/available") == []
    # Ute's only place is taken, and Lea no longer waits.
    assert (await matching.call("GET", "/matching/suggestions", params={"contact_id": other}))["items"] == []
    assert mentee not in str(
        await matching.call("GET", "/matching/suggestions", params={"contact_id": mentor})
    )


async def test_the_score_of_a_pair_with_no_common_language(matching: MatchingApi) -> None:
    mentee = await matching.person("mentee", "Amal", languages=["ar"], interests=["Malen"])
    mentor = await matching.person("mentor", "Kai", languages=["de"], interests=["malen"], gender="male")
    got = await matching.call("GET", "/matching/score", params={"mentor_id": mentor, "mentee_id": mentee})
    assert got["excluded"] is True
    assert got["excluded_by"] == [{"name": "common_language", "reason": "keine gemeinsame Sprache"}]
    points = {c["name"]: c["points"] for c in got["criteria"]}
    assert points["languages"] == 0 and points["interests"] == 25.0
    assert got["score"] == 25.0

    r = await matching.client.get(
        f"{matching.base}/matching/score", params={"mentor_id": mentee, "mentee_id": mentee},
        headers=matching.org.auth(),
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "mentor_id"
    r = await matching.client.get(
        f"{matching.base}/matching/score", params={"mentee_id": mentee}, headers=matching.org.auth()
    )
    assert r.status_code == 422 and r.json()["field"] == "mentor_id"


async def test_settings_shape_the_score_and_only_admins_change_them(matching: MatchingApi) -> None:
    mentee = await matching.person("mentee", "Nora", languages=["de"], postal_code="10115")
    mentor = await matching.person("mentor", "Olaf", languages=["de"], postal_code="80331")
    params = {"mentor_id": mentor, "mentee_id": mentee}
    assert (await matching.call("GET", "/matching/score", params=params))["excluded"] is False

    body = {"config": {"rules": {"max_distance_km": 50}}, "checkin_interval_days": 14}
    await matching.call("PUT", "/matching/settings", 403, role=Role.COORDINATOR, json=body)
    saved = await matching.call("PUT", "/matching/settings", role=Role.ADMIN, json=body)
    assert saved["config"]["rules"]["max_distance_km"] == 50 and saved["checkin_interval_days"] == 14
    got = await matching.call("GET", "/matching/score", params=params)
    assert got["excluded_by"] == [
        {"name": "max_distance", "reason": "505 km entfernt, erlaubt sind höchstens 50 km"}
    ]
    assert (await matching.call("GET", "/matching/settings"))["own"] is True

    bad = await matching.call(
        "PUT", "/matching/settings", 400, role=Role.ADMIN, json={"config": {"weights": {"distance": -5}}}
    )
    assert bad["field"] == "config.weights.distance"
    bad = await matching.call(
        "PUT", "/matching/settings", 400, role=Role.ADMIN, json={"checkin_interval_days": 0}
    )
    assert bad["field"] == "checkin_interval_days"
    bad = await matching.call(
        "PUT", "/matching/settings", 422, role=Role.ADMIN, json={}, params={"programme_id": str(uuid.uuid4())}
    )
    assert bad["field"] == "programme_id"


async def test_viewers_read_but_do_not_write(matching: MatchingApi) -> None:
    mentee = await matching.person("mentee", "Ben", languages=["de"])
    mentor = await matching.person("mentor", "Eva", languages=["de"])
    await matching.call("GET", "/matching/suggestions", role=Role.VIEWER, params={"contact_id": mentee})
    body = {"mentor_id": mentor, "mentee_id": mentee}
    await matching.call("POST", "/matches", 403, role=Role.VIEWER, json=body)
    await matching.call("POST", "/matching/runs", 403, role=Role.VIEWER, json={})
    # 404 before 403: a viewer asking for a match that does not exist learns nothing more.
    await matching.call("GET", f"/matches/{uuid.uuid4()}", 404, role=Role.VIEWER)


async def test_bad_input_is_a_problem_naming_the_field(matching: MatchingApi) -> None:
    mentee = await matching.person("mentee", "Ida", languages=["de"])
    guardian = await matching.person("guardian", "Gerd")
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", "/matching/suggestions", {"params": {}}, 422, "contact_id"),
        ("GET", "/matching/suggestions", {"params": {"contact_id": "nope"}}, 400, "contact_id"),
        ("GET", "/matching/suggestions", {"params": {"contact_id": mentee, "limit": 0}}, 422, "limit"),
        ("GET", "/matching/suggestions", {"params": {"contact_id": guardian}}, 422, "contact_id"),
        ("POST", "/matches", {"json": {"mentee_id": mentee}}, 400, "mentor_id"),
        ("POST", "/matches", {"json": {"mentor_id": "x", "mentee_id": mentee}}, 400, "mentor_id"),
        ("POST", "/matches", {"json": {"mentor_id": guardian, "mentee_id": mentee}}, 422, "mentor_id"),
        ("POST", "/matches", {"json": {"mentor_id": mentee, "mentee_id": mentee}}, 422, "mentee_id"),
        ("POST", "/matching/runs", {"json": {"mentee_ids": [guardian]}}, 422, "mentee_ids"),
        ("POST", "/matching/runs", {"json": {"pins": [{"mentee_id": mentee}]}}, 400, "mentor_id"),
    ]
    for method, path, kwargs, status, field in cases:
        r = await matching.client.request(
            method, f"{matching.base}{path}", headers=matching.org.auth(), **kwargs
        )
        assert r.status_code == status, (path, kwargs, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, (path, kwargs, r.json())


async def test_organisations_never_meet(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    a, b = MatchingApi(client, org_a), MatchingApi(client, org_b)
    profile = {
        "languages": ["de"],
        "interests": ["Schach"],
        "availability": ["mon-evening"],
        "postal_code": "10115",
    }
    a_mentee = await a.person("mentee", "Anna", **profile)
    a_mentor = await a.person("mentor", "Arne", languages=["de"])
    b_mentor = await b.person("mentor", "Bert", **profile)
    b_mentee = await b.person("mentee", "Berta", **profile)

    # B's perfect mentor is never suggested to A's mentee; A's weaker one is.
    got = await a.call("GET", "/matching/suggestions", params={"contact_id": a_mentee, "limit": 200})
    assert [i["candidate_id"] for i in got["items"]] == [a_mentor]
    await a.call("GET", "/matching/suggestions", 404, params={"contact_id": b_mentee})
    await a.call("GET", "/matching/score", 404, params={"mentor_id": b_mentor, "mentee_id": a_mentee})
    r = await a.call("POST", "/matches", 422, json={"mentor_id": b_mentor, "mentee_id": a_mentee})
    assert r["field"] == "mentor_id" and "Bert" not in str(r)
    r = await a.call("POST", "/matching/runs", 422, json={"mentor_ids": [b_mentor]})
    assert r["field"] == "mentor_ids"
    run = await a.call("POST", "/matching/runs", 201, json={})
    assert (run["mentee_count"], run["mentor_count"]) == (1, 1)

    # B's match is invisible in A.
    b_match = await b.propose(b_mentor, b_mentee)
    await a.call("GET", f"/matches/{b_match['id']}", 404)
    await a.call("POST", f"/matches/{b_match['id']}/transitions", 404, json={"to": "introduced"})
    await a.call("POST", f"/matches/{b_match['id']}/checkins", 404, json={"channel": "phone", "rating": 3})
    await b.call("GET", f"/matching/runs/{run['id']}", 404)
    assert (await a.call("GET", "/matches"))["items"] == []

    # Even the system context, which sees both organisations, cannot pair A's mentee with B's mentor.
    with pytest.raises(IntegrityError, match="fk_matches_mentor"):
        async with db.system_context("test: matches across organisations") as session:
            session.add(
                Match(organization_id=org_a.id, mentor_id=uuid.UUID(b_mentor), mentee_id=uuid.UUID(a_mentee))
            )
            await session.flush()


async def test_a_programme_adds_a_criterion_from_a_custom_field(matching: MatchingApi) -> None:
    field = {
        "key": "district",
        "label_de": "Stadtteil",
        "label_en": "District",
        "type": "choice",
        "options": [{"value": "nord", "label_de": "Nord"}, {"value": "sued", "label_de": "Süd"}],
    }
    await matching.call("POST", "/contacts/fields", 201, role=Role.ADMIN, json=field)
    mentee = await matching.person("mentee", "Elif", languages=["tr"], custom={"district": "nord"})
    near = await matching.person("mentor", "Nils", languages=["tr"], custom={"district": "nord"})
    far = await matching.person("mentor", "Sara", languages=["tr"], custom={"district": "sued"})

    criterion = {"key": "district", "label": "Stadtteil", "weight": 15, "required": True}
    bad = await matching.call(
        "PUT", "/matching/settings", 422, role=Role.ADMIN,
        json={"config": {"custom": [{**criterion, "key": "religion"}]}},
    )  # fmt: skip
    assert bad["field"] == "config.custom[0].key"
    await matching.call(
        "PUT", "/matching/settings", role=Role.ADMIN, json={"config": {"custom": [criterion]}}
    )

    got = await matching.call("GET", "/matching/score", params={"mentor_id": near, "mentee_id": mentee})
    custom = next(c for c in got["criteria"] if c["name"] == "custom:district")
    assert custom == {
        "name": "custom:district", "label": "Stadtteil", "points": 15.0, "max_points": 15.0,
        "reason": "Stadtteil: beide Nord",
    }  # fmt: skip
    got = await matching.call("GET", "/matching/score", params={"mentor_id": far, "mentee_id": mentee})
    assert got["excluded_by"] == [{"name": "custom:district", "reason": "Stadtteil: keine Übereinstimmung"}]
    suggested = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    assert [i["candidate_id"] for i in suggested["items"]] == [near]


async def test_only_people_ready_for_matching_are_suggested_run_or_matched(
    matching: MatchingApi, db: Database, org_a: Org
) -> None:
    """Intake decides who is ready (required preparation steps); matching refuses everyone else."""
    programme = await matching.call(
        "POST", "/contacts/programmes", 201, role=Role.ADMIN, json={"name": "Paten"}
    )
    step = await matching.call(
        "POST", "/screening/steps", 201, role=Role.ADMIN,
        json={"programme_id": programme["id"], "kind": "interview", "applies_to": ["mentor"]},
    )  # fmt: skip
    mentee = await matching.person("mentee", "Jana", languages=["de"])
    unready = await matching.person(
        "mentor", "Udo", languages=["de"], interests=["x"], programme_ids=[programme["id"]]
    )
    ready = await matching.person("mentor", "Rosa", languages=["de"])

    got = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    assert [i["candidate_id"] for i in got["items"]] == [ready]
    r = await matching.call("POST", "/matches", 409, json={"mentor_id": unready, "mentee_id": mentee})
    assert r["field"] == "mentor_id" and "not ready to be matched" in r["detail"]
    run = await matching.call("POST", "/matching/runs", 201, json={})
    assert run["mentor_count"] == 1
    r = await matching.call("POST", "/matching/runs", 422, json={"mentor_ids": [unready]})
    assert r["field"] == "mentor_ids"

    # The interview passed: Udo is ready, and suggested at once (the pool was built before).
    await matching.call(
        "POST", "/screening/records", 201,
        json={"contact_id": unready, "step_id": step["id"], "outcome": "passed"},
    )  # fmt: skip
    got = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    assert {i["candidate_id"] for i in got["items"]} == {ready, unready}
    await matching.propose(unready, mentee)
