"""Tasks, comments, appointments, notifications, reminder ledger, calendar feeds.

Revision ID: 0005_tasks
Revises: 0001_core
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls

revision: str = "0005_tasks"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
# Written out rather than imported from the models: a migration must not change when they do.
TASK_REMINDER_DUE = "status = 'open' AND assignee_id IS NOT NULL AND reminded_at IS NULL"
APPOINTMENT_REMINDER_DUE = "status <> 'cancelled' AND reminded_at IS NULL"
NOW = sa.text("now()")
TABLES = (
    "tasks",
    "task_comments",
    "appointments",
    "appointment_participants",
    "notification_preferences",
    "notifications",
    "reminders_sent",
    "calendar_feeds",
)


def _key(table: str) -> list[sa.Column | sa.Constraint]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=f"pk_{table}"),
    ]


def _member(column: str, name: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    if ondelete == "SET NULL":
        ondelete = f"SET NULL ({column})"
    return sa.ForeignKeyConstraint(
        ["organization_id", column],
        ["memberships.organization_id", "memberships.id"],
        name=name,
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "tasks",
        *_key("tasks"),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_time", sa.Time(), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Berlin"),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("remind_at", TZ, nullable=False),
        sa.Column("reminded_at", TZ, nullable=True),
        sa.Column("priority", sa.String(10), nullable=False, server_default="normal"),
        sa.Column("status", sa.String(10), nullable=False, server_default="open"),
        sa.Column("recurrence", sa.String(500), nullable=True),
        sa.Column("recurrence_start", sa.DateTime(timezone=False), nullable=True),
        sa.Column("series_id", sa.Uuid(), nullable=True),
        sa.Column("rule", sa.String(40), nullable=True),
        sa.Column("rule_subject", sa.String(100), nullable=True),
        sa.Column("rule_occurrence", sa.String(100), nullable=True),
        sa.Column("created_by_membership_id", sa.Uuid(), nullable=True),
        sa.Column("completed_by_membership_id", sa.Uuid(), nullable=True),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        _member("assignee_id", "fk_tasks_assignee", "SET NULL"),
        _member("created_by_membership_id", "fk_tasks_created_by", "SET NULL"),
        _member("completed_by_membership_id", "fk_tasks_completed_by", "SET NULL"),
        sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name="ck_tasks_status"),
        sa.CheckConstraint("priority IN ('low', 'normal', 'high')", name="ck_tasks_priority"),
        sa.CheckConstraint("length(title) > 0", name="ck_tasks_title"),
    )
    op.create_index("ix_tasks_assignee_due", "tasks", ["organization_id", "assignee_id", "due_at"])
    op.create_index(
        "ix_tasks_open_due",
        "tasks",
        ["organization_id", "due_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_tasks_reminder_due", "tasks", ["remind_at"], postgresql_where=sa.text(TASK_REMINDER_DUE)
    )
    op.create_index(
        "ix_tasks_org_reminder_due",
        "tasks",
        ["organization_id", "remind_at"],
        postgresql_where=sa.text(TASK_REMINDER_DUE),
    )
    op.create_index("ix_tasks_series", "tasks", ["organization_id", "series_id"])
    op.create_index(
        "uq_tasks_rule_open",
        "tasks",
        ["organization_id", "rule", "rule_subject"],
        unique=True,
        postgresql_where=sa.text("rule IS NOT NULL AND status = 'open'"),
    )
    op.create_index(
        "uq_tasks_rule_occurrence",
        "tasks",
        ["organization_id", "rule", "rule_subject", "rule_occurrence"],
        unique=True,
        postgresql_where=sa.text("rule IS NOT NULL"),
    )

    op.create_table(
        "task_comments",
        *_key("task_comments"),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("author_membership_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(
            ["organization_id", "task_id"],
            ["tasks.organization_id", "tasks.id"],
            name="fk_task_comments_task",
            ondelete="CASCADE",
        ),
        _member("author_membership_id", "fk_task_comments_author", "SET NULL"),
    )
    op.create_index("ix_task_comments_task", "task_comments", ["organization_id", "task_id"])

    op.create_table(
        "appointments",
        *_key("appointments"),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("kind", sa.String(20), nullable=False, server_default="meeting"),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Berlin"),
        sa.Column("location", sa.String(300), nullable=False, server_default=""),
        sa.Column("video_url", sa.String(500), nullable=False, server_default=""),
        sa.Column("status", sa.String(10), nullable=False, server_default="planned"),
        sa.Column("reminder_minutes", sa.Integer(), nullable=False, server_default="60"),
        sa.Column("remind_at", TZ, nullable=False),
        sa.Column("reminded_at", TZ, nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("organizer_membership_id", sa.Uuid(), nullable=True),
        sa.Column("cancelled_at", TZ, nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("confirmed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        _member("organizer_membership_id", "fk_appointments_organizer", "SET NULL"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_appointments_ends_after_start"),
        sa.CheckConstraint("status IN ('planned', 'confirmed', 'cancelled')", name="ck_appointments_status"),
        sa.CheckConstraint("kind IN ('meeting', 'introduction')", name="ck_appointments_kind"),
    )
    op.create_index("ix_appointments_starts_at", "appointments", ["organization_id", "starts_at"])
    op.create_index(
        "ix_appointments_reminder_due",
        "appointments",
        ["remind_at"],
        postgresql_where=sa.text(APPOINTMENT_REMINDER_DUE),
    )
    op.create_index(
        "ix_appointments_org_reminder_due",
        "appointments",
        ["organization_id", "remind_at"],
        postgresql_where=sa.text(APPOINTMENT_REMINDER_DUE),
    )

    op.create_table(
        "appointment_participants",
        *_key("appointment_participants"),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id", "appointment_id"],
            ["appointments.organization_id", "appointments.id"],
            name="fk_appointment_participants_appointment",
            ondelete="CASCADE",
        ),
        _member("membership_id", "fk_appointment_participants_membership", "CASCADE"),
        sa.CheckConstraint("num_nonnulls(membership_id) = 1", name="ck_appointment_participants_one"),
    )
    op.create_index(
        "ix_appointment_participants_appointment",
        "appointment_participants",
        ["organization_id", "appointment_id"],
    )
    op.create_index(
        "ix_appointment_participants_membership",
        "appointment_participants",
        ["organization_id", "membership_id"],
    )

    op.create_table(
        "notification_preferences",
        *_key("notification_preferences"),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        _member("membership_id", "fk_notification_preferences_membership", "CASCADE"),
        sa.UniqueConstraint(
            "organization_id",
            "membership_id",
            "kind",
            name="uq_notification_preferences_organization_id_membership_id_kind",
        ),
    )

    op.create_table(
        "notifications",
        *_key("notifications"),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("link", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("read_at", TZ, nullable=True),
        _member("membership_id", "fk_notifications_membership", "CASCADE"),
    )
    op.create_index("ix_notifications_member", "notifications", ["organization_id", "membership_id", "id"])
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["organization_id", "membership_id"],
        postgresql_where=sa.text("read_at IS NULL"),
    )

    op.create_table(
        "reminders_sent",
        *_key("reminders_sent"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(40), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _member("membership_id", "fk_reminders_sent_membership", "CASCADE"),
        sa.UniqueConstraint(
            "organization_id",
            "kind",
            "subject_id",
            "membership_id",
            "period",
            name="uq_reminders_sent_once",
        ),
    )

    op.create_table(
        "calendar_feeds",
        *_key("calendar_feeds"),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("last_used_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        _member("membership_id", "fk_calendar_feeds_membership", "CASCADE"),
        sa.UniqueConstraint(
            "organization_id", "token_hash", name="uq_calendar_feeds_organization_id_token_hash"
        ),
    )
    op.create_index(
        "uq_calendar_feeds_active",
        "calendar_feeds",
        ["organization_id", "membership_id"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_tenant_rls(table)
        op.drop_table(table)
