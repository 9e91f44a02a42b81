"""A kept candidate pool catches up with the people changed since it was built (migration 0028's
stamps) and then ranks exactly as a pool built from scratch; only a change to what everyone's
preparation is read with builds it again."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared import clock
from shared.db import Database
from shared.intake.vocab import today as readiness_day
from shared.matching import people
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.matching import MatchingApi


async def test_after_every_kind_of_change_the_patched_pool_ranks_as_a_fresh_one(
    matching: MatchingApi, db: Database, org_a: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_build = people._build
    built: list[str] = []

    async def counting(session: Any, role: people.Role, *args: Any) -> Any:
        built.append(role)
        return await fresh_build(session, role, *args)

    monkeypatch.setattr(people, "_build", counting)
    people.POOLS.clear()
    programme = await matching.call(
        "POST", "/contacts/programmes", 201, role=Role.ADMIN, json={"name": "Lesen"}
    )
    in_programme = {"programme_ids": [programme["id"]]}
    mentees = [
        await matching.person("mentee", "Samir", languages=["ar", "de"], postal_code="10115", **in_programme),
        await matching.person(
            "mentee", "Lina", languages=["de"], postal_code="12043", availability=["mon-evening"]
        ),
        await matching.person("mentee", "Emre", languages=["tr"], postal_code="13353", interests=["Fußball"]),
    ]
    mentors = {
        name: await matching.person("mentor", name, **profile)
        for name, profile in {
            "Hanna": {"languages": ["ar"], "postal_code": "10115", **in_programme},
            "Jonas": {"languages": ["de"], "postal_code": "10117", "availability": ["mon-evening"]},
            "Udo": {"languages": ["de", "tr"], "postal_code": "12043", **in_programme},
            "Rosa": {"languages": ["de"], "postal_code": "13353", "interests": ["Fußball", "Kochen"]},
            "Olaf": {"languages": ["tr"], "postal_code": "14050", "capacity": 1},
            "Mia": {"languages": ["de"], "postal_code": "10115", **in_programme},
        }.items()
    }

    async def ask() -> None:
        """What the API is asked after each change: both sides, the whole organisation and the programme."""
        for mentee in mentees:
            for scope in ({}, {"programme_id": programme["id"]}):
                await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee, **scope})
        for mentor in list(mentors.values())[:2]:
            await matching.call("GET", "/matching/suggestions", params={"contact_id": mentor})

    async def same_as_fresh() -> None:
        checked = 0
        async with db.tenant(org_a.id) as session:
            for programme_id in (None, uuid.UUID(programme["id"])):
                settings = await people.settings_for(session, programme_id)
                for role in ("mentor", "mentee"):
                    key = (org_a.id, programme_id, role, settings.version, clock.today(), readiness_day())
                    held = people.POOLS.get(key)
                    if held is None:
                        continue
                    fresh = await fresh_build(session, role, settings, clock.today())
                    assert held.pool.profiles == fresh.profiles
                    asker_id = mentees[0] if role == "mentor" else mentors["Jonas"]
                    asker, _ = await people.profile(session, asker_id, settings.config)
                    for other in [*fresh.profiles[:3], asker]:
                        for limit in (1, 3, 10):
                            assert held.pool.suggest(other, limit, "en") == fresh.suggest(other, limit, "en")
                    checked += 1
        assert checked == 3  # mentors of the organisation and of the programme, and its mentees
        # What the API answers (its cached asker and settings too) is what a fresh pool answers.
        for mentee in mentees:
            got = await matching.call(
                "GET", "/matching/suggestions", params={"contact_id": mentee, "lang": "en"}
            )
            async with db.tenant(org_a.id) as session:
                settings = await people.settings_for(session, None)
                person, _ = await people.profile(session, uuid.UUID(mentee), settings.config)
                expected = (await fresh_build(session, "mentor", settings, clock.today())).suggest(
                    person, 10, "en"
                )
            assert [(i["candidate_id"], i["score"]) for i in got["items"]] == [
                (str(s.candidate_id), s.score) for s in expected
            ]

    await ask()
    await same_as_fresh()
    assert sorted(built) == ["mentee", "mentor", "mentor"]
    built.clear()

    changes: list[tuple[str, str, dict[str, Any], Role]] = [
        (
            "a new mentor",
            "POST",
            {"kinds": ["mentor"], "first_name": "Nora", "status": "ready", "languages": ["ar"]},
            Role.COORDINATOR,
        ),
        ("availability", "PATCH:Jonas", {"availability": ["mon-evening", "sat-morning"]}, Role.COORDINATOR),
        ("postal code", "PATCH:Rosa", {"postal_code": "10115"}, Role.COORDINATOR),
        ("a language nobody had", "PATCH:Udo", {"languages": ["ti", "tr"]}, Role.COORDINATOR),
        ("no longer ready", "PATCH:Mia", {"status": "paused"}, Role.COORDINATOR),
        ("ready again", "PATCH:Mia", {"status": "ready"}, Role.COORDINATOR),
        ("joins the programme", "PATCH:Jonas", {"programme_ids": [programme["id"]]}, Role.COORDINATOR),
        ("leaves the programme", "PATCH:Hanna", {"programme_ids": []}, Role.COORDINATOR),
        ("erased", "ERASE:Rosa", {}, Role.ADMIN),
    ]
    for what, how, body, role in changes:
        if how == "POST":
            mentors[body["first_name"]] = (await matching.call("POST", "/contacts", 201, json=body))["id"]
        elif how.startswith("PATCH:"):
            await matching.call("PATCH", f"/contacts/{mentors[how[6:]]}", json=body, role=role)
        else:
            await matching.call("POST", f"/contacts/{mentors[how[6:]]}/erase", role=role)
        await ask()
        await same_as_fresh()
        assert built == [], f"{what}: built again instead of patched"

    # Matched: Olaf's one place is taken and Emre waits no more; ended: both are back.
    match = await matching.propose(mentors["Olaf"], mentees[2])
    await ask()
    await same_as_fresh()
    await matching.move(match["id"], to="ended", reason="moved_away")
    await ask()
    await same_as_fresh()
    # Preparation recorded for one person patches; a new required step concerns everyone.
    step = await matching.call(
        "POST", "/screening/steps", 201, role=Role.ADMIN,
        json={"programme_id": programme["id"], "kind": "interview", "applies_to": ["mentor"]},
    )  # fmt: skip
    await ask()
    await same_as_fresh()
    assert sorted(set(built)) == ["mentee", "mentor"]
    built.clear()
    await matching.call(
        "POST", "/screening/records", 201,
        json={"contact_id": mentors["Udo"], "step_id": step["id"], "outcome": "passed"},
    )  # fmt: skip
    await ask()
    await same_as_fresh()
    assert built == []

    # The person asking changes; then the settings, which concern everyone.
    await matching.call(
        "PATCH", f"/contacts/{mentees[0]}", json={"languages": ["tr"], "postal_code": "13353"}
    )
    await ask()
    await same_as_fresh()
    assert built == []
    body = {"config": {"weights": {"distance": 30}}, "checkin_interval_days": 14}
    await matching.call("PUT", "/matching/settings", role=Role.ADMIN, json=body)
    await ask()
    await same_as_fresh()
    assert built


async def test_requests_at_a_new_revision_wait_for_the_one_that_patches_the_pool(
    matching: MatchingApi, db: Database, org_a: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    mentee = await matching.person("mentee", "Samir", languages=["ar"], postal_code="10115")
    await matching.person("mentor", "Hanna", languages=["ar"], postal_code="10115")
    await matching.call("GET", "/matching/suggestions", params={"contact_id": mentee})
    jonas = await matching.person("mentor", "Jonas", languages=["ar"], postal_code="10115")
    caught_up = 0
    original = people.changed_since

    async def counting(*args: Any) -> Any:
        nonlocal caught_up
        caught_up += 1
        await asyncio.sleep(0.2)  # the other requests arrive meanwhile
        return await original(*args)

    monkeypatch.setattr(people, "changed_since", counting)

    async def one_request() -> set[uuid.UUID]:
        async with db.tenant(org_a.id) as session:
            settings = await people.settings_for(session, None)
            pool = await people.candidate_pool(session, org_a.id, "mentor", settings, clock.today())
            return {p.id for p in pool.profiles}

    found = await asyncio.gather(*(one_request() for _ in range(6)))
    # Nobody was served the pool without the new mentor, and only one request read the changes.
    assert all(uuid.UUID(jonas) in ids and len(ids) == 2 for ids in found)
    assert caught_up == 1
