"""Matching stamps: which people changed since a candidate pool was built, by revision.

The matching revision (0019, 0024) says that something changed; a pool then had to be built
again from every person of the organisation. Each writing statement on the tables the pools
are read from now also stamps the people it touched with the revision of its transaction
(``matching_stamps``, one row per person, the latest revision wins). A pool built at revision
``r`` catches up by reading the people stamped after ``r`` and nobody else. Changes every
person's preparation depends on (field definitions, preparation steps, settings) stamp the
whole organisation (the all-zero id), which asks for a full build.

Revision order is commit order within an organisation: the bump holds the counter's row lock
until the transaction ends, so a reader that sees revision ``r`` sees every stamp up to ``r``.

Revision ID: 0028_match_stamps
Revises: 0027_import_copy
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls, tenant_key

revision: str = "0028_match_stamps"
down_revision: str | None = "0027_import_copy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What identifies the people a row is about: its own id, a contact_id, or both sides of a match;
# "everyone" for definitions every person's preparation is read with.
STAMPED = {
    "contacts": "id",
    "contact_programme_members": "contact_id",
    "screening_records": "contact_id",
    "certificate_inspections": "contact_id",
    "matches": "pair",
    "contact_fields": "everyone",
    "screening_steps": "everyone",
    "matching_settings": "everyone",
}


def upgrade() -> None:
    op.create_table(
        "matching_stamps",
        *tenant_key("matching_stamps"),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_matching_stamps_revision", "matching_stamps", ["organization_id", "revision"])
    enable_tenant_rls("matching_stamps")
    # Runs after the statement with the writer's rights, so it stamps only rows the writer could
    # write. The bump is 0019's (once per transaction and organisation; a no-op when the scoped
    # trigger already did it), then the stamps take the revision the transaction holds.
    op.execute(
        """
        CREATE FUNCTION codo_stamp_matching_people(orgs uuid[], people uuid[]) RETURNS void
        LANGUAGE sql AS $$
            INSERT INTO matching_stamps AS s (organization_id, id, revision)
            SELECT t.org, t.who, c.revision
            FROM (SELECT DISTINCT org, who FROM unnest(orgs, people) AS u (org, who)
                  WHERE who IS NOT NULL) AS t
            JOIN change_counters AS c
              ON c.organization_id = t.org AND c.id = '1f9c4f5a-7d02-55b4-95cb-d553d4703f6f'::uuid
            ON CONFLICT (organization_id, id) DO UPDATE SET revision = EXCLUDED.revision
                WHERE s.revision < EXCLUDED.revision
        $$
        """
    )
    # The transition table has the columns of its table only: one statement per shape.
    op.execute(
        """
        CREATE FUNCTION codo_stamp_matching() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            org uuid;
            orgs uuid[];
            people uuid[];
        BEGIN
            FOR org IN SELECT DISTINCT organization_id FROM changed LOOP
                PERFORM codo_bump_matching_pool_once(org);
            END LOOP;
            IF TG_ARGV[0] = 'id' THEN
                SELECT array_agg(organization_id), array_agg(id) INTO orgs, people FROM changed;
            ELSIF TG_ARGV[0] = 'contact_id' THEN
                SELECT array_agg(organization_id), array_agg(contact_id) INTO orgs, people FROM changed;
            ELSIF TG_ARGV[0] = 'pair' THEN
                SELECT array_agg(organization_id) || array_agg(organization_id),
                       array_agg(mentor_id) || array_agg(mentee_id)
                INTO orgs, people FROM changed;
            ELSE
                SELECT array_agg(DISTINCT organization_id) INTO orgs FROM changed;
                people := array_fill('00000000-0000-0000-0000-000000000000'::uuid,
                                     ARRAY[coalesce(cardinality(orgs), 0)]);
            END IF;
            IF orgs IS NOT NULL THEN
                PERFORM codo_stamp_matching_people(orgs, people);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for table, key in STAMPED.items():
        for event, side in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER stamp_matching_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {side} TABLE AS changed FOR EACH STATEMENT "
                f"EXECUTE FUNCTION codo_stamp_matching('{key}')"
            )
        if key in ("contact_id", "pair"):
            # A row moved to another person (say, merged duplicates) leaves the first one changed too.
            op.execute(
                f"CREATE TRIGGER stamp_matching_update_old AFTER UPDATE ON {table} "
                "REFERENCING OLD TABLE AS changed FOR EACH STATEMENT "
                f"EXECUTE FUNCTION codo_stamp_matching('{key}')"
            )


def downgrade() -> None:
    for table, key in STAMPED.items():
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER stamp_matching_{event} ON {table}")
        if key in ("contact_id", "pair"):
            op.execute(f"DROP TRIGGER stamp_matching_update_old ON {table}")
    op.execute("DROP FUNCTION codo_stamp_matching()")
    op.execute("DROP FUNCTION codo_stamp_matching_people(uuid[], uuid[])")
    disable_tenant_rls("matching_stamps")
    op.drop_table("matching_stamps")
