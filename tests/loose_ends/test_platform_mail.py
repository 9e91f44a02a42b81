"""The operator's test mail: `codo mail test --to` on a platform with many organisations, without
naming one, delivered by the worker's outbox job over the real SMTP server."""

from __future__ import annotations

import secrets
import subprocess
import sys
from typing import Any

from sqlalchemy import select

from services.worker.main import deliver_outbox
from shared.db import Database
from shared.models import PlatformOutboxMessage
from shared.settings import Settings
from tests.conftest import Mailbox, Org, settings_env


async def test_the_platform_test_mail_needs_no_organisation(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org, org_b: Org
) -> None:
    to = f"operator-{secrets.token_hex(3)}@ops.example"
    r = subprocess.run(
        [sys.executable, "-m", "services.cli", "mail", "test", "--to", to],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "queued platform test e-mail" in r.stdout
    ctx: dict[str, Any] = {"db": db, "settings": settings, "worker_name": "test"}
    await deliver_outbox(ctx)
    [message] = await mailbox.wait_for(to)
    assert "Test-E-Mail" in str(message["Subject"])
    async with db.platform() as session:
        row = (
            await session.execute(select(PlatformOutboxMessage).where(PlatformOutboxMessage.to_address == to))
        ).scalar_one()
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None

    bad = subprocess.run(
        [sys.executable, "-m", "services.cli", "mail", "test", "--to", "not-an-address"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and "not a valid e-mail address" in bad.stderr
