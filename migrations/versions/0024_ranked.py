"""Readiness and settings move the matching revision too: the pools hold only people ready to
be matched, and a suggestion reads nothing but the revision once its answer is cached.

Intake decides who may be matched (required preparation steps, certificate inspections). With
the same statement-level bump as 0019 on those tables and on the matching settings, a pool
cached under a revision already knows who is ready and by which settings it ranks: recording a
step, an inspection, a new required step or saving settings changes the revision in the
writing transaction.

Revision ID: 0024_ranked
Revises: 0023_scheduled_sends
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_ranked"
down_revision: str | None = "0023_scheduled_sends"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_SYSTEM = "coalesce(current_setting('codo.system', true), '') <> 'on'"
WATCHED = ("screening_steps", "screening_records", "certificate_inspections", "matching_settings")


def upgrade() -> None:
    # The functions are 0019's: bump the organisation once per transaction, before the
    # statement inside its scope, from the transition table in the system context.
    scoped = f"coalesce(current_setting('codo.org_id', true), '') <> '' AND {NOT_SYSTEM}"
    for table in WATCHED:
        for event, side in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            name = event.lower()
            op.execute(
                f"CREATE TRIGGER bump_matching_pool_{name} BEFORE {event} ON {table} "
                f"FOR EACH STATEMENT WHEN ({scoped}) EXECUTE FUNCTION codo_bump_matching_pool_scoped()"
            )
            op.execute(
                f"CREATE TRIGGER bump_matching_pool_{name}_changed AFTER {event} ON {table} "
                f"REFERENCING {side} TABLE AS changed FOR EACH STATEMENT WHEN (NOT ({scoped})) "
                "EXECUTE FUNCTION codo_bump_matching_pool_changed()"
            )


def downgrade() -> None:
    for table in WATCHED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER bump_matching_pool_{event} ON {table}")
            op.execute(f"DROP TRIGGER bump_matching_pool_{event}_changed ON {table}")
