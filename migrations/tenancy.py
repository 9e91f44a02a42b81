"""Row-level security for tenant tables, as every migration that adds one must write it.

alembic's autogenerate writes none of this: call :func:`enable_tenant_rls` for each new
tenant table by hand.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

# Both settings inside a scalar sub-select: PostgreSQL reads them once per statement (an InitPlan)
# instead of calling current_setting() in every row's filter (migration 0035_policy_initplans).
_CURRENT_ORG = "(SELECT NULLIF(current_setting('codo.org_id', true), '')::uuid)"
# The system context, for the few cross-organisation jobs (see shared.db.Database.system_context).
# PostgreSQL ORs the two policies into every tenant query. A plain ``current_setting(...) = 'on'``
# is estimated at 0.5 %, which multiplied every query's row estimate by about 1/200 once there are
# many organisations (sorting a whole organisation instead of reading its index in order); inside
# coalesce() the same test is an opaque boolean, estimated at 50 % (migration 0026_tenant_policies).
_SYSTEM = "(SELECT coalesce(current_setting('codo.system', true) = 'on', false))"


def enable_tenant_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (organization_id = {_CURRENT_ORG}) WITH CHECK (organization_id = {_CURRENT_ORG})"
    )
    op.execute(f"CREATE POLICY system_context ON {table} USING ({_SYSTEM}) WITH CHECK ({_SYSTEM})")


def disable_tenant_rls(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS system_context ON {table}")
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def tenant_key(table: str) -> list[Any]:
    """The key columns of a tenant table: ``organization_id`` (to organizations) and ``id``, together the PK."""
    return [
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey(
                "organizations.id", ondelete="CASCADE", name=f"fk_{table}_organization_id_organizations"
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "id", name=f"pk_{table}"),
    ]


def tenant_fk(
    columns: list[str], target: str, name: str, ondelete: str | None = "CASCADE"
) -> sa.ForeignKeyConstraint:
    """A reference to another tenant table, always through ``organization_id`` too."""
    return sa.ForeignKeyConstraint(
        ["organization_id", *columns],
        [f"{target}.organization_id", f"{target}.id"],
        name=name,
        ondelete=ondelete,
    )


def in_list(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression: ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
