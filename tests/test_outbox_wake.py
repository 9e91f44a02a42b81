"""Mail caused by a request leaves within seconds of the commit, not at the worker's next sweep."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from shared import outbox, queue
from shared.contacts.models import Consent
from shared.contacts.vocab import EMAIL_CONSENT
from shared.db import Database
from shared.permissions import Role
from shared.settings import Settings
from tests.conftest import Mailbox, Org, settings_env
from tests.fixtures.tasks import make_contact


@pytest.mark.slow
async def test_an_invitation_is_delivered_within_seconds_of_the_commit(
    client: AsyncTestClient[Any], db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    # The sweep runs once a minute (second 0) and at start: only the wake can be faster.
    env = settings_env(msgspec.structs.replace(settings, worker_name="wake-test", outbox_poll_seconds=60))
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        ready = f"ready-{uuid.uuid4().hex[:8]}@example.org"
        async with db.tenant(org_a.id) as session:
            await outbox.enqueue(session, org_a.id, kind="test", to=ready, subject="ready", body_text=".")
        # The worker is up once it takes a job: this one is woken by the commit above.
        queue.configure(settings.redis_dsn)
        await queue.send(queue.DELIVER_OUTBOX, job_id=queue.DELIVER_OUTBOX_ID)
        await mailbox.wait_for(ready, timeout=60)
        while not 3 <= datetime.now(UTC).second <= 45:  # well away from the minute's sweep
            await asyncio.sleep(0.5)

        to = f"family-{uuid.uuid4().hex[:8]}@example.org"
        async with db.tenant(org_a.id) as session:
            contact = await make_contact(session, org_a.id)
            contact.email = to
            session.add(
                Consent(
                    organization_id=org_a.id,
                    contact_id=contact.id,
                    purpose=EMAIL_CONSENT,
                    status="given",
                    effective_on=date(2026, 1, 1),
                )
            )
        starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        started = time.monotonic()
        r = await client.post(
            f"/api/v1/orgs/{org_a.slug}/appointments",
            json={
                "title": "Kennenlernen",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
                "contact_ids": [str(contact.id)],
            },
            headers=org_a.auth(Role.COORDINATOR),
        )
        assert r.status_code == 201, r.text
        await mailbox.wait_for(to, timeout=10)
        seconds = time.monotonic() - started
        print(f"\ninvitation delivered {seconds:.2f} s after the request (sweep: every 60 s)")
        assert seconds < 5
    finally:
        worker.terminate()
        worker.wait(15)
