"""List filters that stay fast at 100,000 contacts under row-level security.

Under row-level security PostgreSQL uses an index only for leakproof conditions (plain
equality), so JSONB containment and "the latest consent of each purpose" are checked row by
row. Each filter therefore gets an equality it can look up:

- ``contact_field_values``: one row per custom value of a contact (each element of a
  multi-choice value), kept by triggers from ``contacts.custom``;
- ``contacts.consent_missing``: whether a required consent's latest record is not "given",
  kept by triggers on consents and on the organisation's required purposes;
- an index on the owner.

Revision ID: 0020_list_filters
Revises: 0019_change_counters
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls, tenant_fk, tenant_key

revision: str = "0020_list_filters"
down_revision: str | None = "0019_change_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VALUE_LENGTH = 200


def upgrade() -> None:
    op.execute("SELECT set_config('codo.system', 'on', true)")
    op.create_index("ix_contacts_owner", "contacts", ["organization_id", "owner_membership_id", "id"])
    # The dashboard's and the board's counts by status.
    op.create_index("ix_contacts_status", "contacts", ["organization_id", "status"])
    _field_values()
    _consent_missing()


def _field_values() -> None:
    op.create_table(
        "contact_field_values",
        *tenant_key("contact_field_values"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("value", sa.String(VALUE_LENGTH), nullable=False),
        tenant_fk(["contact_id"], "contacts", "fk_contact_field_values_contact"),
    )
    op.create_index(
        "ix_contact_field_values_value",
        "contact_field_values",
        ["organization_id", "key", "value", "contact_id"],
    )
    op.create_index(
        "ix_contact_field_values_contact", "contact_field_values", ["organization_id", "contact_id"]
    )
    enable_tenant_rls("contact_field_values")
    # Scalars as their text, lists element by element; objects are not filterable values.
    op.execute(
        f"""
        CREATE FUNCTION codo_field_values(custom jsonb)
        RETURNS TABLE (key text, value text) LANGUAGE sql IMMUTABLE AS $$
            SELECT f.key, left(v.value, {VALUE_LENGTH})
            FROM jsonb_each(coalesce(custom, '{{}}'::jsonb)) f
            CROSS JOIN LATERAL (
                SELECT e.value FROM jsonb_array_elements_text(f.value) e
                WHERE jsonb_typeof(f.value) = 'array'
                UNION ALL
                SELECT f.value #>> '{{}}' WHERE jsonb_typeof(f.value) IN ('string', 'number', 'boolean')
            ) v
        $$
        """  # noqa: S608 (a constant length; nothing here comes from input)
    )
    op.execute(
        """
        CREATE FUNCTION codo_sync_field_values() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                -- Only the contacts whose values changed: most updates touch other columns.
                DELETE FROM contact_field_values v
                USING changed n JOIN before o ON o.organization_id = n.organization_id AND o.id = n.id
                WHERE v.organization_id = n.organization_id AND v.contact_id = n.id
                  AND o.custom IS DISTINCT FROM n.custom;
                INSERT INTO contact_field_values (organization_id, id, contact_id, key, value)
                SELECT n.organization_id, gen_random_uuid(), n.id, f.key, f.value
                FROM changed n JOIN before o ON o.organization_id = n.organization_id AND o.id = n.id
                CROSS JOIN LATERAL codo_field_values(n.custom) f
                WHERE o.custom IS DISTINCT FROM n.custom;
            ELSE
                INSERT INTO contact_field_values (organization_id, id, contact_id, key, value)
                SELECT n.organization_id, gen_random_uuid(), n.id, f.key, f.value
                FROM changed n CROSS JOIN LATERAL codo_field_values(n.custom) f
                WHERE n.custom <> '{}'::jsonb;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER sync_field_values_insert AFTER INSERT ON contacts REFERENCING NEW TABLE AS changed "
        "FOR EACH STATEMENT EXECUTE FUNCTION codo_sync_field_values()"
    )
    op.execute(
        "CREATE TRIGGER sync_field_values_update AFTER UPDATE ON contacts "
        "REFERENCING OLD TABLE AS before NEW TABLE AS changed "
        "FOR EACH STATEMENT EXECUTE FUNCTION codo_sync_field_values()"
    )
    op.execute(
        """
        INSERT INTO contact_field_values (organization_id, id, contact_id, key, value)
        SELECT c.organization_id, gen_random_uuid(), c.id, f.key, f.value
        FROM contacts c CROSS JOIN LATERAL codo_field_values(c.custom) f
        WHERE c.custom <> '{}'::jsonb
        """
    )


def _consent_missing() -> None:
    op.add_column(
        "contacts", sa.Column("consent_missing", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.create_index(
        "ix_contacts_consent_missing", "contacts", ["organization_id", "consent_missing", "sort_name", "id"]
    )
    # The same rule as shared.contacts.service.required_consents and current_consents: the
    # organisation's required purposes (data processing when it has chosen none), each decided
    # by its latest record (effective date, then when it was written).
    op.execute(
        """
        CREATE FUNCTION codo_consent_missing(org uuid, contact uuid) RETURNS boolean
        LANGUAGE sql STABLE AS $$
            SELECT EXISTS (
                SELECT 1
                FROM unnest(coalesce(
                    (SELECT s.required_consents::text[] FROM contact_settings s WHERE s.organization_id = org),
                    ARRAY['data_processing']
                )) AS r(purpose)
                WHERE coalesce((
                    SELECT c.status FROM contact_consents c
                    WHERE c.organization_id = org AND c.contact_id = contact AND c.purpose = r.purpose
                    ORDER BY c.effective_on DESC, c.created_at DESC LIMIT 1
                ), '') <> 'given'
            )
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION codo_consents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE contacts t SET consent_missing = codo_consent_missing(t.organization_id, t.id)
            FROM (SELECT DISTINCT organization_id, contact_id FROM changed) c
            WHERE t.organization_id = c.organization_id AND t.id = c.contact_id
              AND t.consent_missing IS DISTINCT FROM codo_consent_missing(t.organization_id, t.id);
            RETURN NULL;
        END $$
        """
    )
    for event, side in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER consent_missing_{event.lower()} AFTER {event} ON contact_consents "
            f"REFERENCING {side} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION codo_consents_changed()"
        )
    op.execute(
        """
        CREATE FUNCTION codo_required_consents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE contacts t SET consent_missing = codo_consent_missing(t.organization_id, t.id)
            WHERE t.organization_id = NEW.organization_id
              AND t.consent_missing IS DISTINCT FROM codo_consent_missing(t.organization_id, t.id);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER consent_missing_required AFTER INSERT OR UPDATE OF required_consents "
        "ON contact_settings FOR EACH ROW EXECUTE FUNCTION codo_required_consents_changed()"
    )
    op.execute("UPDATE contacts SET consent_missing = codo_consent_missing(organization_id, id)")


def downgrade() -> None:
    op.execute("SELECT set_config('codo.system', 'on', true)")
    op.execute("DROP TRIGGER consent_missing_required ON contact_settings")
    op.execute("DROP FUNCTION codo_required_consents_changed()")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER consent_missing_{event} ON contact_consents")
    op.execute("DROP FUNCTION codo_consents_changed()")
    op.execute("DROP FUNCTION codo_consent_missing(uuid, uuid)")
    op.drop_index("ix_contacts_consent_missing", table_name="contacts")
    op.drop_column("contacts", "consent_missing")
    op.execute("DROP TRIGGER sync_field_values_update ON contacts")
    op.execute("DROP TRIGGER sync_field_values_insert ON contacts")
    op.execute("DROP FUNCTION codo_sync_field_values()")
    op.execute("DROP FUNCTION codo_field_values(jsonb)")
    disable_tenant_rls("contact_field_values")
    op.drop_table("contact_field_values")
    op.drop_index("ix_contacts_status", table_name="contacts")
    op.drop_index("ix_contacts_owner", table_name="contacts")
