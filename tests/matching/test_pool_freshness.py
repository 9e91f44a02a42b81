"""The matching pools' freshness: one revision per organisation, bumped by the writing transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from shared import clock
from shared.db import Database, plain_url
from shared.matching.people import POOL_TOPIC
from shared.permissions import Role
from shared.settings import Settings
from tests.conftest import Org, Servers
from tests.fixtures.intake import IntakeApi
from tests.fixtures.matching import MatchingApi


@pytest.fixture
async def app_conn(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    """The runtime role, as the API connects: the triggers must work under its policies."""
    conn = await asyncpg.connect(plain_url(servers.app_url))
    yield conn
    await conn.close()


async def _revision(db: Database, org: Org) -> int:
    async with db.session(org.id) as session:
        value = await session.scalar(
            text("SELECT revision FROM change_counters WHERE id = :topic"), {"topic": POOL_TOPIC}
        )
        return int(value or 0)


async def test_each_writing_transaction_bumps_its_own_organisation_once(
    db: Database, org_a: Org, org_b: Org, app_conn: asyncpg.Connection
) -> None:
    before_a, before_b = await _revision(db, org_a), await _revision(db, org_b)
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org_a.id))
        await app_conn.execute(
            "INSERT INTO contacts (organization_id, id, first_name, last_name, kinds) "
            "SELECT $1, gen_random_uuid(), 'Person', g::text, ARRAY['mentor'] FROM generate_series(1, 50) g",
            org_a.id,
        )
        # Many single-row statements in one transaction: still one bump (and one row version).
        for n in range(51, 81):
            await app_conn.execute(
                "INSERT INTO contacts (organization_id, id, first_name, last_name, kinds) "
                "VALUES ($1, gen_random_uuid(), 'Person', $2, ARRAY['mentee'])",
                org_a.id,
                str(n),
            )
    assert await _revision(db, org_a) == before_a + 1
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org_a.id))
        await app_conn.execute("UPDATE contacts SET first_name = 'Renamed' WHERE last_name = '7'")
        await app_conn.execute("DELETE FROM contacts WHERE last_name = '8'")
    assert await _revision(db, org_a) == before_a + 2
    assert await _revision(db, org_b) == before_b
    # A rolled-back write leaves the revision where it was.
    tx = app_conn.transaction()
    await tx.start()
    await app_conn.execute("SELECT set_config('codo.org_id', $1, true)", str(org_a.id))
    await app_conn.execute("DELETE FROM contacts WHERE last_name = '9'")
    await tx.rollback()
    assert await _revision(db, org_a) == before_a + 2
    # The system context names no organisation: the written rows say which ones to bump.
    async with app_conn.transaction():
        await app_conn.execute("SELECT set_config('codo.system', 'on', true)")
        await app_conn.execute(
            "UPDATE contacts SET first_name = 'Swept' WHERE last_name IN ('1', '2') "
            "AND organization_id = ANY($1::uuid[])",
            [org_a.id, org_b.id],
        )
    assert await _revision(db, org_a) == before_a + 3
    assert await _revision(db, org_b) == before_b


async def test_suggestions_see_a_new_mentor_and_a_new_match_at_once(
    matching: MatchingApi, db: Database, org_a: Org
) -> None:
    mentee = await matching.person("mentee", "Samir", languages=["ar"], postal_code="10115")
    first = await matching.person("mentor", "Hanna", languages=["ar"], postal_code="10115")
    got = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    assert [i["candidate_id"] for i in got["items"]] == [first]
    revision = await _revision(db, org_a)
    # Served from the cached pool: reading does not move the revision.
    await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    assert await _revision(db, org_a) == revision

    second = await matching.person("mentor", "Jonas", languages=["ar"], postal_code="10115")
    got = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    assert {i["candidate_id"] for i in got["items"]} == {first, second}

    await matching.propose(first, mentee)
    other = await matching.person("mentee", "Lina", languages=["ar"], postal_code="10115")
    waiting = await matching.call("GET", "/matching/suggestions", params={"contact_id": second})
    assert mentee not in {i["candidate_id"] for i in waiting["items"]}
    assert other in {i["candidate_id"] for i in waiting["items"]}


async def test_requests_that_find_no_pool_wait_for_the_one_that_builds_it(
    matching: MatchingApi, db: Database, org_a: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.matching import people

    await matching.person("mentor", "Hanna", languages=["ar"], postal_code="10115")
    people.POOLS.clear()
    built = 0
    original = people._build

    async def counting(*args: Any) -> Any:
        nonlocal built
        built += 1
        # Building takes a while (thousands of people): the other requests arrive meanwhile.
        await asyncio.sleep(0.2)
        return await original(*args)

    monkeypatch.setattr(people, "_build", counting)

    async def one_request() -> int:
        async with db.tenant(org_a.id) as session:
            settings = await people.settings_for(session, None)
            pool = await people.candidate_pool(session, org_a.id, "mentor", settings, clock.today())
            return len(pool.profiles)

    sizes = await asyncio.gather(*(one_request() for _ in range(6)))
    assert sizes == [1] * 6
    assert built == 1


async def test_suggestions_follow_preparation_at_once(
    matching: MatchingApi, db: Database, org_a: Org
) -> None:
    """The pools hold only people ready to be matched: a new required step, a record and a
    certificate inspection each move the revision, so the cached pool is rebuilt on the next
    request; so does saving the settings the pool ranks by."""
    programme = await matching.call(
        "POST", "/contacts/programmes", 201, role=Role.ADMIN, json={"name": "Paten"}
    )
    mentee = await matching.person("mentee", "Jana", languages=["de"], postal_code="10115")
    udo = await matching.person("mentor", "Udo", languages=["de"], programme_ids=[programme["id"]])
    rosa = await matching.person("mentor", "Rosa", languages=["de"])

    async def suggested() -> set[str]:
        got = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
        return {i["candidate_id"] for i in got["items"]}

    assert await suggested() == {udo, rosa}
    before = await _revision(db, org_a)
    interview = await matching.call(
        "POST", "/screening/steps", 201, role=Role.ADMIN,
        json={"programme_id": programme["id"], "kind": "interview", "applies_to": ["mentor"]},
    )  # fmt: skip
    assert await _revision(db, org_a) == before + 1
    assert await suggested() == {rosa}
    await matching.call(
        "POST", "/screening/records", 201,
        json={"contact_id": udo, "step_id": interview["id"], "outcome": "passed"},
    )  # fmt: skip
    assert await suggested() == {udo, rosa}

    await matching.call(
        "POST", "/screening/steps", 201, role=Role.ADMIN,
        json={"programme_id": programme["id"], "kind": "certificate", "applies_to": ["mentor"]},
    )  # fmt: skip
    assert await suggested() == {rosa}
    await matching.call(
        "POST", "/screening/certificates", 201,
        json={"contact_id": udo, "seen": True, "issued_on": clock.today().isoformat(),
              "has_relevant_entries": False},
    )  # fmt: skip
    assert await suggested() == {udo, rosa}

    far = await matching.person("mentor", "Olaf", languages=["de"], postal_code="80331")
    assert await suggested() == {udo, rosa, far}
    before = await _revision(db, org_a)
    body = {"config": {"rules": {"max_distance_km": 50}}, "checkin_interval_days": 14}
    await matching.call("PUT", "/matching/settings", role=Role.ADMIN, json=body)
    assert await _revision(db, org_a) == before + 1
    assert await suggested() == {udo, rosa}


async def test_a_pool_out_of_the_collectors_sight_answers_alike_and_is_freed_when_replaced(
    matching: MatchingApi, org_a: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large pool built from scratch is moved out of the collector's generations, which every
    full collection would otherwise walk. It answers as before, and once a newer pool replaces
    it, it is freed all the same: nothing in it keeps it alive."""
    import gc
    import weakref

    from shared.matching import people

    mentee = await matching.person("mentee", "Samir", languages=["ar"], postal_code="10115")
    near = await matching.person("mentor", "Hanna", languages=["ar"], postal_code="10115")
    far = await matching.person("mentor", "Jonas", languages=["ar"], postal_code="10405")
    params = {"contact_id": mentee, "lang": "en"}
    expected = await matching.call("GET", "/matching/suggestions", params=params)
    assert [i["candidate_id"] for i in expected["items"]] == [near, far]

    monkeypatch.setattr(people, "SETTLE_FROM", 2)
    people.POOLS.clear()
    assert await matching.call("GET", "/matching/suggestions", params=params) == expected
    (pool,) = [h.pool for key, h in people.POOLS._pools.items() if key[0] == org_a.id and key[2] == "mentor"]
    tracked = {id(o) for o in gc.get_objects()}
    assert not {id(pool), id(pool.profiles[0]), id(pool.profiles[0].languages)} & tracked
    # Asked again after a full collection: the same answer, from the same pool.
    gc.collect()
    assert await matching.call("GET", "/matching/suggestions", params={**params, "limit": 1}) == {
        **expected,
        "items": expected["items"][:1],
    }

    gone = weakref.ref(pool)
    del pool
    people.POOLS.clear()
    assert await matching.call("GET", "/matching/suggestions", params=params) == expected
    assert gone() is None


async def test_a_kept_suggestions_answer_follows_names_limits_languages_and_the_person(
    matching: MatchingApi, client: Any, org_a: Org
) -> None:
    mentee = await matching.person("mentee", "Samir", languages=["ar"], postal_code="10115")
    hanna = await matching.person("mentor", "Hanna", languages=["ar"], postal_code="10115")
    await matching.person("mentor", "Jonas", languages=["ar", "de"], postal_code="10117")
    url = f"{matching.base}/matching/suggestions"
    first = await client.get(url, params={"contact_id": mentee}, headers=org_a.auth(Role.COORDINATOR))
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/json")
    again = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    assert again == first.json() and len(again["items"]) == 2

    # Each of these asks the same pool for the same person, but for another answer.
    one = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee, "limit": 1})
    assert len(one["items"]) == 1
    english = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee, "lang": "en"})
    german = {c["label"] for i in again["items"] for c in i["criteria"]}
    assert {c["label"] for i in english["items"] for c in i["criteria"]} != german

    # A new candidate who does not reach the best one: the same answer, from a pool one larger.
    await matching.person("mentor", "Fritz", languages=["fa"], postal_code="80331")
    still = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee, "limit": 1})
    assert still["items"] == one["items"] and (one["candidates"], still["candidates"]) == (2, 3)

    # A candidate's new name and the person's new profile show at once.
    await matching.call("PATCH", f"/contacts/{hanna}", json={"first_name": "Hannah"})
    renamed = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    assert "Hannah Test" in {i["candidate_name"] for i in renamed["items"]}
    await matching.call("PATCH", f"/contacts/{mentee}", json={"languages": ["de"]})
    moved = await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    answer = [(i["candidate_id"], i["score"]) for i in moved["items"]]
    assert answer != [(i["candidate_id"], i["score"]) for i in renamed["items"]]


async def test_readiness_as_matching_reads_it_gives_every_reason_of_the_full_checklist(
    intake: IntakeApi, db: Database, org_a: Org
) -> None:
    """Matching's readiness check leaves out records or certificates when no step of the people
    asked about needs them: each reason still shows, whichever of them is asked about with whom."""
    from shared.intake.readiness import evaluate, not_ready_reasons

    programme = await intake.programme()
    steps = await intake.steps(programme)
    # Mentees here need the certificate alone, mentors everything but it.
    for kind, step in steps.items():
        whom = ["mentee"] if kind == "certificate" else ["mentor"]
        await intake.call("PATCH", f"/screening/steps/{step}", json={"applies_to": whom})
    mentor = await intake.person("mentor", "Max", programme)
    mentee = await intake.person("mentee", "Emil", programme)
    outsider = await intake.person("mentor", "Otto")
    ordinary = next(step for kind, step in steps.items() if kind != "certificate")
    for person in (mentor, mentee):
        record = {"contact_id": person, "step_id": ordinary, "outcome": "failed", "done_by": "Frau Lehmann"}
        await intake.call("POST", "/screening/records", json=record, role=Role.COORDINATOR, expect=201)
        blocked = {"contact_id": person, "seen": True, "has_relevant_entries": True}
        blocked["issued_on"] = clock.today().isoformat()
        await intake.call("POST", "/screening/certificates", json=blocked, role=Role.COORDINATOR, expect=201)
    ids = [uuid.UUID(mentor), uuid.UUID(mentee), uuid.UUID(outsider)]
    async with db.tenant(org_a.id) as session:
        full = {i: p.reasons("de") for i, p in (await evaluate(session, ids)).items()}
        for batch in ([ids[0]], [ids[1]], [ids[2]], ids):
            assert await not_ready_reasons(session, batch) == {i: full[i] for i in batch}
    protection = "Aus Gründen des Kinderschutzes nicht für die Vermittlung freigegeben"
    assert full[ids[1]] == [protection]  # the certificate, read without any record
    assert len(full[ids[0]]) >= 2 and protection not in full[ids[0]]  # records, without the certificate
    assert full[ids[2]] == []


async def test_a_suggestion_that_must_read_more_goes_on_in_a_session_on_the_one_connection_it_holds(
    matching: MatchingApi, settings: Settings, org_a: Org
) -> None:
    """A suggestions request begins on the bare driver and reads only the revision when this
    process keeps the rest. When it keeps nothing, the request commits that transaction before
    its session begins: with one connection in the pool and nothing to spare, cold requests
    side by side must all be answered, and alike."""
    from services.api.app import create_app
    from shared.matching import people

    mentee = await matching.person("mentee", "Samir", languages=["ar"], postal_code="10115")
    mentor = await matching.person("mentor", "Hanna", languages=["ar"], postal_code="10115")
    single = msgspec.structs.replace(settings, db_pool_size=1, db_max_overflow=0, db_pool_timeout=3)
    url = f"/api/v1/orgs/{org_a.slug}/matching/suggestions"
    async with AsyncTestClient(app=create_app(single)) as client:
        for _ in range(2):
            people.POOLS.clear()
            people._PROFILES.clear()
            people._SETTINGS.clear()
            answers = await asyncio.gather(
                *(client.get(url, params={"contact_id": mentee}, headers=org_a.auth()) for _ in range(4))
            )
            assert [r.status_code for r in answers] == [200] * 4, answers[0].text
            assert {tuple(i["candidate_id"] for i in r.json()["items"]) for r in answers} == {(mentor,)}
        # Kept now: answered after the one statement, on the driver alone.
        r = await client.get(url, params={"contact_id": mentee}, headers=org_a.auth())
        assert r.status_code == 200 and [i["candidate_id"] for i in r.json()["items"]] == [mentor]
