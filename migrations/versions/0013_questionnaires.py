"""Questionnaires: definitions with versions, schedules, personal-link invitations, responses and
answers, and the organisation's questionnaire settings.

Revision ID: 0013_questionnaires
Revises: 0012_loose_ends
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls, in_list, tenant_fk, tenant_key

revision: str = "0013_questionnaires"
down_revision: str | None = "0012_loose_ends"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
AUDIENCES = ("mentor", "mentee", "guardian")
PHASES = ("before", "after")
TABLES = (
    "questionnaire_answers",
    "questionnaire_responses",
    "questionnaire_invitations",
    "questionnaire_schedules",
    "questionnaire_versions",
    "questionnaires",
    "questionnaire_settings",
)


def upgrade() -> None:
    t = "questionnaire_settings"
    op.create_table(
        t,
        *tenant_key(t),
        sa.Column("low_rating_threshold", sa.Integer(), nullable=False, server_default="2"),
        sa.Column("link_valid_days", sa.Integer(), nullable=False, server_default="21"),
        sa.Column("reminder_after_days", sa.Integer(), nullable=False, server_default="7"),
        sa.Column("consent_required", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint("organization_id", name="uq_questionnaire_settings_org"),
        sa.CheckConstraint(
            "low_rating_threshold BETWEEN 1 AND 4", name="ck_questionnaire_settings_threshold"
        ),
        sa.CheckConstraint("link_valid_days BETWEEN 1 AND 365", name="ck_questionnaire_settings_valid_days"),
        sa.CheckConstraint(
            "reminder_after_days BETWEEN 0 AND 90", name="ck_questionnaire_settings_reminder_days"
        ),
    )

    t = "questionnaires"
    op.create_table(
        t,
        *tenant_key(t),
        sa.Column("programme_id", sa.Uuid()),
        sa.Column("kind", sa.String(10), nullable=False, server_default="custom"),
        sa.Column("template", sa.String(30)),
        sa.Column("archived_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        tenant_fk(
            ["programme_id"], "contact_programmes", "fk_questionnaires_programme", "SET NULL (programme_id)"
        ),
        sa.CheckConstraint(
            in_list("kind", ("checkin", "closing", "impact", "custom")), name="ck_questionnaires_kind"
        ),
    )

    t = "questionnaire_versions"
    op.create_table(
        t,
        *tenant_key(t),
        sa.Column("questionnaire_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", JSONB(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        tenant_fk(["questionnaire_id"], "questionnaires", "fk_questionnaire_versions_questionnaire"),
        sa.UniqueConstraint(
            "organization_id", "questionnaire_id", "number", name="uq_questionnaire_versions_number"
        ),
    )

    t = "questionnaire_schedules"
    op.create_table(
        t,
        *tenant_key(t),
        sa.Column("questionnaire_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid()),
        sa.Column("audience", sa.String(10), nullable=False),
        sa.Column("trigger", sa.String(10), nullable=False),
        sa.Column("after_days", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("every_days", sa.Integer()),
        sa.Column("phase", sa.String(10)),
        sa.Column("active", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        tenant_fk(["questionnaire_id"], "questionnaires", "fk_questionnaire_schedules_questionnaire"),
        tenant_fk(["programme_id"], "contact_programmes", "fk_questionnaire_schedules_programme"),
        sa.CheckConstraint(in_list("audience", AUDIENCES), name="ck_questionnaire_schedules_audience"),
        sa.CheckConstraint(
            in_list("trigger", ("start", "during", "end")), name="ck_questionnaire_schedules_trigger"
        ),
        sa.CheckConstraint(
            "phase IS NULL OR " + in_list("phase", PHASES), name="ck_questionnaire_schedules_phase"
        ),
        sa.CheckConstraint("after_days BETWEEN 0 AND 3650", name="ck_questionnaire_schedules_after_days"),
        sa.CheckConstraint(
            "every_days IS NULL OR every_days BETWEEN 1 AND 3650",
            name="ck_questionnaire_schedules_every_days",
        ),
    )
    op.create_index(
        "ix_questionnaire_schedules_active", t, ["organization_id"], postgresql_where=sa.text("active")
    )

    t = "questionnaire_invitations"
    op.create_table(
        t,
        *tenant_key(t),
        sa.Column("questionnaire_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid()),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("audience", sa.String(10), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("phase", sa.String(10)),
        sa.Column("lang", sa.String(2), nullable=False, server_default="de"),
        sa.Column("form_of_address", sa.String(3), nullable=False, server_default="sie"),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("reminder_token_hash", sa.LargeBinary(32)),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=False),
        sa.Column("reminded_at", TZ),
        sa.Column("submitted_at", TZ),
        sa.Column("revoked_at", TZ),
        sa.Column("skipped", sa.String(20)),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        tenant_fk(["questionnaire_id"], "questionnaires", "fk_questionnaire_invitations_questionnaire"),
        tenant_fk(["version_id"], "questionnaire_versions", "fk_questionnaire_invitations_version"),
        tenant_fk(
            ["schedule_id"],
            "questionnaire_schedules",
            "fk_questionnaire_invitations_schedule",
            "SET NULL (schedule_id)",
        ),
        tenant_fk(["match_id"], "matches", "fk_questionnaire_invitations_match"),
        tenant_fk(["contact_id"], "contacts", "fk_questionnaire_invitations_contact"),
        sa.CheckConstraint(in_list("audience", AUDIENCES), name="ck_questionnaire_invitations_audience"),
        sa.CheckConstraint(
            "phase IS NULL OR " + in_list("phase", PHASES), name="ck_questionnaire_invitations_phase"
        ),
        sa.UniqueConstraint(
            "organization_id",
            "schedule_id",
            "match_id",
            "contact_id",
            "occurrence",
            name="uq_questionnaire_invitations_once",
        ),
        sa.UniqueConstraint("organization_id", "token_hash", name="uq_questionnaire_invitations_token"),
    )
    op.create_index(
        "ix_questionnaire_invitations_reminder_token",
        t,
        ["organization_id", "reminder_token_hash"],
        unique=True,
        postgresql_where=sa.text("reminder_token_hash IS NOT NULL"),
    )
    op.create_index("ix_questionnaire_invitations_match", t, ["organization_id", "match_id"])
    op.create_index("ix_questionnaire_invitations_contact", t, ["organization_id", "contact_id"])
    op.create_index(
        "ix_questionnaire_invitations_reminder_due",
        t,
        ["sent_at"],
        postgresql_where=sa.text(
            "submitted_at IS NULL AND revoked_at IS NULL AND reminded_at IS NULL AND skipped IS NULL"
        ),
    )

    t = "questionnaire_responses"
    op.create_table(
        t,
        *tenant_key(t),
        sa.Column("invitation_id", sa.Uuid(), nullable=False),
        sa.Column("questionnaire_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("audience", sa.String(10), nullable=False),
        sa.Column("phase", sa.String(10)),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("signals", ARRAY(sa.String(20)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("rating", sa.Integer()),
        sa.Column("submitted_at", TZ, nullable=False, server_default=NOW),
        sa.Column("anonymised_at", TZ),
        tenant_fk(["invitation_id"], "questionnaire_invitations", "fk_questionnaire_responses_invitation"),
        tenant_fk(["questionnaire_id"], "questionnaires", "fk_questionnaire_responses_questionnaire"),
        tenant_fk(["version_id"], "questionnaire_versions", "fk_questionnaire_responses_version"),
        tenant_fk(["match_id"], "matches", "fk_questionnaire_responses_match"),
        tenant_fk(["contact_id"], "contacts", "fk_questionnaire_responses_contact"),
        sa.UniqueConstraint("organization_id", "invitation_id", name="uq_questionnaire_responses_invitation"),
    )
    op.create_index("ix_questionnaire_responses_match", t, ["organization_id", "match_id", "submitted_at"])
    op.create_index("ix_questionnaire_responses_version", t, ["organization_id", "version_id"])

    t = "questionnaire_answers"
    op.create_table(
        t,
        *tenant_key(t),
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("question_key", sa.String(50), nullable=False),
        sa.Column("question_type", sa.String(12), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("number", sa.Numeric(14, 4)),
        sa.Column("choices", ARRAY(sa.String(50)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("text_value", sa.Text()),
        sa.Column("confidential", sa.Boolean(), nullable=False, server_default="false"),
        tenant_fk(["response_id"], "questionnaire_responses", "fk_questionnaire_answers_response"),
        sa.CheckConstraint(
            in_list(
                "question_type",
                ("scale", "single", "multiple", "yes_no", "number", "short_text", "long_text"),
            ),
            name="ck_questionnaire_answers_question_type",
        ),
    )
    op.create_index("ix_questionnaire_answers_response", t, ["organization_id", "response_id"])

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TABLES:
        disable_tenant_rls(table)
        op.drop_table(table)
