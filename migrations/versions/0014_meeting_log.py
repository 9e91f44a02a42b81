"""Meeting log: signals from a tandem that reach its coordinator (concerns) and the follow-up flag
of a match.

Revision ID: 0014_meeting_log
Revises: 0012_loose_ends
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls
from migrations.tenancy import tenant_fk as _fk
from migrations.tenancy import tenant_key as _key

revision: str = "0014_meeting_log"
down_revision: str | None = "0012_loose_ends"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")


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
    enable_tenant_rls("match_concerns")


def downgrade() -> None:
    disable_tenant_rls("match_concerns")
    op.drop_index("ix_match_concerns_match", table_name="match_concerns")
    op.drop_table("match_concerns")
    op.drop_column("matches", "follow_up_since")
