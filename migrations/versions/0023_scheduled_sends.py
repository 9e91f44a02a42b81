"""Scheduled sends: a questionnaire scan that costs nothing when nothing is due, and the task
reminders of many organisations claimed by name.

The questionnaire scan runs every few seconds; finding the due occurrences means joining every
active schedule with every tandem of its programme. Whether an organisation can have anything
new due changes only when a day passes or when what the schedules are computed from changes:
tandems (start, end, status, programme), guardians (contact links), schedules, questionnaires
(archived or not), or an invitation being deleted. ``questionnaire_scans`` holds one row per
organisation: a ``revision`` that triggers bump once per writing transaction on those tables, and
the day and revision up to which the sender has written everything due. The scan joins only the
organisations whose row is not checked for today at the current revision.

Revision ID: 0023_scheduled_sends
Revises: 0022_import_speed
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls, tenant_key

revision: str = "0023_scheduled_sends"
down_revision: str | None = "0022_import_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The row's id is shared.questionnaires.models.SCAN_ROW, 4d3801b4-601d-570c-af61-6f9e7c4cf77a.
NOT_SYSTEM = "coalesce(current_setting('codo.system', true), '') <> 'on'"
# The tables the due occurrences are computed from, and the events that can make one due.
WATCHED = {
    "matches": ("INSERT", "UPDATE", "DELETE"),
    "contact_links": ("INSERT", "UPDATE", "DELETE"),
    "questionnaire_schedules": ("INSERT", "UPDATE", "DELETE"),
    "questionnaires": ("INSERT", "UPDATE", "DELETE"),
    # Not INSERT: writing invitations is what the sender itself does.
    "questionnaire_invitations": ("DELETE",),
}


def upgrade() -> None:
    op.create_table(
        "questionnaire_scans",
        *tenant_key("questionnaire_scans"),
        sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=True),
        sa.Column("checked_revision", sa.BigInteger(), nullable=True),
    )
    enable_tenant_rls("questionnaire_scans")
    # As the matching pool's counter (0019): once per transaction and organisation, with the
    # writer's rights; inside an organisation's scope before the statement (the counter's row lock
    # comes before any row lock), in the system context after it, from the rows written.
    op.execute(
        """
        CREATE FUNCTION codo_bump_questionnaire_scan_once(org uuid) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            done text := coalesce(current_setting('codo.questionnaire_scan_bumped', true), '');
        BEGIN
            IF position(org::text IN done) > 0 THEN
                RETURN;
            END IF;
            INSERT INTO questionnaire_scans (organization_id, id, revision)
            VALUES (org, '4d3801b4-601d-570c-af61-6f9e7c4cf77a'::uuid, 1)
            ON CONFLICT (organization_id, id) DO UPDATE SET revision = questionnaire_scans.revision + 1;
            PERFORM set_config('codo.questionnaire_scan_bumped', done || org::text || ',', true);
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION codo_bump_questionnaire_scan_scoped() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM codo_bump_questionnaire_scan_once(current_setting('codo.org_id')::uuid);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION codo_bump_questionnaire_scan_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            org uuid;
        BEGIN
            FOR org IN SELECT DISTINCT organization_id FROM changed LOOP
                PERFORM codo_bump_questionnaire_scan_once(org);
            END LOOP;
            RETURN NULL;
        END $$
        """
    )
    scoped = f"coalesce(current_setting('codo.org_id', true), '') <> '' AND {NOT_SYSTEM}"
    for table, events in WATCHED.items():
        for event in events:
            name, side = event.lower(), "OLD" if event == "DELETE" else "NEW"
            op.execute(
                f"CREATE TRIGGER bump_questionnaire_scan_{name} BEFORE {event} ON {table} "
                f"FOR EACH STATEMENT WHEN ({scoped}) EXECUTE FUNCTION codo_bump_questionnaire_scan_scoped()"
            )
            op.execute(
                f"CREATE TRIGGER bump_questionnaire_scan_{name}_changed AFTER {event} ON {table} "
                f"REFERENCING {side} TABLE AS changed FOR EACH STATEMENT WHEN (NOT ({scoped})) "
                "EXECUTE FUNCTION codo_bump_questionnaire_scan_changed()"
            )

    # The reminder sweep claims the due tasks of a group of organisations by name (the row-level
    # policy is no index condition): this index serves exactly that, and only the tasks still due.
    op.create_index(
        "ix_tasks_reminder_due_org",
        "tasks",
        ["organization_id", "remind_at"],
        postgresql_where=sa.text("status = 'open' AND assignee_id IS NOT NULL AND reminded_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_reminder_due_org", table_name="tasks")
    for table, events in WATCHED.items():
        for event in events:
            op.execute(f"DROP TRIGGER bump_questionnaire_scan_{event.lower()} ON {table}")
            op.execute(f"DROP TRIGGER bump_questionnaire_scan_{event.lower()}_changed ON {table}")
    for function in ("scoped()", "changed()", "once(uuid)"):
        op.execute(f"DROP FUNCTION codo_bump_questionnaire_scan_{function}")
    disable_tenant_rls("questionnaire_scans")
    op.drop_table("questionnaire_scans")
