"""Search terms and import rows without a per-row check against organizations.

A contact has ten-odd search terms, and the foreign key from each term to its organisation was
checked row by row: a third of the database's work for the terms of a 10,000-row import, a
seventh of the whole commit. The terms are a derived index of contacts (they already have no
foreign key to contacts, see shared.contacts.models.SearchTerm) and row-level security's WITH
CHECK already pins every written term to the organisation in scope. What the key still did,
deleting an organisation's terms with the organisation, a statement-level trigger does now, in
one statement for all deleted organisations.

An import's rows (what each row did, for undo) reference their import through
(organization_id, import_id), which already names an existing organisation and cascades from
it; their own key to organizations only repeated that check, once per imported row.

An import's batches are 2,000 rows unless it says otherwise (shared.contacts.imports.BATCH_SIZE).

Revision ID: 0027_import_copy
Revises: 0026_tenant_policies
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027_import_copy"
down_revision: str | None = "0026_tenant_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("contact_imports", "batch_size", server_default="2000")
    op.drop_constraint(
        "fk_contact_import_rows_organization_id_organizations", "contact_import_rows", type_="foreignkey"
    )
    op.drop_constraint(
        "fk_contact_search_terms_organization_id_organizations", "contact_search_terms", type_="foreignkey"
    )
    # The terms are under forced row-level security like every tenant table; the cascade of a
    # foreign key bypasses it, so this trigger names the system context for its one statement.
    op.execute(
        """
        CREATE FUNCTION codo_drop_search_terms() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            was text := coalesce(current_setting('codo.system', true), '');
        BEGIN
            PERFORM set_config('codo.system', 'on', true);
            DELETE FROM contact_search_terms t USING gone g WHERE t.organization_id = g.id;
            PERFORM set_config('codo.system', was, true);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER drop_search_terms AFTER DELETE ON organizations REFERENCING OLD TABLE AS gone "
        "FOR EACH STATEMENT EXECUTE FUNCTION codo_drop_search_terms()"
    )


def downgrade() -> None:
    op.alter_column("contact_imports", "batch_size", server_default="500")
    op.create_foreign_key(
        "fk_contact_import_rows_organization_id_organizations",
        "contact_import_rows",
        "organizations",
        ["organization_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.execute("DROP TRIGGER drop_search_terms ON organizations")
    op.execute("DROP FUNCTION codo_drop_search_terms()")
    op.create_foreign_key(
        "fk_contact_search_terms_organization_id_organizations",
        "contact_search_terms",
        "organizations",
        ["organization_id"],
        ["id"],
        ondelete="CASCADE",
    )
