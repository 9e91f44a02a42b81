"""Platform core: organisations, users, memberships, API tokens, the outbox.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls

revision: str = "0001_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def _tenant_key() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE", name=None),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint("slug", name="uq_organizations_slug"),
        sa.CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="ck_organizations_slug_format"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("locale", sa.String(8), nullable=False, server_default="de"),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
    )
    op.create_table(
        "memberships",
        *_tenant_key(),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_memberships"),
        sa.UniqueConstraint("organization_id", "user_id", name="uq_memberships_organization_id_user_id"),
        sa.CheckConstraint("role IN ('owner', 'admin', 'coordinator', 'viewer')", name="ck_memberships_role"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "api_tokens",
        *_tenant_key(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_by_membership_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_token_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("last_used_at", TZ, nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_api_tokens"),
        sa.UniqueConstraint("organization_id", "token_hash", name="uq_api_tokens_organization_id_token_hash"),
        sa.ForeignKeyConstraint(
            ["organization_id", "created_by_membership_id"],
            ["memberships.organization_id", "memberships.id"],
            name="fk_api_tokens_created_by_membership",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "created_by_token_id"],
            ["api_tokens.organization_id", "api_tokens.id"],
            name="fk_api_tokens_created_by_token",
        ),
        sa.CheckConstraint("role IN ('owner', 'admin', 'coordinator', 'viewer')", name="ck_api_tokens_role"),
    )
    op.create_table(
        "outbox",
        *_tenant_key(),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=NOW),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("sent_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_outbox"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="ck_outbox_status"),
    )
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_table(
        "outbox_attempts",
        *_tenant_key(),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_outbox_attempts"),
        sa.ForeignKeyConstraint(
            ["organization_id", "message_id"],
            ["outbox.organization_id", "outbox.id"],
            ondelete="CASCADE",
            name="fk_outbox_attempts_message",
        ),
    )
    op.create_index("ix_outbox_attempts_message", "outbox_attempts", ["organization_id", "message_id"])

    for table in ("memberships", "api_tokens", "outbox", "outbox_attempts"):
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in ("outbox_attempts", "outbox", "api_tokens", "memberships"):
        disable_tenant_rls(table)
    op.drop_table("outbox_attempts")
    op.drop_table("outbox")
    op.drop_table("api_tokens")
    op.drop_table("memberships")
    op.drop_table("users")
    op.drop_table("organizations")
