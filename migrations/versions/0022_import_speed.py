"""Import speed: the rows a dry run planned are kept, so the commit does not check them again.

``plan`` holds each row's checked values (and what the row does) as the dry run found them;
``plan_revision`` is the organisation's change counter (migration 0019) the plan was made at,
moved on by each batch the import writes itself. While the counter stands there, nothing the
plan depends on (contacts, programme members, custom field definitions) has changed, and the
worker writes the kept plan; otherwise it plans again, as before.

Revision ID: 0022_import_speed
Revises: 0020_list_filters
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_import_speed"
down_revision: str | None = "0020_list_filters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contact_imports", sa.Column("plan", sa.LargeBinary(), nullable=True))
    op.add_column("contact_imports", sa.Column("plan_revision", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("contact_imports", "plan_revision")
    op.drop_column("contact_imports", "plan")
