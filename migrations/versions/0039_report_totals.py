"""The dashboard's change rows say from which day on the charts may have changed.

After a write, a visit of the dashboard computed all 13 months of its charts again (some 60 ms at
10,000 tandems), although the usual write, a check-in held this week, changes only the current
month. Each change row of 0036 now carries ``since``: the earliest day its transaction's writes can
have changed in the charts. A visit then computes again only the months from that day's on and
keeps the earlier ones of the stored charts.

- a check-in: its day (the old and the new one of an update);
- a tandem: the earliest of its dates (proposal, introduction, start, pause, end; old and new),
  since its counts and due check-ins run from its start and depend on its programme;
- the status log (pauses) and the check-in interval: any day (``-infinity``), as a pause's end
  or an interval reaches back over a tandem's whole run.

0036's trigger inserts the row with ``since = infinity`` (nothing known yet); a second statement
trigger on each of the same tables, firing after it (triggers of one event fire in the order of
their names), lowers ``since`` to its statement's earliest day. It only updates that row, so an
organisation whose row was left out (one being deleted) gets none. Rows written before this
revision mean any day.

Revision ID: 0039_report_totals
Revises: 0038_org_delete
Create Date: 2026-11-27
"""

# The statements are put together from the fixed names below only.
# ruff: noqa: S608

from collections.abc import Sequence

from alembic import op

revision: str = "0039_report_totals"
down_revision: str | None = "0038_org_delete"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The earliest day a row of each table can have changed in the charts.
DAY = {
    "match_checkins": "r.occurred_on",
    "matches": "least(r.proposed_on, r.introduced_on, r.started_on, r.paused_on, r.ended_on)",
    "match_events": "CAST('-infinity' AS date)",
    "matching_settings": "CAST('-infinity' AS date)",
}
SHORT = {
    "match_checkins": "checkins",
    "matches": "tandems",
    "match_events": "events",
    "matching_settings": "settings",
}


def _function(table: str, kind: str, rows: str) -> str:
    # ``rows``: the statement's transition tables as one relation of the table's rows.
    return f"""
        CREATE FUNCTION codo_report_dated_{SHORT[table]}_{kind}()
        RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE report_changes x SET since = least(x.since, d.since)
            FROM (SELECT r.organization_id, coalesce(min({DAY[table]}), CAST('-infinity' AS date)) AS since
                  FROM ({rows}) r GROUP BY r.organization_id) d
            WHERE x.organization_id = d.organization_id AND x.xid = pg_current_xact_id()::text::bigint
              AND x.since > d.since;
            RETURN NULL;
        END $$
        """


def upgrade() -> None:
    op.execute("ALTER TABLE report_changes ADD COLUMN since date NOT NULL DEFAULT '-infinity'")
    op.execute("ALTER TABLE report_changes ALTER COLUMN since SET DEFAULT 'infinity'")
    for table in DAY:
        op.execute(_function(table, "rows", "SELECT * FROM changed"))
        op.execute(_function(table, "moved", "SELECT * FROM changed UNION ALL SELECT * FROM gone"))
        short = SHORT[table]
        for event, refs, kind in (
            ("insert", "NEW TABLE AS changed", "rows"),
            ("delete", "OLD TABLE AS changed", "rows"),
            ("update", "OLD TABLE AS gone NEW TABLE AS changed", "moved"),
        ):
            op.execute(
                f"CREATE TRIGGER report_dated_{event} AFTER {event.upper()} ON {table} "
                f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION codo_report_dated_{short}_{kind}()"
            )


def downgrade() -> None:
    for table in DAY:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER report_dated_{event} ON {table}")
        for kind in ("rows", "moved"):
            op.execute(f"DROP FUNCTION codo_report_dated_{SHORT[table]}_{kind}()")
    op.execute("ALTER TABLE report_changes DROP COLUMN since")
