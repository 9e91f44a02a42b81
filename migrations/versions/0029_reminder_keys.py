"""Reminders write fewer checks and index entries per row: the ledger and the in-app
notifications lose their separate key to ``organizations``, the task reminder index made twice
keeps one copy, and the index of a task's series holds only the tasks that belong to one.

Each reminder writes a ledger row, an e-mail and an in-app notification in the sweep's one
statement, and every foreign key is a lookup per row. ``reminders_sent`` and ``notifications``
both carry ``membership_id NOT NULL`` with the composite key ``(organization_id, membership_id)``
to ``memberships``, whose own ``organization_id`` references ``organizations``: a row whose member
exists names an existing organisation of that member, and deleting an organisation removes its
members and, through their key's ``ON DELETE CASCADE``, these rows. The separate key to
``organizations`` checked the same thing again (two of the five checks per reminder).

``ix_tasks_reminder_due_org`` (0023) repeats ``ix_tasks_org_reminder_due`` (0005) column for
column and predicate for predicate.

Marking a task reminded rewrites its row and adds an entry to every index of ``tasks`` whose
predicate the row meets. ``ix_tasks_series`` serves lookups by a series (``series_id = :id``,
which implies ``IS NOT NULL``, so the planner uses the partial index as before); most tasks
belong to none, and their entries under NULL were written on every change and never read.
(``ix_tasks_contact`` and ``ix_tasks_match`` would gain the same, but they come from 0006, a
branch beside this one whose order alembic's dependencies do not settle here.)

Revision ID: 0029_reminder_keys
Revises: 0028_match_stamps
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_reminder_keys"
down_revision: str | None = "0028_match_stamps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("reminders_sent", "notifications")
TASK_REMINDER_DUE = "status = 'open' AND assignee_id IS NOT NULL AND reminded_at IS NULL"
OPTIONAL = {"ix_tasks_series": "series_id"}


def upgrade() -> None:
    for table in TABLES:
        op.drop_constraint(f"fk_{table}_organization_id_organizations", table, type_="foreignkey")
    op.drop_index("ix_tasks_reminder_due_org", table_name="tasks")
    for name, column in OPTIONAL.items():
        op.drop_index(name, table_name="tasks")
        op.create_index(
            name, "tasks", ["organization_id", column], postgresql_where=sa.text(f"{column} IS NOT NULL")
        )


def downgrade() -> None:
    for name, column in OPTIONAL.items():
        op.drop_index(name, table_name="tasks")
        op.create_index(name, "tasks", ["organization_id", column])
    op.create_index(
        "ix_tasks_reminder_due_org",
        "tasks",
        ["organization_id", "remind_at"],
        postgresql_where=sa.text(TASK_REMINDER_DUE),
    )
    for table in TABLES:
        op.create_foreign_key(
            f"fk_{table}_organization_id_organizations",
            table,
            "organizations",
            ["organization_id"],
            ["id"],
            ondelete="CASCADE",
        )
