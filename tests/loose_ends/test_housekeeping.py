"""Housekeeping by the worker's jobs with a controllable clock: stale invitations are purged per
organisation, delivered mail loses its body after the retention period but keeps its record."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import select, update

from services.worker.jobs import collect
from services.worker.jobs import housekeeping as jobs
from shared import outbox
from shared.db import Database
from shared.identity import members
from shared.identity.models import Invitation
from shared.mail import Attachment
from shared.models import Organization, OutboxAttempt, OutboxMessage
from shared.settings import Settings
from tests.conftest import Mailbox, Org


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_dsn))
    yield pool
    await pool.aclose()


def test_the_worker_runs_the_housekeeping_on_a_schedule() -> None:
    functions, cron_jobs = collect()
    assert jobs.PURGE_INVITATIONS in {f.name for f in functions}
    assert {"scan_invitation_purge", "purge_outbox_bodies"} <= {c.name for c in cron_jobs}


async def test_stale_invitations_are_purged_a_month_after_they_ran_out(
    db: Database, settings: Settings, org_a: Org, arq_redis: ArqRedis
) -> None:
    async with db.tenant(org_a.id) as session:
        org = await session.get(Organization, org_a.id)
        assert org is not None
        for who in ("old", "kept"):
            await members.invite(
                session,
                settings,
                org,
                members.SYSTEM_ACTOR,
                email=f"{who}-{org_a.slug}@example.org",
                role="viewer",
            )
        # One was sent long ago and ran out 40 days before now.
        await session.execute(
            update(Invitation)
            .where(Invitation.email == f"old-{org_a.slug}@example.org")
            .values(expires_at=datetime.now(UTC) - timedelta(days=40))
        )
    ctx: dict[str, Any] = {"db": db, "settings": settings, "redis": arq_redis, "worker_name": "test"}
    assert await jobs.scan_invitations(ctx) >= 1
    assert await jobs.purge_invitations(ctx, str(org_a.id)) == 1
    assert await jobs.purge_invitations(ctx, str(org_a.id)) == 0

    async def left() -> list[str]:
        async with db.tenant(org_a.id) as session:
            return sorted((await session.execute(select(Invitation.email))).scalars())

    assert await left() == [f"kept-{org_a.slug}@example.org"]
    # Forty days on, the other one has run out (7 days) and waited its month too.
    ctx["clock"] = lambda: datetime.now(UTC) + timedelta(days=40)
    assert org_a.id in await members.organisations_with_stale_invitations(db, jobs.now_of(ctx))
    assert await jobs.purge_invitations(ctx, str(org_a.id)) == 1
    assert await left() == []


async def test_delivered_mail_loses_its_body_after_the_retention_period_and_keeps_its_record(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    tag = uuid.uuid4().hex[:8]
    old, fresh = f"old-{tag}@example.org", f"fresh-{tag}@example.org"
    async with db.tenant(org_a.id) as session:
        for to in (old, fresh):
            await outbox.enqueue(
                session,
                org_a.id,
                kind="test",
                to=to,
                subject="Kennenlernen",
                body_text="Hallo Aylin, wir laden dich ein.",
                body_html="<p>Hallo Aylin</p>",
                attachments=[Attachment("termin.ics", "text/calendar; method=REQUEST", b"BEGIN:VCALENDAR")],
            )
    await outbox.deliver_due(db, settings, worker="test")
    await mailbox.wait_for(old)
    await mailbox.wait_for(fresh)
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.to_address == old)
            .values(sent_at=datetime.now(UTC) - timedelta(days=settings.outbox_body_retention_days + 1))
        )
    ctx: dict[str, Any] = {"db": db, "settings": settings, "worker_name": "test"}
    assert await jobs.purge_outbox_bodies(ctx) >= 1

    async def rows() -> dict[str, OutboxMessage]:
        async with db.tenant(org_a.id) as session:
            found = (
                await session.execute(select(OutboxMessage).where(OutboxMessage.to_address.in_([old, fresh])))
            ).scalars()
            return {m.to_address: m for m in found}

    gone, kept = (await rows())[old], (await rows())[fresh]
    assert (gone.body_text, gone.body_html, gone.attachments) == ("", None, [])
    assert gone.status == "sent" and gone.sent_at is not None and gone.to_address == old
    assert gone.subject == "Kennenlernen" and gone.body_purged_at is not None
    async with db.tenant(org_a.id) as session:
        attempts = (
            await session.execute(select(OutboxAttempt.outcome).where(OutboxAttempt.message_id == gone.id))
        ).scalars()
        assert list(attempts) == ["sent"]
    assert kept.body_text.startswith("Hallo Aylin") and len(kept.attachments) == 1
    # Once the clock has passed the period for the other one as well, it goes too; nothing twice.
    ctx["clock"] = lambda: datetime.now(UTC) + timedelta(days=settings.outbox_body_retention_days + 1)
    assert await jobs.purge_outbox_bodies(ctx) >= 1
    assert (await rows())[fresh].body_text == ""
    ctx["clock"] = None
    purged_at = (await rows())[old].body_purged_at
    await jobs.purge_outbox_bodies(ctx)
    assert (await rows())[old].body_purged_at == purged_at
