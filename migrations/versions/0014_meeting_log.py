"""Meeting log: mentors' personal links and what they logged through them, signals from a tandem
that reach its coordinator (concerns) and the follow-up flag of a match.

Revision ID: 0014_meeting_log
Revises: 0013_questionnaires
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls
from migrations.tenancy import tenant_fk as _fk
from migrations.tenancy import tenant_key as _key

revision: str = "0014_meeting_log"
down_revision: str | None = "0013_questionnaires"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
TABLES = ("match_concerns", "meeting_log_links", "meeting_log_entries")


def upgrade() -> None:
    op.add_column("matches", sa.Column("follow_up_since", TZ))
    op.create_table(
        "match_concerns",
        *_key("match_concerns"),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("confidential_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("task_id", sa.Uuid()),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["match_id"], "matches", "fk_match_concerns_match"),
        _fk(["task_id"], "tasks", "fk_match_concerns_task", "SET NULL (task_id)"),
    )
    op.create_index(
        "ix_match_concerns_match", "match_concerns", ["organization_id", "match_id", "created_at"]
    )
    op.create_table(
        "meeting_log_links",
        *_key("meeting_log_links"),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("reason", sa.String(12), nullable=False, server_default="start"),
        sa.Column("sent", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("last_used_at", TZ),
        sa.Column("revoked_at", TZ),
        _fk(["match_id"], "matches", "fk_meeting_log_links_match"),
        sa.UniqueConstraint(
            "organization_id", "token_hash", name="uq_meeting_log_links_organization_id_token_hash"
        ),
    )
    op.create_index("ix_meeting_log_links_match", "meeting_log_links", ["organization_id", "match_id"])
    op.create_table(
        "meeting_log_entries",
        *_key("meeting_log_entries"),
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("link_id", sa.Uuid()),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("activities", ARRAY(sa.String(20)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("worried", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("concern_id", sa.Uuid()),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["meeting_id"], "match_meetings", "fk_meeting_log_entries_meeting"),
        _fk(["match_id"], "matches", "fk_meeting_log_entries_match"),
        _fk(["link_id"], "meeting_log_links", "fk_meeting_log_entries_link", "SET NULL (link_id)"),
        _fk(["concern_id"], "match_concerns", "fk_meeting_log_entries_concern", "SET NULL (concern_id)"),
        sa.UniqueConstraint(
            "organization_id", "meeting_id", name="uq_meeting_log_entries_organization_id_meeting_id"
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_meeting_log_entries_rating"),
    )
    op.create_index("ix_meeting_log_entries_match", "meeting_log_entries", ["organization_id", "match_id"])
    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_tenant_rls(table)
    op.drop_index("ix_meeting_log_entries_match", table_name="meeting_log_entries")
    op.drop_table("meeting_log_entries")
    op.drop_index("ix_meeting_log_links_match", table_name="meeting_log_links")
    op.drop_table("meeting_log_links")
    op.drop_index("ix_match_concerns_match", table_name="match_concerns")
    op.drop_table("match_concerns")
    op.drop_column("matches", "follow_up_since")
