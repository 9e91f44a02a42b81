"""The outbox: delivered once over real SMTP, never for a rolled-back cause, retried, shared by workers."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller
from sqlalchemy import select

from services.localstack import free_port
from services.worker.main import deliver_outbox
from shared import outbox
from shared.db import Database
from shared.models import OutboxAttempt, OutboxMessage
from shared.settings import Settings
from tests.conftest import Mailbox, Org, Servers, make_settings, settings_env


def address(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@mentee.example"


async def queue(db: Database, org: Org, to: str, subject: str = "Hallo") -> OutboxMessage:
    async with db.tenant(org.id) as session:
        return await outbox.enqueue(
            session,
            org.id,
            kind="test",
            to=to,
            subject=subject,
            body_text="Grüße aus codo",
            body_html="<p>Grüße aus codo</p>",
        )


async def message_row(db: Database, org: Org, message_id: object) -> OutboxMessage:
    async with db.tenant(org.id) as session:
        return (
            await session.execute(select(OutboxMessage).where(OutboxMessage.id == message_id))
        ).scalar_one()


async def attempts_of(db: Database, org: Org, message_id: object) -> list[OutboxAttempt]:
    async with db.tenant(org.id) as session:
        rows = await session.execute(
            select(OutboxAttempt)
            .where(OutboxAttempt.message_id == message_id)
            .order_by(OutboxAttempt.started_at)
        )
        return list(rows.scalars())


async def test_a_committed_message_is_delivered_once(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    to = address("once")
    message = await queue(db, org_a, to, subject="Willkommen bei codo")
    await outbox.deliver_due(db, settings, worker="test")
    await outbox.deliver_due(db, settings, worker="test")
    [received] = await mailbox.wait_for(to)
    assert received["Subject"] == "Willkommen bei codo"
    assert received["Message-ID"] == f"<{message.id}@codo>"
    assert received.is_multipart()  # plain text and HTML
    row = await message_row(db, org_a, message.id)
    assert (row.status, row.attempts) == ("sent", 1) and row.sent_at is not None
    assert [a.outcome for a in await attempts_of(db, org_a, message.id)] == ["sent"]


async def test_a_rolled_back_cause_sends_nothing(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    to = address("rollback")
    with pytest.raises(RuntimeError):
        async with db.tenant(org_a.id) as session:
            await outbox.enqueue(session, org_a.id, kind="test", to=to, subject="x", body_text="x")
            raise RuntimeError("the change that caused the message failed")
    await outbox.deliver_due(db, settings, worker="test")
    await asyncio.sleep(0.3)
    assert mailbox.to(to) == []
    async with db.tenant(org_a.id) as session:
        assert (
            await session.execute(select(OutboxMessage).where(OutboxMessage.to_address == to))
        ).first() is None


async def test_retries_while_smtp_is_down_then_delivers(db: Database, servers: Servers, org_a: Org) -> None:
    port = free_port()
    settings = make_settings(servers, port, outbox_backoff_seconds=1)
    to = address("retry")
    message = await queue(db, org_a, to)
    await outbox.deliver_due(db, settings, worker="test")
    row = await message_row(db, org_a, message.id)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at > datetime.now(UTC)
    assert "SMTP" in (row.last_error or "")

    box = Mailbox()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    try:
        for _ in range(50):
            await outbox.deliver_due(db, settings, worker="test")
            if box.to(to):
                break
            await asyncio.sleep(0.1)
        assert len(box.to(to)) == 1
    finally:
        server.stop()
    row = await message_row(db, org_a, message.id)
    assert row.status == "sent" and row.last_error is None
    outcomes = [a.outcome for a in await attempts_of(db, org_a, message.id)]
    assert outcomes[-1] == "sent" and set(outcomes[:-1]) == {"error"}


async def test_gives_up_after_the_last_attempt(db: Database, servers: Servers, org_a: Org) -> None:
    settings = make_settings(servers, free_port(), outbox_backoff_seconds=1, outbox_max_attempts=2)
    message = await queue(db, org_a, address("give-up"))
    for _ in range(60):
        await outbox.deliver_due(db, settings, worker="test")
        if (await message_row(db, org_a, message.id)).status == "failed":
            break
        await asyncio.sleep(0.1)
    row = await message_row(db, org_a, message.id)
    assert (row.status, row.attempts) == ("failed", 2)
    assert len(await attempts_of(db, org_a, message.id)) == 2


async def test_two_concurrent_deliverers_send_each_message_once(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org, org_b: Org
) -> None:
    second = Database.from_settings(settings)
    try:
        sent = [address("pair") for _ in range(40)]
        for i, to in enumerate(sent):
            await queue(db, org_a if i % 2 else org_b, to)
        small = make_settings_like(settings, outbox_batch_size=5)
        for _ in range(10):
            await asyncio.gather(
                outbox.deliver_due(db, small, worker="one"), outbox.deliver_due(second, small, worker="two")
            )
        for to in sent:
            await mailbox.wait_for(to)
        await asyncio.sleep(0.3)
        assert Counter(m["To"] for m in mailbox.messages if m["To"] in sent) == dict.fromkeys(sent, 1)
    finally:
        await second.dispose()


def make_settings_like(settings: Settings, **changes: object) -> Settings:
    import msgspec

    return msgspec.structs.replace(settings, **changes)


@pytest.mark.slow
async def test_two_worker_processes_deliver_each_row_exactly_once_even_after_redis_is_flushed(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org, org_b: Org
) -> None:
    workers = []
    for name in ("worker-1", "worker-2"):
        env = settings_env(make_settings_like(settings, worker_name=name, outbox_batch_size=7))
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "services.cli", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    try:
        first = [address("procs") for _ in range(30)]
        for i, to in enumerate(first):
            await queue(db, org_a if i % 2 else org_b, to)
        r = aioredis.from_url(settings.redis_dsn)
        await r.flushall()  # the queue is lost; the rows in PostgreSQL are not
        await r.aclose()
        later = [address("after-flush") for _ in range(10)]
        for to in later:
            await queue(db, org_a, to)
        for to in first + later:
            await mailbox.wait_for(to, timeout=30)
        await asyncio.sleep(2.5)  # time for a duplicate to show up, if there were one
        counts = Counter(m["To"] for m in mailbox.messages if m["To"] in first + later)
        assert counts == dict.fromkeys(first + later, 1)
        async with db.system_context("test: delivery check") as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.status, OutboxMessage.attempts).where(
                        OutboxMessage.to_address.in_(first + later)
                    )
                )
            ).all()
        assert {tuple(r) for r in rows} == {("sent", 1)}
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()
    for w in workers:
        assert w.returncode in (0, -15), w.stderr.read().decode() if w.stderr else ""


async def test_a_line_break_in_one_subject_holds_up_nobody_and_an_unwritable_message_fails_alone(
    db: Database, settings: Settings, mailbox: Mailbox, org_a: Org, org_b: Org
) -> None:
    # A title with a line break (typed into an event, task or form) becomes a subject; an address
    # with one (stored before addresses were checked for it) cannot be written as e-mail at all.
    titled = await queue(db, org_a, address("titled"), subject="Treffen\r\nBcc: everyone@evil.example")
    others = [(org, await queue(db, org, address("other"))) for org in (org_b, org_b, org_a)]
    broken = address("broken")
    async with db.tenant(org_a.id) as session:
        unwritable = OutboxMessage(
            organization_id=org_a.id,
            kind="test",
            to_address=f"{broken}\r\nBcc: x@evil.example",
            subject="Hallo",
            body_text="x",
        )
        session.add(unwritable)
    with pytest.raises(Exception, match="e-mail address"):
        await queue(db, org_a, f"{broken}\nBcc: x@evil.example")

    totals = await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})

    assert totals["failed"] == 1 and totals["retried"] == 0
    [received] = await mailbox.wait_for(titled.to_address)
    assert received["Subject"] == "Treffen Bcc: everyone@evil.example"
    assert received["Bcc"] is None and not mailbox.to("everyone@evil.example")
    for org, message in others:
        await mailbox.wait_for(message.to_address)
        assert (await message_row(db, org, message.id)).status == "sent"
    row = await message_row(db, org_a, unwritable.id)
    assert row.status == "failed" and row.attempts == 1
    assert "cannot be written as e-mail" in (row.last_error or "")
    assert not [m for m in mailbox.messages if "evil.example" in str(m["To"])]
