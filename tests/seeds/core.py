"""Core tables: memberships and api_tokens come from create_org; the outbox and its attempts here."""

from __future__ import annotations

from datetime import UTC, datetime

from shared import outbox
from shared.db import Database
from shared.models import OutboxAttempt
from tests.conftest import Org


async def seed(db: Database, org: Org) -> None:
    async with db.tenant(org.id) as session:
        message = await outbox.enqueue(
            session, org.id, kind="test", to=f"someone@{org.slug}.example", subject="s", body_text="b"
        )
        now = datetime.now(UTC)
        session.add(
            OutboxAttempt(
                organization_id=org.id,
                message_id=message.id,
                worker="w",
                started_at=now,
                finished_at=now,
                outcome="sent",
            )
        )
