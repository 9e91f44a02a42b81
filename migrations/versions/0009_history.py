"""The change history: every create, change, delete, export and erasure of personal data, and the
membership, token and sign-in changes that the audit log held until now (one log).

Revision ID: 0009_history
Revises: 0008_signin (and needs 0002_identity, whose audit_log it takes over)
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls
from migrations.tenancy import in_list as _in
from migrations.tenancy import tenant_key as _key

revision: str = "0009_history"
down_revision: str | None = "0008_signin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0002_identity",)

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
# Row-level security is forced for the owner too: copying every organisation's rows needs the
# system context, for this transaction only.
SYSTEM_ON = "SELECT set_config('codo.system', 'on', true)"
SYSTEM_OFF = "SELECT set_config('codo.system', 'off', true)"


def upgrade() -> None:
    op.create_table(
        "history",
        *_key("history"),
        sa.Column("at", TZ, nullable=False, server_default=NOW),
        sa.Column("actor_kind", sa.String(10), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_membership_id", sa.Uuid(), nullable=True),
        sa.Column("actor_token_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("contact_ids", ARRAY(sa.Uuid()), nullable=False, server_default="{}"),
        sa.Column("match_id", sa.Uuid(), nullable=True),
        sa.Column("target", sa.String(320), nullable=False, server_default=""),
        sa.Column("changes", JSONB(), nullable=False, server_default="{}"),
        sa.Column("details", JSONB(), nullable=False, server_default="{}"),
        sa.Column("scrubbed_at", TZ, nullable=True),
        sa.CheckConstraint(_in("actor_kind", ("member", "token", "system")), name="ck_history_actor_kind"),
    )
    op.create_index("ix_history_organization_id_at", "history", ["organization_id", "at"])
    op.create_index(
        "ix_history_organization_id_entity_entity_id", "history", ["organization_id", "entity", "entity_id"]
    )
    op.create_index("ix_history_contact_ids", "history", ["contact_ids"], postgresql_using="gin")
    op.create_index("ix_history_organization_id_match_id", "history", ["organization_id", "match_id"])
    op.create_index(
        "ix_history_organization_id_actor_membership_id",
        "history",
        ["organization_id", "actor_membership_id"],
    )
    enable_tenant_rls("history")
    op.execute(SYSTEM_ON)
    op.execute(
        """INSERT INTO history (organization_id, id, at, actor_kind, actor_user_id, actor_token_id, actor,
                                entity, action, target, details)
           SELECT organization_id, id, at,
                  CASE WHEN actor_token_id IS NOT NULL THEN 'token'
                       WHEN actor_user_id IS NOT NULL THEN 'member' ELSE 'system' END,
                  actor_user_id, actor_token_id, actor,
                  split_part(action, '.', 1), substr(action, strpos(action, '.') + 1), target, details
           FROM audit_log"""
    )
    op.execute(SYSTEM_OFF)
    disable_tenant_rls("audit_log")
    op.drop_table("audit_log")


def downgrade() -> None:
    op.create_table(
        "audit_log",
        *_key("audit_log"),
        sa.Column("at", TZ, nullable=False, server_default=NOW),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_token_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(320), nullable=False, server_default=""),
        sa.Column("details", JSONB(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_audit_log_organization_id_at", "audit_log", ["organization_id", "at"])
    enable_tenant_rls("audit_log")
    op.execute(SYSTEM_ON)
    op.execute(
        """INSERT INTO audit_log (organization_id, id, at, actor_user_id, actor_token_id, actor, action,
                                  target, details)
           SELECT organization_id, id, at, actor_user_id, actor_token_id, actor,
                  left(entity || '.' || action, 50), target, details
           FROM history WHERE entity IN ('member', 'invitation', 'token', 'signin')"""
    )
    op.execute(SYSTEM_OFF)
    disable_tenant_rls("history")
    op.drop_table("history")
