"""The task list reads its organisation's tasks in the order it shows them, from an index.

The list (``GET /api/v1/orgs/{slug}/tasks`` and the tasks page) is ordered by due time, then id,
and pages on that pair. Without a filter no index held that order: every page sorted all the
organisation's tasks, open and done, so each page cost as much as the organisation's whole
history of tasks. ``ix_tasks_due`` holds ``(organization_id, due_at, id)``, and the open tasks'
index (the today, overdue, week and upcoming views) gains ``id``, so that those views too read a
page and stop, and a page's cursor ``(due_at, id) > (…)`` is a range on the index.

Revision ID: 0034_flat_indexes
Revises: 0029_reminder_keys
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034_flat_indexes"
down_revision: str | None = "0029_reminder_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_index("ix_tasks_due", "tasks", ["organization_id", "due_at", "id"])
    op.drop_index("ix_tasks_open_due", "tasks")
    op.create_index("ix_tasks_open_due", "tasks", ["organization_id", "due_at", "id"], postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_tasks_open_due", "tasks")
    op.create_index("ix_tasks_open_due", "tasks", ["organization_id", "due_at"], postgresql_where=OPEN)
    op.drop_index("ix_tasks_due", "tasks")
