"""Change counters: what the matching pools were built from, in one primary-key lookup.

Statement-level triggers on contacts, their programme memberships, field definitions and matches bump the
organisation's counter once per statement (from the transition table, so a 10,000-row import
batch costs one bump), in the writing transaction: a pool cached under the revision it was
built from is stale as soon as that transaction commits, and never before.

Revision ID: 0019_change_counters
Revises: 0012_loose_ends
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls, tenant_key

revision: str = "0019_change_counters"
down_revision: str | None = "0012_loose_ends"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# shared.matching.people.POOL_TOPIC
MATCHING_POOL = "1f9c4f5a-7d02-55b4-95cb-d553d4703f6f"
WATCHED = ("contacts", "contact_programme_members", "contact_fields", "matches")


def upgrade() -> None:
    op.create_table(
        "change_counters",
        *tenant_key("change_counters"),
        sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False),
    )
    enable_tenant_rls("change_counters")
    # Runs with the writer's rights: the rows it counts passed the same policies, so the bump
    # lands in the writer's own organisation (or in the named system context).
    op.execute(
        f"""
        CREATE FUNCTION codo_bump_matching_pool() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO change_counters (organization_id, id, revision)
            SELECT DISTINCT organization_id, '{MATCHING_POOL}'::uuid, 1 FROM changed
            ON CONFLICT (organization_id, id)
            DO UPDATE SET revision = change_counters.revision + 1;
            RETURN NULL;
        END $$
        """  # noqa: S608 (the topic is a constant; nothing here comes from input)
    )
    for table in WATCHED:
        # A trigger with a transition table may watch one event only.
        for event, side in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER bump_matching_pool_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {side} TABLE AS changed "
                "FOR EACH STATEMENT EXECUTE FUNCTION codo_bump_matching_pool()"
            )


def downgrade() -> None:
    for table in WATCHED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER bump_matching_pool_{event} ON {table}")
    op.execute("DROP FUNCTION codo_bump_matching_pool()")
    disable_tenant_rls("change_counters")
    op.drop_table("change_counters")
