"""Loose ends: outbox attachments and body retention, contacts' appointment reminders,
intake's statuses in the contacts' vocabulary, an organisation's legal pages, the platform outbox.

Revision ID: 0012_loose_ends
Revises: 0007_intake
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012_loose_ends"
down_revision: str | None = "0007_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "outbox", sa.Column("attachments", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column("outbox", sa.Column("body_purged_at", TZ))
    op.add_column("appointment_participants", sa.Column("reminded_period", sa.String(40)))


def downgrade() -> None:
    op.drop_column("appointment_participants", "reminded_period")
    op.drop_column("outbox", "body_purged_at")
    op.drop_column("outbox", "attachments")
