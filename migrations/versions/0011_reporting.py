"""Reporting: custom fields on matches, report exports, the reports-only role, the programme's kind
and the organisation's consent to anonymised benchmarks.

Revision ID: 0011_reporting
Revises: 0009_history (and needs 0004_matching and 0002_identity)
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls
from migrations.tenancy import in_list as _in
from migrations.tenancy import tenant_key as _key

revision: str = "0011_reporting"
down_revision: str | None = "0009_history"
branch_labels: str | Sequence[str] | None = None
# Roles are also stored by identity (0002), which nothing before this revision needs.
depends_on: str | Sequence[str] | None = ("0004_matching", "0002_identity")

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
FIELD_TYPES = ("text", "number", "date", "choice", "multi_choice", "boolean")
OLD_ROLES = ("owner", "admin", "coordinator", "viewer")
NEW_ROLES = (*OLD_ROLES, "reporter")
# (table, column, constraint) of every place a role is stored.
ROLE_COLUMNS = (
    ("memberships", "role", "ck_memberships_role"),
    ("api_tokens", "role", "ck_api_tokens_role"),
    ("invitations", "role", "ck_invitations_role"),
    ("identity_providers", "auto_join_role", "ck_identity_providers_auto_join_role"),
)
TABLES = ("match_fields", "report_exports")


def _roles(roles: tuple[str, ...]) -> None:
    for table, column, name in ROLE_COLUMNS:
        # The earlier revisions' names went through the naming convention (ck_<table>_<name>): drop
        # whatever CHECK holds the column's roles, and write the new one under its plain name.
        op.execute(f"""
DO $$ DECLARE found text; BEGIN
  FOR found IN SELECT conname FROM pg_constraint
    WHERE conrelid = '{table}'::regclass AND contype = 'c' AND conname LIKE '%{name}'
  LOOP EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', found); END LOOP;
END $$""")  # noqa: S608
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({_in(column, roles)})")


def upgrade() -> None:
    op.create_table(
        "match_fields",
        *_key("match_fields"),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("label_de", sa.String(200), nullable=False),
        sa.Column("label_en", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("options", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("required_for", ARRAY(sa.String(20)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("archived_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint("organization_id", "key", name="uq_match_fields_organization_id_key"),
        sa.CheckConstraint(_in("type", FIELD_TYPES), name="ck_match_fields_type"),
    )
    op.add_column(
        "matches", sa.Column("custom", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb"))
    )
    op.create_table(
        "report_exports",
        *_key("report_exports"),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("format", sa.String(4), nullable=False),
        sa.Column("query", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("locale", sa.String(2), nullable=False, server_default="de"),
        sa.Column("suppressed", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("progress", sa.Float(), nullable=False, server_default="0"),
        sa.Column("content", sa.LargeBinary()),
        sa.Column("error", sa.Text()),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("finished_at", TZ),
        sa.CheckConstraint(
            _in("status", ("pending", "running", "done", "failed")), name="ck_report_exports_status"
        ),
        sa.CheckConstraint(_in("format", ("xlsx", "pdf", "csv")), name="ck_report_exports_format"),
    )
    for table in TABLES:
        enable_tenant_rls(table)
    op.add_column("contact_programmes", sa.Column("kind", sa.String(30)))
    op.add_column(
        "organizations",
        sa.Column("benchmarks_opt_in", sa.Boolean(), nullable=False, server_default="false"),
    )
    _roles(NEW_ROLES)


def downgrade() -> None:
    op.execute("DELETE FROM memberships WHERE role = 'reporter'")
    op.execute("DELETE FROM api_tokens WHERE role = 'reporter'")
    op.execute("DELETE FROM invitations WHERE role = 'reporter'")
    op.execute("UPDATE identity_providers SET auto_join_role = NULL WHERE auto_join_role = 'reporter'")
    _roles(OLD_ROLES)
    op.drop_column("organizations", "benchmarks_opt_in")
    op.drop_column("contact_programmes", "kind")
    for table in TABLES:
        disable_tenant_rls(table)
    op.drop_table("report_exports")
    op.drop_column("matches", "custom")
    op.drop_table("match_fields")
