"""Identity tables.

``identities`` is a platform table: a person is recognised by the (issuer, subject) pair their
identity provider asserts, never by e-mail. The other tables belong to one organisation each.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.ids import new_id
from shared.models import Base, TenantBase


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_signin_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdentityProvider(TenantBase):
    """An organisation's own OpenID Connect provider and who may join through it."""

    __tablename__ = "identity_providers"
    # One provider per organisation: its sign-in page offers it next to the platform's.
    __table_args__ = (UniqueConstraint("organization_id"),)

    label: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # AES-GCM under a key derived from CODO_SECRET_KEY, bound to the organisation (shared.identity.crypto).
    client_secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # Empty: any domain may sign in (members still need an invitation).
    allowed_domains: Mapped[list[str]] = mapped_column(ARRAY(String(253)), server_default="{}")
    # Set: a first sign-in from an allowed domain joins with this role, without an invitation.
    auto_join_role: Mapped[str | None] = mapped_column(String(16))
    group_claim: Mapped[str | None] = mapped_column(String(100))
    # {"group name": "role"}; the highest role among a person's groups wins at each sign-in.
    group_roles: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # False: a sign-in without the email_verified claim is accepted (the claim set to false never is).
    require_email_verified: Mapped[bool] = mapped_column(Boolean, server_default="true", default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Invitation(TenantBase):
    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("organization_id", "token_hash"),
        ForeignKeyConstraint(
            ["organization_id", "invited_by_membership_id"],
            ["memberships.organization_id", "memberships.id"],
            name="fk_invitations_invited_by_membership",
        ),
        ForeignKeyConstraint(
            ["organization_id", "accepted_membership_id"],
            ["memberships.organization_id", "memberships.id"],
            name="fk_invitations_accepted_membership",
        ),
        Index("ix_invitations_organization_id_email", "organization_id", "email"),
    )

    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    # sha256 of the link's secret; the secret itself is only ever in the e-mail.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    invited_by_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    accepted_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_count: Mapped[int] = mapped_column(Integer, server_default="1")
    last_sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
