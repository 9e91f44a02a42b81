"""Sign-in: an organisation's provider may be accepted without the email_verified claim.

Revision ID: 0008_signin
Revises: 0007_intake
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_signin"
down_revision: str | None = "0007_intake"
branch_labels: str | Sequence[str] | None = None
# identity_providers comes from 0002_identity, on another branch than 0007_intake.
depends_on: str | Sequence[str] | None = ("0002_identity",)


def upgrade() -> None:
    # Existing providers keep requiring the claim: nobody's sign-in becomes laxer by upgrading.
    op.add_column(
        "identity_providers",
        sa.Column("require_email_verified", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    op.drop_column("identity_providers", "require_email_verified")
