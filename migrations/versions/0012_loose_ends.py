"""Loose ends: outbox attachments and body retention, contacts' appointment reminders,
intake's statuses in the contacts' vocabulary, an organisation's legal pages, the platform outbox.

Revision ID: 0012_loose_ends
Revises: 0011_reporting
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from migrations.tenancy import in_list

revision: str = "0012_loose_ends"
down_revision: str | None = "0011_reporting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "outbox", sa.Column("attachments", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb"))
    )
    op.add_column("outbox", sa.Column("body_purged_at", TZ))
    op.add_column("appointment_participants", sa.Column("reminded_period", sa.String(40)))
    _one_status_list()
    op.add_column("organizations", sa.Column("privacy_url", sa.String(500)))
    op.add_column("organizations", sa.Column("imprint_url", sa.String(500)))
    op.create_table(
        "platform_outbox",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.text("now()")),
        sa.Column("locked_until", TZ),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.text("now()")),
        sa.Column("sent_at", TZ),
        sa.CheckConstraint(
            in_list("status", ("pending", "sending", "sent", "failed")), name="ck_platform_outbox_status"
        ),
    )
    op.create_index(
        "ix_platform_outbox_due",
        "platform_outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )


OLD_STATUSES = ("interested", "screening", "ready", "matched", "paused", "alumni", "declined")
STATUSES = ("new", *OLD_STATUSES, "declined_child_protection")


def _status_check(values: tuple[str, ...]) -> None:
    op.drop_constraint("ck_contacts_status", "contacts", type_="check")
    op.create_check_constraint("ck_contacts_status", "contacts", in_list("status", values))


def _system_context() -> None:
    # The tables force row-level security even for their owner: data moves run in the system context.
    op.execute("SELECT set_config('codo.system', 'on', true)")


def _one_status_list() -> None:
    """Intake's "new" and "declined_child_protection" become the contact's own status."""
    _system_context()
    op.alter_column("contacts", "status", type_=sa.String(30))
    _status_check(STATUSES)
    # Declined for child protection wins over any other status; "new" only replaces the default
    # a sign-up was created with, never a status a coordinator has chosen since.
    op.execute(
        """
        UPDATE contacts c SET status = p.intake_status, status_changed_at = now()
        FROM intake_profiles p
        WHERE p.organization_id = c.organization_id AND p.contact_id = c.id
          AND (p.intake_status = 'declined_child_protection'
               OR (p.intake_status = 'new' AND c.status = 'interested'))
        """
    )
    op.drop_constraint("ck_intake_profiles_status", "intake_profiles", type_="check")
    op.drop_column("intake_profiles", "intake_status")


def downgrade() -> None:
    op.drop_column("organizations", "imprint_url")
    op.drop_column("organizations", "privacy_url")
    op.drop_index("ix_platform_outbox_due", table_name="platform_outbox")
    op.drop_table("platform_outbox")
    _system_context()
    op.add_column("intake_profiles", sa.Column("intake_status", sa.String(30)))
    op.execute(
        """
        INSERT INTO intake_profiles (organization_id, id, contact_id)
        SELECT c.organization_id, gen_random_uuid(), c.id FROM contacts c
        WHERE c.status IN ('new', 'declined_child_protection')
          AND NOT EXISTS (SELECT 1 FROM intake_profiles p
                          WHERE p.organization_id = c.organization_id AND p.contact_id = c.id)
        """
    )
    op.execute(
        """
        UPDATE intake_profiles p SET intake_status = c.status FROM contacts c
        WHERE c.organization_id = p.organization_id AND c.id = p.contact_id
          AND c.status IN ('new', 'declined_child_protection')
        """
    )
    op.create_check_constraint(
        "ck_intake_profiles_status",
        "intake_profiles",
        f"intake_status IS NULL OR {in_list('intake_status', ('new', 'declined_child_protection'))}",
    )
    op.execute(
        "UPDATE contacts SET status = CASE status WHEN 'new' THEN 'interested' ELSE 'declined' END "
        "WHERE status IN ('new', 'declined_child_protection')"
    )
    _status_check(OLD_STATUSES)
    op.alter_column("contacts", "status", type_=sa.String(20))
    op.drop_column("appointment_participants", "reminded_period")
    op.drop_column("outbox", "body_purged_at")
    op.drop_column("outbox", "attachments")
