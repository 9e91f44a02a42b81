"""Intake: certificate re-inspection reminders and the purge of unconfirmed sign-ups.

Each cron tick finds the organisations with something to do (system context) and enqueues one
job per organisation; the jobs are idempotent (a ledger for reminders, a plain delete for the
purge), so a tick that runs twice does nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from arq import cron
from arq.worker import func

from shared import queue
from shared.db import Database
from shared.intake import forms, reminders, vocab
from shared.settings import Settings

CERTIFICATE_REMINDERS = queue.INTAKE_CERTIFICATE_REMINDERS
PURGE_SUBMISSIONS = queue.INTAKE_PURGE_SUBMISSIONS
DELIVER_OUTBOX = queue.DELIVER_OUTBOX


async def scan_certificates(ctx: dict[str, Any]) -> int:
    db: Database = ctx["db"]
    orgs = await reminders.organisations_with_open_inspections(db)
    day = vocab.today().isoformat()
    for org_id in orgs:
        await ctx["redis"].enqueue_job(
            CERTIFICATE_REMINDERS, str(org_id), _job_id=f"certificate-reminders:{org_id}:{day}"
        )
    return len(orgs)


async def certificate_reminders(ctx: dict[str, Any], org_id: str) -> int:
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    report = await reminders.send_due(db, uuid.UUID(org_id), vocab.today(), settings.public_url)
    if report.created:
        # Assigned tasks notify their assignee through the outbox.
        await ctx["redis"].enqueue_job(DELIVER_OUTBOX, _job_id=queue.DELIVER_OUTBOX_ID)
    return report.created


async def scan_submissions(ctx: dict[str, Any]) -> int:
    db: Database = ctx["db"]
    now = datetime.now(UTC)
    orgs = await forms.organisations_with_expired_submissions(db, now)
    tick = int(now.timestamp()) // 3600
    for org_id in orgs:
        await ctx["redis"].enqueue_job(
            PURGE_SUBMISSIONS, str(org_id), _job_id=f"intake-purge:{org_id}:{tick}"
        )
    return len(orgs)


async def purge_submissions(ctx: dict[str, Any], org_id: str) -> int:
    db: Database = ctx["db"]
    return await forms.purge_unconfirmed(db, uuid.UUID(org_id), datetime.now(UTC))


FUNCTIONS = [
    func(certificate_reminders, name=CERTIFICATE_REMINDERS, keep_result=0, max_tries=5),
    func(purge_submissions, name=PURGE_SUBMISSIONS, keep_result=0, max_tries=5),
]

CRON_JOBS = [
    cron(scan_certificates, name="scan_certificate_reminders", hour={5}, minute={30}, keep_result=0),
    # Every 10 minutes: an unconfirmed sign-up outlives its deadline by at most that long.
    cron(scan_submissions, name="scan_intake_purge", minute=set(range(3, 60, 10)), keep_result=0),
]
