"""Matching: settings per programme, cohort runs, matches and their log, end reasons, check-ins, meetings.

Revision ID: 0004_matching
Revises: 0001_core
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

revision: str = "0004_matching"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
# Matches and runs refer to contacts and programmes.
depends_on: str | Sequence[str] | None = ("0003_contacts",)

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
EMPTY_LIST = sa.text("'[]'::jsonb")

TABLES = (
    "matching_settings",
    "match_end_reasons",
    "matching_runs",
    "matches",
    "matching_run_pairs",
    "match_events",
    "match_checkins",
    "match_meetings",
)


def upgrade() -> None:
    op.create_table(
        "matching_settings",
        *_key("matching_settings"),
        sa.Column("programme_id", sa.Uuid()),
        sa.Column("config", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("checkin_interval_days", sa.Integer(), nullable=False, server_default="30"),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint(
            "organization_id", "programme_id", name="uq_matching_settings_organization_id_programme_id"
        ),
        _fk(["programme_id"], "contact_programmes", "fk_matching_settings_programme"),
        sa.CheckConstraint(
            "checkin_interval_days BETWEEN 1 AND 365", name="ck_matching_settings_checkin_interval"
        ),
    )
    op.create_index(
        "uq_matching_settings_default",
        "matching_settings",
        ["organization_id"],
        unique=True,
        postgresql_where=sa.text("programme_id IS NULL"),
    )

    op.create_table(
        "match_end_reasons",
        *_key("match_end_reasons"),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("label_de", sa.String(200), nullable=False),
        sa.Column("label_en", sa.String(200), nullable=False),
        sa.Column("early", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("archived_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint("organization_id", "key", name="uq_match_end_reasons_organization_id_key"),
    )

    op.create_table(
        "matching_runs",
        *_key("matching_runs"),
        sa.Column("programme_id", sa.Uuid()),
        sa.Column("previous_run_id", sa.Uuid()),
        sa.Column("status", sa.String(10), nullable=False, server_default="queued"),
        sa.Column("stage", sa.String(20), nullable=False, server_default="queued"),
        sa.Column("progress", sa.Float(), nullable=False, server_default="0"),
        sa.Column("mentee_ids", ARRAY(sa.Uuid()), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("mentor_ids", ARRAY(sa.Uuid()), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("pins", JSONB(), nullable=False, server_default=EMPTY_LIST),
        sa.Column("exclusions", JSONB(), nullable=False, server_default=EMPTY_LIST),
        sa.Column("mentee_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("mentor_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total_score", sa.Float()),
        sa.Column("error", sa.Text()),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("started_at", TZ),
        sa.Column("heartbeat_at", TZ),
        sa.Column("finished_at", TZ),
        _fk(["programme_id"], "contact_programmes", "fk_matching_runs_programme", "SET NULL (programme_id)"),
        _fk(["previous_run_id"], "matching_runs", "fk_matching_runs_previous", "SET NULL (previous_run_id)"),
        sa.CheckConstraint(
            _in("status", ("queued", "running", "done", "failed")), name="ck_matching_runs_status"
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 1", name="ck_matching_runs_progress"),
    )
    op.create_index("ix_matching_runs_status", "matching_runs", ["organization_id", "status"])

    op.create_table(
        "matches",
        *_key("matches"),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid()),
        sa.Column("status", sa.String(12), nullable=False, server_default="proposed"),
        sa.Column("score", sa.Float()),
        sa.Column("proposed_on", sa.Date(), nullable=False, server_default=sa.text("CURRENT_DATE")),
        sa.Column("introduced_on", sa.Date()),
        sa.Column("first_meeting_on", sa.Date()),
        sa.Column("started_on", sa.Date()),
        sa.Column("paused_on", sa.Date()),
        sa.Column("ended_on", sa.Date()),
        sa.Column("end_reason_id", sa.Uuid()),
        sa.Column("ended_early", sa.Boolean()),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        _fk(["mentor_id"], "contacts", "fk_matches_mentor"),
        _fk(["mentee_id"], "contacts", "fk_matches_mentee"),
        _fk(["programme_id"], "contact_programmes", "fk_matches_programme", "SET NULL (programme_id)"),
        _fk(["end_reason_id"], "match_end_reasons", "fk_matches_end_reason", None),
        sa.CheckConstraint(
            _in("status", ("proposed", "introduced", "active", "paused", "ended")), name="ck_matches_status"
        ),
        sa.CheckConstraint("mentor_id <> mentee_id", name="ck_matches_two_people"),
        sa.CheckConstraint("(status = 'ended') = (ended_on IS NOT NULL)", name="ck_matches_ended_on"),
    )
    op.create_index(
        "uq_matches_open_mentee",
        "matches",
        ["organization_id", "mentee_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'ended'"),
    )
    op.create_index("ix_matches_mentor", "matches", ["organization_id", "mentor_id"])
    op.create_index("ix_matches_status", "matches", ["organization_id", "status"])

    op.create_table(
        "matching_run_pairs",
        *_key("matching_run_pairs"),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("mentee_id", sa.Uuid(), nullable=False),
        sa.Column("mentor_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("match_id", sa.Uuid()),
        _fk(["run_id"], "matching_runs", "fk_matching_run_pairs_run"),
        _fk(["mentee_id"], "contacts", "fk_matching_run_pairs_mentee"),
        _fk(["mentor_id"], "contacts", "fk_matching_run_pairs_mentor"),
        _fk(["match_id"], "matches", "fk_matching_run_pairs_match", "SET NULL (match_id)"),
        sa.UniqueConstraint("organization_id", "run_id", "mentee_id", name="uq_matching_run_pairs_mentee"),
    )

    op.create_table(
        "match_events",
        *_key("match_events"),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(12)),
        sa.Column("to_status", sa.String(12), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("actor", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["match_id"], "matches", "fk_match_events_match"),
    )
    op.create_index("ix_match_events_match", "match_events", ["organization_id", "match_id", "created_at"])

    op.create_table(
        "match_checkins",
        *_key("match_checkins"),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(12), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("follow_up", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["match_id"], "matches", "fk_match_checkins_match"),
        sa.CheckConstraint(
            _in("channel", ("phone", "in_person", "video", "email", "messenger", "other")),
            name="ck_match_checkins_channel",
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_match_checkins_rating"),
    )
    op.create_index(
        "ix_match_checkins_match", "match_checkins", ["organization_id", "match_id", "occurred_on"]
    )

    op.create_table(
        "match_meetings",
        *_key("match_meetings"),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("volunteer_minutes", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(200), nullable=False, server_default=""),
        sa.Column("reported_by", sa.String(12), nullable=False, server_default="mentor"),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["match_id"], "matches", "fk_match_meetings_match"),
        sa.CheckConstraint(
            _in("reported_by", ("mentor", "mentee", "both", "coordinator")),
            name="ck_match_meetings_reported_by",
        ),
        sa.CheckConstraint("duration_minutes BETWEEN 1 AND 1440", name="ck_match_meetings_duration"),
        sa.CheckConstraint("volunteer_minutes BETWEEN 0 AND 1440", name="ck_match_meetings_volunteer"),
    )
    op.create_index(
        "ix_match_meetings_match", "match_meetings", ["organization_id", "match_id", "occurred_on"]
    )

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_tenant_rls(table)
        op.drop_table(table)
