"""Tasks and appointments link to contacts and matches; automatic task rules.

Revision ID: 0006_task_links
Revises: 0005_tasks
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls

revision: str = "0006_task_links"
down_revision: str | None = "0005_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0003_contacts", "0004_matching")


def _fk(table: str, column: str, target: str, name: str, ondelete: str) -> None:
    op.create_foreign_key(
        name,
        table,
        target,
        ["organization_id", column],
        ["organization_id", "id"],
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.add_column("tasks", sa.Column("contact_id", sa.Uuid(), nullable=True))
    op.add_column("tasks", sa.Column("match_id", sa.Uuid(), nullable=True))
    _fk("tasks", "contact_id", "contacts", "fk_tasks_contact", "SET NULL (contact_id)")
    _fk("tasks", "match_id", "matches", "fk_tasks_match", "SET NULL (match_id)")
    op.create_index("ix_tasks_contact", "tasks", ["organization_id", "contact_id"])
    op.create_index("ix_tasks_match", "tasks", ["organization_id", "match_id"])

    op.add_column("appointments", sa.Column("match_id", sa.Uuid(), nullable=True))
    _fk("appointments", "match_id", "matches", "fk_appointments_match", "SET NULL (match_id)")
    op.create_index("ix_appointments_match", "appointments", ["organization_id", "match_id"])

    op.add_column("appointment_participants", sa.Column("contact_id", sa.Uuid(), nullable=True))
    _fk(
        "appointment_participants",
        "contact_id",
        "contacts",
        "fk_appointment_participants_contact",
        "CASCADE",
    )
    op.create_index(
        "ix_appointment_participants_contact",
        "appointment_participants",
        ["organization_id", "contact_id"],
    )
    op.drop_constraint("ck_appointment_participants_one", "appointment_participants", type_="check")
    op.create_check_constraint(
        "ck_appointment_participants_one",
        "appointment_participants",
        "num_nonnulls(membership_id, contact_id) = 1",
    )

    op.create_table(
        "task_rules",
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("params", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("organization_id", "id", name="pk_task_rules"),
        sa.UniqueConstraint("organization_id", "rule", name="uq_task_rules_organization_id_rule"),
        sa.ForeignKeyConstraint(
            ["organization_id", "assignee_id"],
            ["memberships.organization_id", "memberships.id"],
            name="fk_task_rules_assignee",
            ondelete="SET NULL (assignee_id)",
        ),
        sa.CheckConstraint(
            "rule IN ('checkin_due', 'waiting_followup', 'consent_expiry', 'match_wrap_up')",
            name="ck_task_rules_rule",
        ),
    )
    enable_tenant_rls("task_rules")


def downgrade() -> None:
    disable_tenant_rls("task_rules")
    op.drop_table("task_rules")
    op.drop_constraint("ck_appointment_participants_one", "appointment_participants", type_="check")
    op.execute("DELETE FROM appointment_participants WHERE membership_id IS NULL")
    op.create_check_constraint(
        "ck_appointment_participants_one", "appointment_participants", "num_nonnulls(membership_id) = 1"
    )
    op.drop_index("ix_appointment_participants_contact", "appointment_participants")
    op.drop_constraint("fk_appointment_participants_contact", "appointment_participants", type_="foreignkey")
    op.drop_column("appointment_participants", "contact_id")
    op.drop_index("ix_appointments_match", "appointments")
    op.drop_constraint("fk_appointments_match", "appointments", type_="foreignkey")
    op.drop_column("appointments", "match_id")
    op.drop_index("ix_tasks_match", "tasks")
    op.drop_index("ix_tasks_contact", "tasks")
    op.drop_constraint("fk_tasks_match", "tasks", type_="foreignkey")
    op.drop_constraint("fk_tasks_contact", "tasks", type_="foreignkey")
    op.drop_column("tasks", "match_id")
    op.drop_column("tasks", "contact_id")
