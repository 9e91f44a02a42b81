"""The notification outbox.

A message is written in the same transaction as the change that causes it, so it
exists exactly when its cause does. The worker claims due messages with
``FOR UPDATE SKIP LOCKED`` and a lease, sends them and records every attempt. Redis
only wakes the worker early: if it is flushed or down, the periodic sweep still
finds every pending row in PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosmtplib
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import queue
from shared.db import Database
from shared.errors import ValidationFailed
from shared.logs import get_logger
from shared.mail import Attachment, MessageNotBuildable, build_message, smtp_client
from shared.models import OutboxAttempt, OutboxMessage, PlatformOutboxMessage
from shared.settings import Settings

log = get_logger(__name__)

MAX_BACKOFF = timedelta(hours=6)


def _valid_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(
        at
        and local
        and "." in domain
        and " " not in address
        and address.isprintable()
        and len(address) <= 320
    )


async def enqueue(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    kind: str,
    to: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> OutboxMessage:
    """Add a message to the outbox inside the caller's transaction; the worker is woken once it
    commits."""
    if not _valid_address(to):
        raise ValidationFailed("not a valid e-mail address", field="to")
    message = OutboxMessage(
        organization_id=org_id,
        kind=kind,
        to_address=to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        attachments=[_stored(a) for a in attachments],
    )
    session.add(message)
    await session.flush()
    queue.wake_outbox(session)
    return message


def _stored(item: Attachment) -> dict[str, str]:
    return {
        "filename": item.filename,
        "content_type": item.content_type,
        "data": base64.b64encode(item.data).decode(),
    }


def _loaded(items: list[dict[str, str]] | None) -> list[Attachment]:
    return [Attachment(i["filename"], i["content_type"], base64.b64decode(i["data"])) for i in items or []]


@dataclass(frozen=True)
class Claimed:
    organization_id: uuid.UUID
    id: uuid.UUID
    attempts: int
    to_address: str
    subject: str
    body_text: str
    body_html: str | None
    attachments: list[dict[str, str]] | None = None


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


# RETURNING comes in whatever order the UPDATE's plan visits the rows, not the claim's: sorted
# again, so a person gets an invitation before its resend as they were written.
_CLAIM = text(
    """
    WITH claimed AS (
        UPDATE outbox SET status = 'sending', attempts = attempts + 1,
                          locked_until = now() + make_interval(secs => :lease)
        WHERE (organization_id, id) IN (
            SELECT organization_id, id FROM outbox
            WHERE (status = 'pending' AND next_attempt_at <= now())
               OR (status = 'sending' AND locked_until < now())
            ORDER BY next_attempt_at
            LIMIT :limit
            FOR UPDATE SKIP LOCKED)
        RETURNING organization_id, id, attempts, to_address, subject, body_text, body_html, attachments,
                  next_attempt_at, created_at)
    SELECT organization_id, id, attempts, to_address, subject, body_text, body_html, attachments
    FROM claimed ORDER BY next_attempt_at, created_at, id
    """
)


async def claim(db: Database, settings: Settings) -> list[Claimed]:
    async with db.system_context("outbox delivery") as session:
        rows = await session.execute(
            _CLAIM, {"lease": settings.outbox_lease_seconds, "limit": settings.outbox_batch_size}
        )
        return [Claimed(**row._mapping) for row in rows]


def backoff(settings: Settings, attempts: int) -> timedelta:
    delay = timedelta(seconds=settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0))
    delay = min(delay, MAX_BACKOFF)
    return delay * random.uniform(0.9, 1.1)


async def _record(
    db: Database,
    settings: Settings,
    message: Claimed,
    *,
    worker: str,
    started: datetime,
    error: str | None,
    permanent: bool = False,
) -> str:
    """Write the outcome, unless another worker took the message over after our lease ran out.

    A ``permanent`` error (the message cannot be built) fails the message at once: retrying
    would fail the same way.
    """
    now = datetime.now(UTC)
    async with db.system_context("outbox delivery") as session:
        row = (
            await session.execute(
                select(OutboxMessage)
                .where(
                    OutboxMessage.organization_id == message.organization_id,
                    OutboxMessage.id == message.id,
                    OutboxMessage.status == "sending",
                    OutboxMessage.attempts == message.attempts,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        session.add(
            OutboxAttempt(
                organization_id=message.organization_id,
                message_id=message.id,
                worker=worker,
                started_at=started,
                finished_at=now,
                outcome="error" if error else "sent",
                error=error,
            )
        )
        if row is None:
            return "superseded"
        row.locked_until = None
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
            return "sent"
        row.last_error = error
        if permanent or message.attempts >= settings.outbox_max_attempts:
            row.status = "failed"
            return "failed"
        row.status = "pending"
        row.next_attempt_at = now + backoff(settings, message.attempts)
        return "retried"


async def _send(
    client: aiosmtplib.SMTP, settings: Settings, message: Claimed, connect_error: str | None
) -> tuple[str | None, bool]:
    """Send one message: (error or None, whether the error is permanent).

    Whatever goes wrong with one message stays with that message, so one organisation's bad
    data never holds back the others' mail claimed in the same batch.
    """
    try:
        built = build_message(
            settings,
            message_id=str(message.id),
            to=message.to_address,
            subject=message.subject,
            body_text=message.body_text,
            body_html=message.body_html,
            attachments=_loaded(message.attachments),
        )
    except MessageNotBuildable as exc:
        return f"cannot be written as e-mail: {exc}", True
    if connect_error is not None:
        return connect_error, False
    try:
        await client.send_message(built)
    except (aiosmtplib.SMTPException, OSError) as exc:
        if not client.is_connected:
            # The next message gets a fresh connection instead of the broken one.
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.connect()
        return f"{type(exc).__name__}: {exc}", False
    except Exception as exc:  # e.g. an address aiosmtplib cannot encode: no retry will help
        return f"{type(exc).__name__}: {exc}", True
    return None, False


async def deliver_due(db: Database, settings: Settings, *, worker: str) -> DeliveryReport:
    """Claim one batch of due messages and send them over one SMTP connection."""
    report = DeliveryReport()
    batch = await claim(db, settings)
    report.claimed = len(batch)
    if not batch:
        return report
    client = smtp_client(settings)
    connect_error: str | None = None
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        connect_error = f"cannot reach the SMTP server: {type(exc).__name__}: {exc}"
    try:
        for message in batch:
            started = datetime.now(UTC)
            error, permanent = await _send(client, settings, message, connect_error)
            outcome = await _record(
                db, settings, message, worker=worker, started=started, error=error, permanent=permanent
            )
            log.info(
                "outbox message",
                message_id=str(message.id),
                org_id=str(message.organization_id),
                attempt=message.attempts,
                outcome=outcome,
            )
            if outcome == "sent":
                report.sent += 1
            elif outcome == "retried":
                report.retried += 1
            elif outcome == "failed":
                report.failed += 1
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
    return report


async def purge_delivered_bodies(db: Database, settings: Settings, now: datetime) -> int:
    """Drop body and attachments of mail delivered longer ago than the retention period; the row
    stays as the record of the delivery. Idempotent."""
    cutoff = now - timedelta(days=settings.outbox_body_retention_days)
    async with db.system_context("outbox body retention") as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "sent",
                OutboxMessage.sent_at < cutoff,
                OutboxMessage.body_purged_at.is_(None),
            )
            .values(body_text="", body_html=None, attachments=[], body_purged_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the platform's own mail


async def enqueue_platform(
    session: AsyncSession, *, kind: str, to: str, subject: str, body_text: str
) -> uuid.UUID:
    """A message of the platform itself (no organisation), in the caller's platform transaction."""
    if not _valid_address(to):
        raise ValidationFailed("not a valid e-mail address", field="to")
    message = PlatformOutboxMessage(kind=kind, to_address=to, subject=subject, body_text=body_text)
    session.add(message)
    await session.flush()
    queue.wake_outbox(session)
    return message.id


_CLAIM_PLATFORM = text(
    """
    UPDATE platform_outbox SET status = 'sending', attempts = attempts + 1,
                               locked_until = now() + make_interval(secs => :lease)
    WHERE id IN (
        SELECT id FROM platform_outbox
        WHERE (status = 'pending' AND next_attempt_at <= now())
           OR (status = 'sending' AND locked_until < now())
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    RETURNING id, attempts, to_address, subject, body_text
    """
)


async def deliver_platform_due(db: Database, settings: Settings, *, worker: str) -> DeliveryReport:
    """The platform's messages go the same way as an organisation's: claimed with a lease, sent
    over the same SMTP settings, retried with the same back-off."""
    report = DeliveryReport()
    async with db.platform() as session:
        batch = list(
            await session.execute(
                _CLAIM_PLATFORM, {"lease": settings.outbox_lease_seconds, "limit": settings.outbox_batch_size}
            )
        )
    report.claimed = len(batch)
    if not batch:
        return report
    client = smtp_client(settings)
    try:
        await client.connect()
        connect_error = None
    except (aiosmtplib.SMTPException, OSError) as exc:
        connect_error = f"cannot reach the SMTP server: {type(exc).__name__}: {exc}"
    try:
        for row in batch:
            error = connect_error
            if error is None:
                try:
                    await client.send_message(
                        build_message(
                            settings,
                            message_id=str(row.id),
                            to=row.to_address,
                            subject=row.subject,
                            body_text=row.body_text,
                            body_html=None,
                        )
                    )
                except (aiosmtplib.SMTPException, OSError, MessageNotBuildable) as exc:
                    error = f"{type(exc).__name__}: {exc}"
            now = datetime.now(UTC)
            async with db.platform() as session:
                message = await session.get(PlatformOutboxMessage, row.id, with_for_update=True)
                if message is None or message.status != "sending" or message.attempts != row.attempts:
                    continue
                message.locked_until = None
                if error is None:
                    message.status, message.sent_at, message.last_error = "sent", now, None
                    report.sent += 1
                elif row.attempts >= settings.outbox_max_attempts:
                    message.status, message.last_error = "failed", error
                    report.failed += 1
                else:
                    message.status, message.last_error = "pending", error
                    message.next_attempt_at = now + backoff(settings, row.attempts)
                    report.retried += 1
            log.info("platform outbox message", message_id=str(row.id), worker=worker, sent=error is None)
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
    return report


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    failed: int
    oldest_pending_age: float | None


async def outbox_stats(db: Database) -> OutboxStats:
    """Counts across all organisations, for monitoring only (no message content leaves this)."""
    pending = OutboxMessage.status.in_(("pending", "sending"))
    async with db.system_context("outbox monitoring") as session:
        row = (
            await session.execute(
                select(
                    func.count().filter(pending),
                    func.count().filter(OutboxMessage.status == "failed"),
                    func.min(OutboxMessage.created_at).filter(pending),
                )
            )
        ).one()
    oldest = row[2]
    return OutboxStats(
        pending=row[0],
        failed=row[1],
        oldest_pending_age=None if oldest is None else (datetime.now(UTC) - oldest).total_seconds(),
    )
