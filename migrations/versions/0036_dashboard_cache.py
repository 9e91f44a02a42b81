"""The dashboard's charts kept per organisation until something they are drawn from changes.

The dashboard's two 13-month charts (tandems active and started, check-ins held and missed)
cost some 100 ms at 10,000 tandems, on every visit of the organisation's home page, although
the rows behind them change far less often than the page is opened. The tiles read from the
same tables (active tandems, check-ins overdue) are kept with them; people and tasks are
counted on each visit.

- ``report_changes``: one row per writing transaction and organisation, written by
  statement-level triggers on every table the charts read (tandems, their status log that
  holds the pauses, check-ins, the check-in interval). Each transaction inserts its own row
  (its transaction id), so writers never wait for each other, unlike a counter they would all
  update.
- ``report_dashboard_charts``: one row per organisation with the charts and those tiles of
  one day and the snapshot (``pg_current_snapshot()``) taken before they were computed.

The charts are current while no change row is visible that the snapshot could not see: a
transaction that committed after the snapshot was taken (or was still running then) wrote
something the charts may miss. That test is exact whatever order transactions commit in,
which a counter or a time stamp compared by value is not. Change rows older than the stored
snapshot's oldest running transaction can never fail the test again and are deleted when the
charts are stored.

Revision ID: 0036_dashboard_cache
Revises: 0035_policy_initplans
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls, tenant_key

revision: str = "0036_dashboard_cache"
down_revision: str | None = "0035_policy_initplans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables the dashboard's charts are computed from (shared.reporting.figures: tandems and
# their pauses, check-ins, the check-in interval). report_activity_months is kept from
# match_checkins in the same statement, so its changes are covered by those of the check-ins.
FEEDS = ("matches", "match_events", "match_checkins", "matching_settings")
# Each trigger names its statement's rows ``changed``: the new ones, or the old ones of a delete.
# A row never moves to another organisation (composite keys, RLS), so an update's new rows name
# the organisations it touched.
EVENTS = {
    "insert": "NEW TABLE AS changed",
    "update": "NEW TABLE AS changed",
    "delete": "OLD TABLE AS changed",
}


def upgrade() -> None:
    op.create_table(
        "report_changes",
        *tenant_key("report_changes"),
        # The writing transaction's id (xid8, which bigint holds).
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("organization_id", "xid", name="uq_report_changes_organization_id_xid"),
    )
    enable_tenant_rls("report_changes")
    op.create_table(
        "report_dashboard_charts",
        *tenant_key("report_dashboard_charts"),
        sa.Column("day", sa.Date(), nullable=False),
        # pg_current_snapshot() as text, taken before the charts were computed.
        sa.Column("snapshot", sa.Text(), nullable=False),
        # The figures and charts (msgspec JSON) as computed, before any small-number suppression.
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("organization_id", name="uq_report_dashboard_charts_organization_id"),
    )
    enable_tenant_rls("report_dashboard_charts")
    # Runs with the writer's rights: it notes only organisations the writer could write to.
    op.execute(
        """
        CREATE FUNCTION codo_report_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO report_changes (organization_id, id, xid)
            SELECT d.organization_id, gen_random_uuid(), pg_current_xact_id()::text::bigint
            FROM (SELECT DISTINCT c.organization_id FROM changed c) d
            ON CONFLICT (organization_id, xid) DO NOTHING;
            RETURN NULL;
        END $$
        """
    )
    for table in FEEDS:
        for event, refs in EVENTS.items():
            op.execute(
                f"CREATE TRIGGER report_changed_{event} AFTER {event.upper()} ON {table} "
                f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION codo_report_changed()"
            )


def downgrade() -> None:
    for table in FEEDS:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER report_changed_{event} ON {table}")
    op.execute("DROP FUNCTION codo_report_changed()")
    disable_tenant_rls("report_dashboard_charts")
    op.drop_table("report_dashboard_charts")
    disable_tenant_rls("report_changes")
    op.drop_table("report_changes")
