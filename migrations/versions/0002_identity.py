"""Identity: OpenID Connect identities, organisations' providers, invitations, the audit log.

Revision ID: 0002_identity
Revises: 0001_core
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls

revision: str = "0002_identity"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
ROLES = "('owner', 'admin', 'coordinator', 'viewer')"
TENANT_TABLES = ("identity_providers", "invitations", "audit_log")


def _tenant_key() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("last_signin_at", TZ, nullable=True),
        sa.UniqueConstraint("issuer", "subject", name="uq_identities_issuer_subject"),
    )
    op.create_index("ix_identities_user_id", "identities", ["user_id"])
    op.create_table(
        "identity_providers",
        *_tenant_key(),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("client_secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("allowed_domains", postgresql.ARRAY(sa.String(253)), nullable=False, server_default="{}"),
        sa.Column("auto_join_role", sa.String(16), nullable=True),
        sa.Column("group_claim", sa.String(100), nullable=True),
        sa.Column("group_roles", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_identity_providers"),
        sa.UniqueConstraint("organization_id", name="uq_identity_providers_organization_id"),
        sa.CheckConstraint(f"auto_join_role IN {ROLES}", name="ck_identity_providers_auto_join_role"),
    )
    op.create_table(
        "invitations",
        *_tenant_key(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("invited_by_membership_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_membership_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("last_sent_at", TZ, nullable=False, server_default=NOW),
        sa.Column("accepted_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_invitations"),
        sa.UniqueConstraint(
            "organization_id", "token_hash", name="uq_invitations_organization_id_token_hash"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "invited_by_membership_id"],
            ["memberships.organization_id", "memberships.id"],
            name="fk_invitations_invited_by_membership",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "accepted_membership_id"],
            ["memberships.organization_id", "memberships.id"],
            name="fk_invitations_accepted_membership",
        ),
        sa.CheckConstraint(f"role IN {ROLES}", name="ck_invitations_role"),
    )
    op.create_index("ix_invitations_organization_id_email", "invitations", ["organization_id", "email"])
    op.create_table(
        "audit_log",
        *_tenant_key(),
        sa.Column("at", TZ, nullable=False, server_default=NOW),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_token_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(320), nullable=False, server_default=""),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_organization_id_at", "audit_log", ["organization_id", "at"])
    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        disable_tenant_rls(table)
    op.drop_table("audit_log")
    op.drop_table("invitations")
    op.drop_table("identity_providers")
    op.drop_table("identities")
