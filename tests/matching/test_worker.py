"""A real worker process runs a cohort run that the API queued; the API shows it finished."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest

from shared.settings import Settings
from tests.conftest import settings_env
from tests.fixtures.matching import MatchingApi

pytestmark = pytest.mark.slow


@pytest.fixture
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_the_worker_runs_a_queued_cohort_run(
    matching: MatchingApi, worker: subprocess.Popen[bytes]
) -> None:
    mentees = [await matching.person("mentee", f"Mentee {i}", languages=["de"]) for i in range(3)]
    mentor = await matching.person("mentor", "Mentorin", languages=["de"], capacity=2)
    run = await matching.call("POST", "/matching/runs", 201, json={})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    seen = run
    while seen["status"] in ("queued", "running") and loop.time() < deadline:
        assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else "the worker died"
        await asyncio.sleep(0.2)
        seen = await matching.call("GET", f"/matching/runs/{run['id']}")
    assert (seen["status"], seen["progress"]) == ("done", 1.0), seen
    assert len(seen["pairs"]) == 2 and {p["mentor_id"] for p in seen["pairs"]} == {mentor}
    assert len(seen["unmatched_mentee_ids"]) == 1 and seen["unmatched_mentee_ids"][0] in mentees
