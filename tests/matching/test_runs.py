"""Cohort runs: asked for over HTTP, computed by the worker's job with its progress in the run's row,
reviewed with pins and exclusions, accepted in part or in full."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import update

from services.worker.jobs import matching as jobs
from shared.db import Database
from shared.matching import runs
from shared.matching.models import MatchingRun
from shared.settings import Settings
from tests.conftest import Org
from tests.fixtures.matching import MatchingApi


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_dsn))
    yield pool
    await pool.aclose()


async def _forget_job(redis: ArqRedis, run_id: str) -> bool:
    """Whether the run's job was queued; removed again so no worker of a later test picks it up."""
    key = f"arq:job:{runs.job_id(run_id)}"
    queued = bool(await redis.exists(key))
    await redis.delete(key)
    await redis.zrem("arq:queue", runs.job_id(run_id))
    return queued


async def _work(db: Database, org: Org, run_id: str) -> str:
    result: str = await jobs.run_matching({"db": db}, str(org.id), run_id)
    return result


async def test_a_cohort_run_finds_the_best_total_not_the_greedy_one(
    matching: MatchingApi, db: Database, org_a: Org, arq_redis: ArqRedis
) -> None:
    # Hanna suits both mentees, Jonas only Ali. Greedy gives Hanna to Ali (the best single pair)
    # and leaves Berat with nobody; the optimum gives Jonas to Ali and Hanna to Berat.
    ali = await matching.person("mentee", "Ali", languages=["de"], interests=["Schach", "Fußball"])
    berat = await matching.person("mentee", "Berat", languages=["tr"], interests=["Fußball"])
    hanna = await matching.person("mentor", "Hanna", languages=["de", "tr"], interests=["Schach", "Fußball"])
    jonas = await matching.person("mentor", "Jonas", languages=["de"], interests=["Schach", "Kochen"])

    run = await matching.call("POST", "/matching/runs", 201, json={})
    assert (run["status"], run["progress"], run["pairs"]) == ("queued", 0.0, None)
    assert (run["mentee_count"], run["mentor_count"]) == (2, 2)
    assert await _forget_job(arq_redis, run["id"]), "the run's job was not queued"

    assert await _work(db, org_a, run["id"]) == "done"
    assert await _work(db, org_a, run["id"]) == "skipped"
    done = await matching.call("GET", f"/matching/runs/{run['id']}")
    assert (done["status"], done["stage"], done["progress"]) == ("done", "done", 1.0)
    pairs = {(p["mentee_id"], p["mentor_id"]): p["score"] for p in done["pairs"]}
    assert set(pairs) == {(ali, jonas), (berat, hanna)}
    assert done["unmatched_mentee_ids"] == []

    async def score(mentee: str, mentor: str) -> float:
        got = await matching.call("GET", "/matching/score", params={"mentor_id": mentor, "mentee_id": mentee})
        return 0.0 if got["excluded"] else float(got["score"])

    totals = []
    for order in permutations([hanna, jonas]):
        totals.append(sum([await score(m, n) for m, n in zip([ali, berat], order, strict=True)]))
    assert done["total_score"] == pytest.approx(max(totals), abs=0.01)
    assert pairs[ali, jonas] == await score(ali, jonas)
    # Hanna is Ali's best mentor, so a greedy pass would have taken her from Berat.
    assert await score(ali, hanna) > await score(ali, jonas) and await score(berat, jonas) == 0.0
    assert [r["id"] for r in await matching.call("GET", "/matching/runs")] == [run["id"]]

    # The coordinator pins Hanna to Ali: Berat (Turkish only) has nobody left.
    again = await matching.call(
        "POST",
        f"/matching/runs/{run['id']}/rerun",
        201,
        json={"pins": [{"mentee_id": ali, "mentor_id": hanna}]},
    )
    await _forget_job(arq_redis, again["id"])
    await _work(db, org_a, again["id"])
    pinned = await matching.call("GET", f"/matching/runs/{again['id']}")
    assert [(p["mentee_id"], p["mentor_id"], p["pinned"]) for p in pinned["pairs"]] == [(ali, hanna, True)]
    assert pinned["unmatched_mentee_ids"] == [berat] and pinned["previous_run_id"] == run["id"]

    # Excluding Jonas for Ali instead: Hanna goes to one of them, by score.
    other = await matching.call(
        "POST",
        f"/matching/runs/{again['id']}/rerun",
        201,
        json={
            "unpin": [{"mentee_id": ali, "mentor_id": hanna}],
            "exclusions": [{"mentee_id": ali, "mentor_id": jonas}],
        },
    )
    assert other["pins"] == [] and other["exclusions"] == [{"mentee_id": ali, "mentor_id": jonas}]
    await _forget_job(arq_redis, other["id"])
    await _work(db, org_a, other["id"])
    result = await matching.call("GET", f"/matching/runs/{other['id']}")
    assert (ali, jonas) not in {(p["mentee_id"], p["mentor_id"]) for p in result["pairs"]}

    # A pin the rules forbid is refused at once, with the reason.
    bad = await matching.call(
        "POST",
        f"/matching/runs/{run['id']}/rerun",
        422,
        json={"pins": [{"mentee_id": berat, "mentor_id": jonas}]},
    )
    assert bad["field"] == "pins" and "keine gemeinsame Sprache" in bad["detail"]

    # Accept Ali's pair of the first run, then the rest.
    await matching.call("POST", f"/matching/runs/{again['id']}/accept", 422, json={"mentee_ids": [berat]})
    accepted = await matching.call(
        "POST", f"/matching/runs/{run['id']}/accept", 201, json={"mentee_ids": [ali]}
    )
    assert [(m["mentee_id"], m["mentor_id"], m["status"]) for m in accepted] == [(ali, jonas, "proposed")]
    assert accepted[0]["score"] == pairs[ali, jonas]
    again_ali = await matching.call(
        "POST", f"/matching/runs/{run['id']}/accept", 422, json={"mentee_ids": [ali]}
    )
    assert again_ali["field"] == "mentee_ids"
    rest = await matching.call("POST", f"/matching/runs/{run['id']}/accept", 201, json={})
    assert [(m["mentee_id"], m["mentor_id"]) for m in rest] == [(berat, hanna)]
    reviewed = await matching.call("GET", f"/matching/runs/{run['id']}")
    assert {p["match_id"] for p in reviewed["pairs"]} == {accepted[0]["id"], rest[0]["id"]}
    # The pinned run's pair can no longer be proposed: Ali has a match now. Nothing is half-written.
    clash = await matching.call("POST", f"/matching/runs/{again['id']}/accept", 409, json={})
    assert clash["field"] == "mentee_id"
    assert len((await matching.call("GET", "/matches"))["items"]) == 2


async def test_progress_is_written_to_the_run_step_by_step(
    matching: MatchingApi, db: Database, org_a: Org, arq_redis: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        await matching.person("mentee", f"Mentee {i}", languages=["de"])
        await matching.person("mentor", f"Mentor {i}", languages=["de"])
    run = await matching.call("POST", "/matching/runs", 201, json={})
    await _forget_job(arq_redis, run["id"])
    seen: list[tuple[str, float]] = []
    record = runs._record

    async def spy(db: Database, org_id: uuid.UUID, run_id: uuid.UUID, **values: Any) -> None:
        await record(db, org_id, run_id, **values)
        async with db.tenant(org_id) as session:
            row = await session.get(MatchingRun, (org_id, run_id))
            assert row is not None
            seen.append((row.stage, row.progress))

    monkeypatch.setattr(runs, "_record", spy)
    # Small blocks, so the scoring reports more than once.
    score = runs.Cohort.score
    monkeypatch.setattr(runs.Cohort, "score", lambda self, chunk_rows=1: score(self, chunk_rows))
    assert await _work(db, org_a, run["id"]) == "done"
    stages = [stage for stage, _ in seen]
    assert stages[0] == "scoring" and stages[-1] == "assigning"
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and len(progress) >= 5 and 0 < progress[0] < progress[-1] < 1


async def test_a_run_whose_job_was_lost_is_picked_up_again(
    matching: MatchingApi, db: Database, org_a: Org, arq_redis: ArqRedis
) -> None:
    await matching.person("mentee", "Mo", languages=["de"])
    await matching.person("mentor", "Ma", languages=["de"])
    run = await matching.call("POST", "/matching/runs", 201, json={})
    await _forget_job(arq_redis, run["id"])  # as if Redis had lost it
    run_id = uuid.UUID(run["id"])
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(MatchingRun)
            .where(MatchingRun.id == run_id)
            .values(created_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    assert await jobs.sweep_matching_runs({"db": db, "redis": arq_redis}) >= 1
    assert await _forget_job(arq_redis, run["id"])

    # A worker that died mid-run: a fresh heartbeat is left alone, a stale one taken over.
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(MatchingRun)
            .where(MatchingRun.id == run_id)
            .values(status="running", heartbeat_at=datetime.now(UTC))
        )
    assert await _work(db, org_a, run["id"]) == "skipped"
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(MatchingRun)
            .where(MatchingRun.id == run_id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    assert (run_id in {r for _, r in await runs.runs_waiting(db)}) is True
    assert await _work(db, org_a, run["id"]) == "done"
    assert (await matching.call("GET", f"/matching/runs/{run['id']}"))["status"] == "done"
