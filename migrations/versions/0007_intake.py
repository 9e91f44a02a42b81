"""Intake and preparation: profiles, screening steps and records, certificate inspections and
their reminders, events and attendance, public sign-up forms and their submissions.

Revision ID: 0007_intake
Revises: 0005_tasks (and needs 0003_contacts)
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls
from migrations.tenancy import in_list as _in
from migrations.tenancy import tenant_fk as _fk
from migrations.tenancy import tenant_key as _key

revision: str = "0007_intake"
# Not "0001_core" with both as dependencies: alembic (1.20) then treats this revision as a merge of
# 0001_core, 0003_contacts and 0005_tasks on a fresh database and fails to remove 0001_core, which
# is no longer a head. Following 0005_tasks with 0003_contacts as the one dependency has the same
# order and is the shape alembic handles.
down_revision: str | None = "0005_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0003_contacts",)

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
EMPTY_LIST = sa.text("'[]'::jsonb")

TABLES = (
    "intake_profiles",
    "screening_steps",
    "screening_records",
    "certificate_inspections",
    "certificate_reminders",
    "intake_events",
    "intake_event_attendees",
    "intake_forms",
    "intake_submissions",
)


def _uq(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(
        "organization_id", *columns, name=f"uq_{table}_organization_id_{'_'.join(columns)}"
    )


def upgrade() -> None:
    op.create_table(
        "intake_profiles",
        *_key("intake_profiles"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("form_of_address", sa.String(3), nullable=False, server_default="sie"),
        sa.Column("intake_status", sa.String(30)),
        sa.Column("protection_notes", sa.Text()),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        _uq("intake_profiles", "contact_id"),
        _fk(["contact_id"], "contacts", "fk_intake_profiles_contact"),
        sa.CheckConstraint(_in("form_of_address", ("du", "sie")), name="ck_intake_profiles_address"),
        sa.CheckConstraint(
            f"intake_status IS NULL OR {_in('intake_status', ('new', 'declined_child_protection'))}",
            name="ck_intake_profiles_status",
        ),
    )

    op.create_table(
        "screening_steps",
        *_key("screening_steps"),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("label_de", sa.String(200), nullable=False),
        sa.Column("label_en", sa.String(200), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("applies_to", ARRAY(sa.String(20)), nullable=False, server_default=sa.text("'{mentor}'")),
        sa.Column("valid_months", sa.Integer()),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _uq("screening_steps", "programme_id", "key"),
        _fk(["programme_id"], "contact_programmes", "fk_screening_steps_programme"),
        sa.CheckConstraint(
            _in("kind", ("interview", "seminar", "certificate", "references", "agreement", "other")),
            name="ck_screening_steps_kind",
        ),
        sa.CheckConstraint(
            "valid_months IS NULL OR valid_months > 0", name="ck_screening_steps_valid_months"
        ),
    )

    op.create_table(
        "screening_records",
        *_key("screening_records"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("done_by", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("recorded_by_membership_id", sa.Uuid()),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["contact_id"], "contacts", "fk_screening_records_contact"),
        _fk(["step_id"], "screening_steps", "fk_screening_records_step"),
        _fk(["recorded_by_membership_id"], "memberships", "fk_screening_records_member", None),
        sa.CheckConstraint(_in("outcome", ("passed", "failed")), name="ck_screening_records_outcome"),
    )
    op.create_index(
        "ix_screening_records_contact", "screening_records", ["organization_id", "contact_id", "step_id"]
    )

    op.create_table(
        "certificate_inspections",
        *_key("certificate_inspections"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("seen", sa.Boolean(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("inspected_by", sa.String(200), nullable=False),
        sa.Column("inspected_by_membership_id", sa.Uuid()),
        sa.Column("has_relevant_entries", sa.Boolean(), nullable=False),
        _fk(["contact_id"], "contacts", "fk_certificate_inspections_contact"),
        _fk(["inspected_by_membership_id"], "memberships", "fk_certificate_inspections_member", None),
        sa.CheckConstraint("issued_on <= inspected_on", name="ck_certificate_inspections_dates"),
    )
    op.create_index(
        "ix_certificate_inspections_contact",
        "certificate_inspections",
        ["organization_id", "contact_id", "issued_on"],
    )

    op.create_table(
        "certificate_reminders",
        *_key("certificate_reminders"),
        sa.Column("inspection_id", sa.Uuid(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("task_id", sa.Uuid()),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _uq("certificate_reminders", "inspection_id"),
        _fk(["inspection_id"], "certificate_inspections", "fk_certificate_reminders_inspection"),
        _fk(["task_id"], "tasks", "fk_certificate_reminders_task", "SET NULL (task_id)"),
    )

    op.create_table(
        "intake_events",
        *_key("intake_events"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ),
        sa.Column("location", sa.String(300)),
        sa.Column("description", sa.Text()),
        sa.Column("programme_id", sa.Uuid()),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["programme_id"], "contact_programmes", "fk_intake_events_programme", "SET NULL (programme_id)"),
        sa.CheckConstraint(
            _in("kind", ("workshop", "regulars", "outing", "training")), name="ck_intake_events_kind"
        ),
    )
    op.create_index("ix_intake_events_starts_at", "intake_events", ["organization_id", "starts_at"])

    op.create_table(
        "intake_event_attendees",
        *_key("intake_event_attendees"),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="invited"),
        sa.Column("invited_at", TZ),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        _uq("intake_event_attendees", "event_id", "contact_id"),
        _fk(["event_id"], "intake_events", "fk_intake_event_attendees_event"),
        _fk(["contact_id"], "contacts", "fk_intake_event_attendees_contact"),
        sa.CheckConstraint(
            _in("status", ("invited", "confirmed", "present", "absent")),
            name="ck_intake_event_attendees_status",
        ),
    )
    op.create_index(
        "ix_intake_event_attendees_contact", "intake_event_attendees", ["organization_id", "contact_id"]
    )

    op.create_table(
        "intake_forms",
        *_key("intake_forms"),
        sa.Column("slug", sa.String(60), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("audience", sa.String(10), nullable=False),
        sa.Column("title_de", sa.String(200), nullable=False),
        sa.Column("title_en", sa.String(200), nullable=False),
        sa.Column("intro_de", sa.Text(), nullable=False, server_default=""),
        sa.Column("intro_en", sa.Text(), nullable=False, server_default=""),
        sa.Column("fields", JSONB(), nullable=False, server_default=EMPTY_LIST),
        sa.Column("consents", JSONB(), nullable=False, server_default=EMPTY_LIST),
        sa.Column("coordinator_membership_id", sa.Uuid()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("confirm_within_hours", sa.Integer(), nullable=False, server_default="48"),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        _uq("intake_forms", "slug"),
        _fk(["programme_id"], "contact_programmes", "fk_intake_forms_programme"),
        _fk(
            ["coordinator_membership_id"],
            "memberships",
            "fk_intake_forms_coordinator",
            "SET NULL (coordinator_membership_id)",
        ),
        sa.CheckConstraint(_in("audience", ("mentor", "mentee")), name="ck_intake_forms_audience"),
        sa.CheckConstraint("confirm_within_hours > 0", name="ck_intake_forms_confirm_within"),
    )

    op.create_table(
        "intake_submissions",
        *_key("intake_submissions"),
        sa.Column("form_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("locale", sa.String(2), nullable=False),
        sa.Column("answers", JSONB(), nullable=False),
        sa.Column("consents", JSONB(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("client_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("contact_id", sa.Uuid()),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("confirmed_at", TZ),
        _uq("intake_submissions", "token_hash"),
        _fk(["form_id"], "intake_forms", "fk_intake_submissions_form"),
        _fk(["contact_id"], "contacts", "fk_intake_submissions_contact", "SET NULL (contact_id)"),
        sa.CheckConstraint(_in("status", ("pending", "confirmed")), name="ck_intake_submissions_status"),
    )
    op.create_index(
        "ix_intake_submissions_email", "intake_submissions", ["organization_id", "email", "created_at"]
    )
    op.create_index(
        "ix_intake_submissions_client", "intake_submissions", ["organization_id", "client_hash", "created_at"]
    )
    op.create_index(
        "ix_intake_submissions_pending",
        "intake_submissions",
        ["created_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_tenant_rls(table)
        op.drop_table(table)
