"""Housekeeping: invitations nobody accepted and the bodies of delivered mail do not stay forever.

A cron tick finds the organisations with stale invitations (system context) and enqueues one job
per organisation; the outbox retention is one statement in its own named system context. Every
job is a plain delete or update of what is already past its time, so running twice does nothing
twice. ``ctx["clock"]``, when set, replaces the wall clock (tests move time with it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.worker import func

from shared import outbox
from shared.db import Database
from shared.identity import members
from shared.settings import Settings

PURGE_INVITATIONS = "purge_stale_invitations"


def now_of(ctx: dict[str, Any]) -> datetime:
    clock: Callable[[], datetime] = ctx.get("clock") or (lambda: datetime.now(UTC))
    return clock()


async def scan_invitations(ctx: dict[str, Any]) -> int:
    db: Database = ctx["db"]
    now = now_of(ctx)
    orgs = await members.organisations_with_stale_invitations(db, now)
    day = now.date().isoformat()
    for org_id in orgs:
        await ctx["redis"].enqueue_job(
            PURGE_INVITATIONS, str(org_id), _job_id=f"invitation-purge:{org_id}:{day}"
        )
    return len(orgs)


async def purge_invitations(ctx: dict[str, Any], org_id: str) -> int:
    return await members.purge_stale_invitations(ctx["db"], uuid.UUID(org_id), now_of(ctx))


async def purge_outbox_bodies(ctx: dict[str, Any]) -> int:
    settings: Settings = ctx["settings"]
    return await outbox.purge_delivered_bodies(ctx["db"], settings, now_of(ctx))


FUNCTIONS = [func(purge_invitations, name=PURGE_INVITATIONS, keep_result=0, max_tries=5)]

CRON_JOBS = [
    cron(scan_invitations, name="scan_invitation_purge", hour={3}, minute={10}, keep_result=0),
    # Hourly: a body outlives its retention period by at most an hour.
    cron(purge_outbox_bodies, name="purge_outbox_bodies", minute={25}, keep_result=0, run_at_startup=True),
]
