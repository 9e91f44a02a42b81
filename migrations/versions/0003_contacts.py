"""Contacts: people, programmes, links, custom fields, consents, timeline, imports and exports.

Revision ID: 0003_contacts
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

revision: str = "0003_contacts"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
NOW = sa.text("now()")
EMPTY_ARRAY = sa.text("'{}'")
EMPTY_OBJECT = sa.text("'{}'::jsonb")
EMPTY_LIST = sa.text("'[]'::jsonb")

TABLES = (
    "contacts",
    "contact_search_terms",
    "contact_programmes",
    "contact_programme_members",
    "contact_links",
    "contact_fields",
    "contact_consents",
    "contact_activities",
    "contact_settings",
    "contact_imports",
    "contact_import_rows",
    "contact_import_mappings",
    "contact_exports",
)


def _array(name: str, length: int) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, ARRAY(sa.String(length)), nullable=False, server_default=EMPTY_ARRAY)


def upgrade() -> None:
    op.create_table(
        "contacts",
        *_key("contacts"),
        _array("kinds", 20),
        sa.Column("first_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("preferred_name", sa.String(100)),
        sa.Column("organisation_name", sa.String(200)),
        sa.Column("birth_date", sa.Date()),
        sa.Column("age_group", sa.String(10)),
        sa.Column("gender", sa.String(20)),
        _array("languages", 2),
        sa.Column("postal_code", sa.String(10)),
        sa.Column("city", sa.String(100)),
        sa.Column("phone", sa.String(40)),
        sa.Column("email", sa.String(320)),
        sa.Column("preferred_channel", sa.String(20)),
        sa.Column("status", sa.String(20), nullable=False, server_default="interested"),
        sa.Column("status_changed_at", TZ, nullable=False, server_default=NOW),
        _array("tags", 50),
        sa.Column("owner_membership_id", sa.Uuid()),
        _array("interests", 100),
        _array("availability", 20),
        sa.Column("capacity", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("preferences", JSONB(), nullable=False, server_default=EMPTY_OBJECT),
        _array("support_kinds", 50),
        sa.Column("notes", sa.Text()),
        sa.Column("waiting_since", sa.Date()),
        sa.Column("last_match_ended_on", sa.Date()),
        sa.Column("custom", JSONB(), nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("legal_hold_reason", sa.Text()),
        sa.Column("erased_at", TZ),
        sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("sort_name", sa.String(250), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        _fk(["owner_membership_id"], "memberships", "fk_contacts_owner", "SET NULL (owner_membership_id)"),
        sa.CheckConstraint(
            _in("status", ("interested", "screening", "ready", "matched", "paused", "alumni", "declined")),
            name="ck_contacts_status",
        ),
        sa.CheckConstraint("capacity >= 0", name="ck_contacts_capacity"),
    )
    op.create_index("ix_contacts_sort_name", "contacts", ["organization_id", "sort_name", "id"])
    op.create_index("ix_contacts_created", "contacts", ["organization_id", "created_at", "id"])
    op.create_index("ix_contacts_updated", "contacts", ["organization_id", "updated_at", "id"])
    op.create_index("ix_contacts_email", "contacts", ["organization_id", "email"])
    # Searching goes through this inverted index; see shared.contacts.models.SearchTerm for why.
    op.create_table(
        "contact_search_terms",
        *_key("contact_search_terms"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("term", sa.String(100, collation="C"), nullable=False),
    )
    op.create_index(
        "ix_contact_search_terms_term", "contact_search_terms", ["organization_id", "term", "contact_id"]
    )
    op.create_index(
        "ix_contact_search_terms_contact", "contact_search_terms", ["organization_id", "contact_id"]
    )

    op.create_table(
        "contact_programmes",
        *_key("contact_programmes"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint("organization_id", "name", name="uq_contact_programmes_organization_id_name"),
    )
    op.create_table(
        "contact_programme_members",
        *_key("contact_programme_members"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint(
            "organization_id",
            "contact_id",
            "programme_id",
            name="uq_contact_programme_members_contact",
        ),
        _fk(["contact_id"], "contacts", "fk_contact_programme_members_contact"),
        _fk(["programme_id"], "contact_programmes", "fk_contact_programme_members_programme"),
    )
    op.create_index(
        "ix_contact_programme_members_programme",
        "contact_programme_members",
        ["organization_id", "programme_id"],
    )
    op.create_table(
        "contact_links",
        *_key("contact_links"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("related_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint(
            "organization_id",
            "contact_id",
            "related_id",
            "kind",
            name="uq_contact_links_pair",
        ),
        _fk(["contact_id"], "contacts", "fk_contact_links_contact"),
        _fk(["related_id"], "contacts", "fk_contact_links_related"),
        sa.CheckConstraint("contact_id <> related_id", name="ck_contact_links_not_self"),
    )
    op.create_index("ix_contact_links_related", "contact_links", ["organization_id", "related_id"])
    op.create_table(
        "contact_fields",
        *_key("contact_fields"),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("label_de", sa.String(200), nullable=False),
        sa.Column("label_en", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("options", JSONB(), nullable=False, server_default=EMPTY_LIST),
        _array("required_for", 20),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("archived_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint("organization_id", "key", name="uq_contact_fields_organization_id_key"),
        sa.CheckConstraint(
            _in("type", ("text", "number", "date", "choice", "multi_choice", "boolean")),
            name="ck_contact_fields_type",
        ),
    )
    op.create_table(
        "contact_consents",
        *_key("contact_consents"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(50), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("given_by", sa.String(200)),
        sa.Column("evidence", sa.Text()),
        sa.Column("recorded_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["contact_id"], "contacts", "fk_contact_consents_contact"),
        sa.CheckConstraint(_in("status", ("given", "withdrawn")), name="ck_contact_consents_status"),
    )
    op.create_index(
        "ix_contact_consents_contact", "contact_consents", ["organization_id", "contact_id", "purpose"]
    )
    op.create_table(
        "contact_activities",
        *_key("contact_activities"),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("author_membership_id", sa.Uuid()),
        sa.Column("author_token_id", sa.Uuid()),
        sa.Column("author_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("body", sa.Text(), nullable=False, server_default=""),
        sa.Column("confidential", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        _fk(["contact_id"], "contacts", "fk_contact_activities_contact"),
        _fk(["author_membership_id"], "memberships", "fk_contact_activities_author", None),
        sa.CheckConstraint(
            _in("kind", ("note", "call", "meeting", "email")), name="ck_contact_activities_kind"
        ),
    )
    op.create_index(
        "ix_contact_activities_contact",
        "contact_activities",
        ["organization_id", "contact_id", "occurred_at"],
    )
    op.create_table(
        "contact_settings",
        *_key("contact_settings"),
        sa.Column(
            "required_consents",
            ARRAY(sa.String(50)),
            nullable=False,
            server_default=sa.text("'{data_processing}'"),
        ),
        sa.Column("retention_months", sa.Integer()),
        sa.Column(
            "retention_statuses", ARRAY(sa.String(20)), nullable=False, server_default=sa.text("'{alumni}'")
        ),
        sa.Column("updated_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint("organization_id", name="uq_contact_settings_organization_id"),
    )
    op.create_table(
        "contact_imports",
        *_key("contact_imports"),
        sa.Column("status", sa.String(10), nullable=False, server_default="dry_run"),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("content", sa.LargeBinary()),
        sa.Column("mapping", JSONB(), nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("atomicity", sa.String(10), nullable=False, server_default="batch"),
        sa.Column("batch_size", sa.Integer(), nullable=False, server_default="500"),
        sa.Column("total_rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("processed_rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rejected_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("report", JSONB(), nullable=False, server_default=EMPTY_LIST),
        sa.Column("error", sa.Text()),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("started_at", TZ),
        sa.Column("heartbeat_at", TZ),
        sa.Column("finished_at", TZ),
        sa.Column("undone_at", TZ),
        sa.CheckConstraint(
            _in("status", ("dry_run", "running", "done", "failed", "undone")),
            name="ck_contact_imports_status",
        ),
        sa.CheckConstraint(_in("atomicity", ("batch", "all")), name="ck_contact_imports_atomicity"),
    )
    op.create_table(
        "contact_import_rows",
        *_key("contact_import_rows"),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("before", JSONB()),
        _fk(["import_id"], "contact_imports", "fk_contact_import_rows_import"),
        _fk(["contact_id"], "contacts", "fk_contact_import_rows_contact"),
    )
    op.create_index(
        "ix_contact_import_rows_import", "contact_import_rows", ["organization_id", "import_id", "row_number"]
    )
    op.create_index(
        "ix_contact_import_rows_contact", "contact_import_rows", ["organization_id", "contact_id"]
    )
    op.create_table(
        "contact_import_mappings",
        *_key("contact_import_mappings"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("columns", JSONB(), nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.UniqueConstraint(
            "organization_id", "name", name="uq_contact_import_mappings_organization_id_name"
        ),
    )
    op.create_table(
        "contact_exports",
        *_key("contact_exports"),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("format", sa.String(4), nullable=False),
        sa.Column("query", JSONB(), nullable=False, server_default=EMPTY_OBJECT),
        sa.Column("columns", ARRAY(sa.String(60)), nullable=False, server_default=EMPTY_ARRAY),
        sa.Column("row_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("content", sa.LargeBinary()),
        sa.Column("error", sa.Text()),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", TZ, nullable=False, server_default=NOW),
        sa.Column("finished_at", TZ),
        sa.CheckConstraint(_in("format", ("csv", "xlsx")), name="ck_contact_exports_format"),
    )
    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        disable_tenant_rls(table)
        op.drop_table(table)
