"""The system-context policy in a form the planner does not count as a filter on tenant rows.

Every tenant table has two permissive policies, ORed by PostgreSQL: ``tenant_isolation``
(``organization_id`` is the scoped organisation) and ``system_context``
(``current_setting('codo.system', true) = 'on'``). The planner estimates a comparison without a
column at its default of 0.5 %, so the OR came to about 0.5 % plus one organisation's share, and
every tenant query's row estimate was multiplied by it on top of its own ``organization_id``
filter. With a thousand organisations an organisation's list of 2,000 contacts was estimated at
10 rows; the planner then preferred reading all 2,000 and sorting them (12 ms) over walking the
``(organization_id, sort_name, id)`` index for the first 51 (0.2 ms), while with one organisation
the same query walked the index. ``coalesce(... = 'on', false)`` means exactly the same (true only
for 'on'; unset and '' are false) but is estimated as an opaque boolean at 50 %, so estimates no
longer shrink with the number of organisations and the ordered index path wins as it should.

Revision ID: 0026_tenant_policies
Revises: 0025_report_summary
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026_tenant_policies"
down_revision: str | None = "0025_report_summary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = "current_setting('codo.system', true) = 'on'"
# As migrations.tenancy writes it for tables added later.
_AFTER = "coalesce(current_setting('codo.system', true) = 'on', false)"
_TABLES = (
    "SELECT c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE p.polname = 'system_context' AND n.nspname = current_schema() ORDER BY 1"
)


def _rewrite(expression: str) -> None:
    tables = [row[0] for row in op.get_bind().exec_driver_sql(_TABLES)]
    for table in tables:
        op.execute(f"ALTER POLICY system_context ON {table} USING ({expression}) WITH CHECK ({expression})")


def upgrade() -> None:
    _rewrite(_AFTER)


def downgrade() -> None:
    _rewrite(_BEFORE)
