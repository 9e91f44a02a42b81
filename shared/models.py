"""Typed SQLAlchemy models.

Platform tables (``organizations``, ``users``) have a plain ``id`` key. Tenant tables
inherit :class:`TenantBase`: ``(organization_id, id)`` primary key, composite foreign
keys that include ``organization_id``, and row-level security (written by the migrations).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.ids import new_id

# column_0_N_name: composite constraints need every column in the name to stay unique.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def now_column() -> Mapped[datetime]:
    """A timestamp column that the database fills with the time of the insert."""
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def tenant_fk(
    columns: list[str], target: str, name: str, ondelete: str | None = "CASCADE"
) -> ForeignKeyConstraint:
    """A reference to another tenant table, always through ``organization_id`` too."""
    return ForeignKeyConstraint(
        ["organization_id", *columns],
        [f"{target}.organization_id", f"{target}.id"],
        name=name,
        ondelete=ondelete,
    )


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = now_column()
    # The organisation's own legal pages, linked from its public forms (migration 0012).
    privacy_url: Mapped[str | None] = mapped_column(String(500))
    imprint_url: Mapped[str | None] = mapped_column(String(500))
    # The admins agreed to contribute anonymised aggregates to cross-organisation benchmarks.
    benchmarks_opt_in: Mapped[bool] = mapped_column(Boolean, server_default="false")


class User(Base):
    """A platform-level identity; what it may do lives in its memberships."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), server_default="")
    locale: Mapped[str] = mapped_column(String(8), server_default="de")
    created_at: Mapped[datetime] = now_column()


class TenantBase(Base):
    __abstract__ = True

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class Membership(TenantBase):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = now_column()


class ApiToken(TenantBase):
    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("organization_id", "token_hash"),
        ForeignKeyConstraint(
            ["organization_id", "created_by_membership_id"],
            ["memberships.organization_id", "memberships.id"],
            name="fk_api_tokens_created_by_membership",
        ),
        ForeignKeyConstraint(
            ["organization_id", "created_by_token_id"],
            ["api_tokens.organization_id", "api_tokens.id"],
            name="fk_api_tokens_created_by_token",
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    # sha256 of the whole token: tokens carry 256 bits of randomness, so a fast hash is enough.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # The first characters of the secret, to tell tokens apart in a list.
    hint: Mapped[str] = mapped_column(String(16))
    # Who created it: a member, another token, or (both empty) the operator's CLI.
    created_by_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by_token_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = now_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxMessage(TenantBase):
    """An e-mail waiting to be delivered, written in the transaction of its cause."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )

    kind: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # [{"filename", "content_type", "data" (base64)}], e.g. an appointment's .ics (migration 0012)
    attachments: Mapped[list[dict[str, str]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # When the retention period dropped body and attachments; the delivery record stays.
    body_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # pending -> sending (leased by one worker) -> sent | failed
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = now_column()
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PlatformOutboxMessage(Base):
    """An e-mail of the platform itself, not of an organisation (the operator's test mail): no
    tenant key, and no personal data of any organisation (migration 0012)."""

    __tablename__ = "platform_outbox"
    __table_args__ = (
        Index(
            "ix_platform_outbox_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(50))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = now_column()
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = now_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxAttempt(TenantBase):
    __tablename__ = "outbox_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "message_id"],
            ["outbox.organization_id", "outbox.id"],
            ondelete="CASCADE",
            name="fk_outbox_attempts_message",
        ),
        Index("ix_outbox_attempts_message", "organization_id", "message_id"),
    )

    message_id: Mapped[uuid.UUID] = mapped_column()
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(10))  # sent | error
    error: Mapped[str | None] = mapped_column(Text)


class ChangeCounter(TenantBase):
    """A per-organisation revision of one topic, bumped by database triggers in every
    transaction that writes what the topic was built from (see migration 0019).

    A cache keyed by the revision is fresh after one primary-key lookup, however large
    the organisation: ``id`` names the topic (e.g. the matching pools).
    """

    __tablename__ = "change_counters"

    revision: Mapped[int] = mapped_column(BigInteger, server_default="0")


def load_all_models() -> None:
    """Import every domain's model module (``shared/<domain>/models.py`` or ``shared/<domain>_models.py``).

    The metadata, alembic and the isolation tests then know every table without a list to keep.
    """
    import importlib
    import pkgutil

    import shared

    for info in pkgutil.walk_packages(shared.__path__, "shared."):
        if info.name.endswith((".models", "_models")):
            importlib.import_module(info.name)


def tenant_tables() -> tuple[str, ...]:
    load_all_models()
    return tuple(t.name for t in Base.metadata.sorted_tables if "organization_id" in t.c)
