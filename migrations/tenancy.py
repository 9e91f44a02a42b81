"""Row-level security for tenant tables, as every migration that adds one must write it.

alembic's autogenerate writes none of this: call :func:`enable_tenant_rls` for each new
tenant table by hand.
"""

from __future__ import annotations

from alembic import op

_CURRENT_ORG = "NULLIF(current_setting('codo.org_id', true), '')::uuid"
# The system context, for the few cross-organisation jobs (see shared.db.Database.system_context).
_SYSTEM = "current_setting('codo.system', true) = 'on'"


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
