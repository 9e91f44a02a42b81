"""Change counters: what the matching pools were built from, in one primary-key lookup.

Statement-level triggers on contacts, their programme memberships, field definitions and
matches bump the organisation's counter once per writing transaction, in that transaction: a
pool cached under the revision it was built from is stale as soon as the transaction commits,
and never before.

Revision ID: 0019_change_counters
Revises: 0017_safe_imports
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls, tenant_key

revision: str = "0019_change_counters"
down_revision: str | None = "0017_safe_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The counter's id is shared.matching.people.POOL_TOPIC, 1f9c4f5a-7d02-55b4-95cb-d553d4703f6f.
NOT_SYSTEM = "coalesce(current_setting('codo.system', true), '') <> 'on'"
WATCHED = ("contacts", "contact_programme_members", "contact_fields", "matches")


def upgrade() -> None:
    op.create_table(
        "change_counters",
        *tenant_key("change_counters"),
        sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False),
    )
    enable_tenant_rls("change_counters")
    # Runs with the writer's rights: the rows it counts passed the same policies, so the bump
    # lands in the writer's own organisation (or in the named system context). A transaction
    # bumps each organisation once: its writes become visible together, and a second update of
    # the same row in one transaction would only lengthen the row's version chain.
    op.execute(
        """
        CREATE FUNCTION codo_bump_matching_pool_once(org uuid) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            done text := coalesce(current_setting('codo.matching_bumped', true), '');
        BEGIN
            IF position(org::text IN done) > 0 THEN
                RETURN;
            END IF;
            INSERT INTO change_counters (organization_id, id, revision)
            VALUES (org, '1f9c4f5a-7d02-55b4-95cb-d553d4703f6f'::uuid, 1)
            ON CONFLICT (organization_id, id) DO UPDATE SET revision = change_counters.revision + 1;
            PERFORM set_config('codo.matching_bumped', done || org::text || ',', true);
        END $$
        """
    )
    # Inside an organisation's scope the bump comes BEFORE the statement: the counter's row
    # lock is then taken before the rows' locks, so two writers queue on the counter instead
    # of deadlocking over rows each already holds. In the system context (many organisations,
    # none set) the rows themselves say which organisations to bump, after the statement.
    op.execute(
        """
        CREATE FUNCTION codo_bump_matching_pool_scoped() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM codo_bump_matching_pool_once(current_setting('codo.org_id')::uuid);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION codo_bump_matching_pool_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            org uuid;
        BEGIN
            FOR org IN SELECT DISTINCT organization_id FROM changed LOOP
                PERFORM codo_bump_matching_pool_once(org);
            END LOOP;
            RETURN NULL;
        END $$
        """
    )
    scoped = f"coalesce(current_setting('codo.org_id', true), '') <> '' AND {NOT_SYSTEM}"
    for table in WATCHED:
        for event, side in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            name = event.lower()
            op.execute(
                f"CREATE TRIGGER bump_matching_pool_{name} BEFORE {event} ON {table} "
                f"FOR EACH STATEMENT WHEN ({scoped}) EXECUTE FUNCTION codo_bump_matching_pool_scoped()"
            )
            # A trigger with a transition table may watch one event only.
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
    for function in ("scoped()", "changed()", "once(uuid)"):
        op.execute(f"DROP FUNCTION codo_bump_matching_pool_{function}")
    disable_tenant_rls("change_counters")
    op.drop_table("change_counters")
