"""The change history: one row per create, change, delete, export or erasure, and per membership,
token or sign-in change.

Who acted and what they acted on are copied as values (ids and a label), not referenced: the
history outlives the members, tokens and records it names.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import TenantBase


class HistoryEntry(TenantBase):
    __tablename__ = "history"
    __table_args__ = (
        Index("ix_history_organization_id_at", "organization_id", "at"),
        Index("ix_history_organization_id_entity_entity_id", "organization_id", "entity", "entity_id"),
        Index("ix_history_contact_ids", "contact_ids", postgresql_using="gin"),
        Index("ix_history_organization_id_match_id", "organization_id", "match_id"),
        Index("ix_history_organization_id_actor_membership_id", "organization_id", "actor_membership_id"),
    )

    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_kind: Mapped[str] = mapped_column(String(10))  # member | token | system
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_membership_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_token_id: Mapped[uuid.UUID | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(200), server_default="")
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(40))
    # The people the entry is about (a match names two) and the match, for their pages.
    contact_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()), server_default="{}")
    match_id: Mapped[uuid.UUID | None] = mapped_column()
    # A label of the target where the record has no page of its own (an e-mail address, a token's name).
    target: Mapped[str] = mapped_column(String(320), server_default="")
    # {field: [old, new]}; personal values are replaced by a mark when the person is erased.
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    scrubbed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
