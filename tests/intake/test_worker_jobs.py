"""The worker's intake jobs: a scan fans out one job per organisation; each job is idempotent."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import select, update

from services.worker.jobs import collect
from services.worker.jobs import intake as jobs
from shared import clock
from shared.db import Database
from shared.intake import vocab
from shared.intake.models import IntakeSubmission
from shared.settings import Settings
from shared.tasks.models import Task
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.intake.test_public_forms import answers, make_form, stamp


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_dsn))
    yield pool
    await pool.aclose()


def test_the_worker_knows_the_intake_jobs() -> None:
    functions, cron_jobs = collect()
    names = {f.name for f in functions}
    assert {jobs.CERTIFICATE_REMINDERS, jobs.PURGE_SUBMISSIONS} <= names
    assert {"scan_certificate_reminders", "scan_intake_purge"} <= {c.name for c in cron_jobs}


async def test_certificate_reminders_fan_out_and_remind_once(
    intake: IntakeApi, org_a: Org, db: Database, settings: Settings, arq_redis: ArqRedis
) -> None:
    programme = await intake.programme()
    await intake.steps(programme)
    mentor = await intake.person("mentor", "Hanna", programme)
    issued = clock.today() - timedelta(days=5 * 366)
    body = {
        "contact_id": mentor,
        "seen": True,
        "has_relevant_entries": False,
        "issued_on": issued.isoformat(),
    }
    await intake.call("POST", "/screening/certificates", json=body, expect=201)
    ctx: dict[str, Any] = {"db": db, "settings": settings, "redis": arq_redis, "worker_name": "test"}

    assert await jobs.scan_certificates(ctx) >= 1
    job_key = f"arq:job:certificate-reminders:{org_a.id}:{vocab.today().isoformat()}"
    assert await arq_redis.exists(job_key)
    assert await jobs.certificate_reminders(ctx, str(org_a.id)) == 1
    assert await jobs.certificate_reminders(ctx, str(org_a.id)) == 0
    async with db.tenant(org_a.id) as session:
        tasks = (await session.execute(select(Task.title, Task.contact_id))).all()
    assert [(t.title, str(t.contact_id)) for t in tasks] == [
        ("Führungszeugnis erneut einsehen: Hanna Muster", mentor)
    ]


async def test_the_purge_job_deletes_only_what_ran_out(
    client: Any, intake: IntakeApi, org_a: Org, db: Database, settings: Settings, arq_redis: ArqRedis
) -> None:
    form = await make_form(intake, confirm_within_hours=2)
    old, fresh = (f"{name}-{secrets.token_hex(3)}@example.org" for name in ("alt", "neu"))
    for email in (old, fresh):
        sent = {**answers(email), "_stamp": stamp(settings, org_a, form)}
        assert (await client.post(f"/f/{org_a.slug}/mentoren", data=sent)).status_code == 200
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(IntakeSubmission)
            .where(IntakeSubmission.email == old)
            .values(created_at=datetime.now(UTC) - timedelta(hours=3))
        )
    ctx: dict[str, Any] = {"db": db, "settings": settings, "redis": arq_redis, "worker_name": "test"}
    assert await jobs.scan_submissions(ctx) >= 1
    assert await jobs.purge_submissions(ctx, str(org_a.id)) == 1
    assert await jobs.purge_submissions(ctx, str(org_a.id)) == 0
    async with db.tenant(org_a.id) as session:
        left = (await session.execute(select(IntakeSubmission.email))).scalars().all()
    assert left == [fresh]
