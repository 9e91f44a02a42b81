"""Safe imports: the file's columns in order with sample values, the import's overwrite choices,
and no foreign key from an import's undo record to the contact (see ImportRow).

Revision ID: 0017_safe_imports
Revises: 0014_meeting_log
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0017_safe_imports"
down_revision: str | None = "0014_meeting_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A JSON object keeps no key order, so the mapping alone cannot show the file's column order.
    op.add_column(
        "contact_imports",
        sa.Column("columns", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column(
        "contact_imports",
        sa.Column("options", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.drop_constraint("fk_contact_import_rows_contact", "contact_import_rows", type_="foreignkey")


def downgrade() -> None:
    op.execute(
        "DELETE FROM contact_import_rows r WHERE NOT EXISTS "
        "(SELECT 1 FROM contacts c WHERE c.organization_id = r.organization_id AND c.id = r.contact_id)"
    )
    op.create_foreign_key(
        "fk_contact_import_rows_contact",
        "contact_import_rows",
        "contacts",
        ["organization_id", "contact_id"],
        ["organization_id", "id"],
        ondelete="CASCADE",
    )
    op.drop_column("contact_imports", "options")
    op.drop_column("contact_imports", "columns")
