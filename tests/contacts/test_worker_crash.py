"""An import whose worker process is killed (SIGKILL) mid-way: no half batch, and it resumes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from shared.contacts.models import Contact, Import, ImportRow
from shared.db import Database
from shared.settings import Settings
from tests.conftest import Org, settings_env
from tests.contacts.test_imports import big_csv, upload

pytestmark = pytest.mark.slow

ROWS = 4000
BATCH = 100


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = settings_env(settings) | {"CODO_WORKER_NAME": f"crash-{uuid.uuid4().hex[:6]}"}
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def state(db: Database, org: Org, import_id: str) -> tuple[str, int, int, int]:
    async with db.tenant(org.id) as session:
        imp = (
            await session.execute(select(Import.status, Import.processed_rows).where(Import.id == import_id))
        ).one()
        contacts = (await session.execute(select(func.count()).select_from(Contact))).scalar_one()
        rows = (await session.execute(select(func.count(func.distinct(ImportRow.row_number))))).scalar_one()
    return str(imp.status), int(imp.processed_rows), int(contacts), int(rows)


async def wait_for(
    db: Database, org: Org, import_id: str, done: Any, timeout: float = 90
) -> tuple[str, int, int, int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        current = await state(db, org, import_id)
        if done(current):
            return current
        await asyncio.sleep(0.02)
    raise AssertionError(f"gave up waiting; last state {current}")


async def test_a_killed_worker_leaves_whole_batches_and_a_new_worker_resumes(
    client: AsyncTestClient[Any], db: Database, settings: Settings, org_a: Org
) -> None:
    r = await upload(client, org_a, big_csv(ROWS), "gross.csv", batch_size=str(BATCH))
    import_id = r.json()["id"]
    r = await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/commit", headers=org_a.auth())
    assert r.status_code == 202

    worker = start_worker(settings)
    try:
        await wait_for(db, org_a, import_id, lambda s: s[1] >= 3 * BATCH)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    await asyncio.sleep(0.5)  # PostgreSQL notices the lost connection and rolls its transaction back
    status, processed, contacts, rows = await state(db, org_a, import_id)
    assert processed < ROWS, "the worker finished before it was killed: nothing was tested"
    assert status == "running"
    assert processed % BATCH == 0 and contacts == processed == rows, (processed, contacts, rows)

    r = await client.post(f"/api/v1/orgs/{org_a.slug}/imports/{import_id}/commit", headers=org_a.auth())
    assert r.status_code == 202
    worker = start_worker(settings)
    try:
        final = await wait_for(db, org_a, import_id, lambda s: s[0] != "running")
    finally:
        worker.terminate()
        worker.wait(20)
    assert final == ("done", ROWS, ROWS, ROWS)
