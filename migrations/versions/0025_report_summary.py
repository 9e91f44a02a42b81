"""Monthly activity per tandem: what a series reads instead of every check-in and meeting.

A 5-year monthly series grouped some 190,000 check-ins and meetings by tandem and month on
every request. ``report_activity_months`` holds that grouping: one row per tandem and calendar
month with its check-ins (by rating, flagged for follow-up) and meetings (count, minutes,
volunteer minutes). Statement-level triggers on ``match_checkins`` and ``match_meetings`` keep
it exact in the writing transaction: each statement adds the difference it made (new rows
minus old rows, grouped by tandem and month) with ``ON CONFLICT DO UPDATE SET n = n + ...``,
so two transactions writing the same month both count, and a row that falls to zero goes.
A deleted tandem takes its rows along through the foreign key. Reports read the whole months
of a period from here and the cut months at its edges from the activities, by their day
(indexes below).

Revision ID: 0025_report_summary
Revises: 0024_ranked
Create Date: 2026-11-26
"""

# The statements are put together from the fixed names below only.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.tenancy import disable_tenant_rls, enable_tenant_rls, tenant_fk, tenant_key

revision: str = "0025_report_summary"
down_revision: str | None = "0024_ranked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "report_activity_months"
COUNTS = (
    "checkins",
    "rating_1",
    "rating_2",
    "rating_3",
    "rating_4",
    "rating_5",
    "follow_ups",
    "meetings",
    "meeting_minutes",
    "volunteer_minutes",
)
# Each count of one activity row, times ``c.sign`` (+1 new, -1 old); the other table's are 0.
PER_ROW = {
    "match_checkins": {
        "checkins": "c.sign",
        **{f"rating_{k}": f"CASE WHEN c.rating = {k} THEN c.sign ELSE 0 END" for k in range(1, 6)},
        "follow_ups": "CASE WHEN c.follow_up THEN c.sign ELSE 0 END",
    },
    "match_meetings": {
        "meetings": "c.sign",
        "meeting_minutes": "c.sign * c.duration_minutes",
        "volunteer_minutes": "c.sign * c.volunteer_minutes",
    },
}
SHORT = {"match_checkins": "checkins", "match_meetings": "meetings"}


def _month(column: str) -> str:
    return f"date_trunc('month', {column})::date"


def _rows(op_name: str) -> str:
    """The statement's rows with their sign, from the transition tables its trigger has."""
    sides = {
        "insert": [("changed", 1)],
        "delete": [("before", -1)],
        "update": [("changed", 1), ("before", -1)],
    }
    return " UNION ALL ".join(f"SELECT c.*, {sign} AS sign FROM {name} c" for name, sign in sides[op_name])


def _function(table: str, op_name: str) -> str:
    per_row = PER_ROW[table]
    sums = ", ".join(f"sum({per_row.get(col, '0')}) AS {col}" for col in COUNTS)
    rows = _rows(op_name)
    zero = ", ".join("0" for _ in COUNTS)
    columns = ", ".join(COUNTS)
    add = ", ".join(f"{col} = s.{col} + excluded.{col}" for col in COUNTS)
    gone = (
        f"""
            DELETE FROM {TABLE} s
            USING (SELECT DISTINCT c.organization_id, c.match_id, {_month("c.occurred_on")} AS month
                   FROM ({rows}) c) k
            WHERE s.organization_id = k.organization_id AND s.match_id = k.match_id
              AND s.month = k.month AND s.checkins = 0 AND s.meetings = 0;"""
        if op_name != "insert"
        else ""
    )
    return f"""
        CREATE FUNCTION codo_report_months_{SHORT[table]}_{op_name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- In a fixed order, so two writers of the same months queue instead of deadlocking.
            -- A tandem being deleted takes its months along (the foreign key cascades): what the
            -- deletion of its activities subtracts has nowhere to go.
            INSERT INTO {TABLE} AS s (organization_id, id, match_id, month, {columns})
            SELECT d.organization_id, gen_random_uuid(), d.match_id, d.month, {", ".join(f"d.{c}" for c in COUNTS)}
            FROM (SELECT c.organization_id, c.match_id, {_month("c.occurred_on")} AS month, {sums}
                  FROM ({rows}) c GROUP BY 1, 2, 3) d
            JOIN matches m ON m.organization_id = d.organization_id AND m.id = d.match_id
            WHERE ({", ".join(f"d.{c}" for c in COUNTS)}) <> ({zero})
            ORDER BY d.organization_id, d.match_id, d.month
            ON CONFLICT (organization_id, match_id, month) DO UPDATE SET {add};{gone}
            RETURN NULL;
        END $$
        """


def upgrade() -> None:
    op.execute("SELECT set_config('codo.system', 'on', true)")
    op.create_table(
        TABLE,
        *tenant_key(TABLE),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *[
            sa.Column(
                col,
                sa.BigInteger() if col.endswith("_minutes") else sa.Integer(),
                server_default="0",
                nullable=False,
            )
            for col in COUNTS
        ],
        tenant_fk(["match_id"], "matches", "fk_report_activity_months_match"),
        sa.UniqueConstraint(
            "organization_id",
            "match_id",
            "month",
            name="uq_report_activity_months_organization_id_match_id_month",
        ),
        sa.CheckConstraint("extract(day from month) = 1", name="ck_report_activity_months_month"),
    )
    op.create_index("ix_report_activity_months_month", TABLE, ["organization_id", "month"])
    enable_tenant_rls(TABLE)
    # The days at a period's cut edges are read from the activities themselves.
    op.create_index("ix_match_checkins_day", "match_checkins", ["organization_id", "occurred_on"])
    op.create_index("ix_match_meetings_day", "match_meetings", ["organization_id", "occurred_on"])
    for table in PER_ROW:
        for op_name, refs in (
            ("insert", "NEW TABLE AS changed"),
            ("update", "OLD TABLE AS before NEW TABLE AS changed"),
            ("delete", "OLD TABLE AS before"),
        ):
            op.execute(_function(table, op_name))
            op.execute(
                f"CREATE TRIGGER report_months_{op_name} AFTER {op_name.upper()} ON {table} "
                f"REFERENCING {refs} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION codo_report_months_{SHORT[table]}_{op_name}()"
            )
    checkins = PER_ROW["match_checkins"]
    meetings = PER_ROW["match_meetings"]
    op.execute(
        f"""
        INSERT INTO {TABLE} (organization_id, id, match_id, month, {", ".join(COUNTS)})
        SELECT c.organization_id, gen_random_uuid(), c.match_id, c.month,
               {", ".join(f"sum(c.{col})" for col in COUNTS)}
        FROM (
            SELECT c.organization_id, c.match_id, {_month("c.occurred_on")} AS month,
                   {", ".join(f"{checkins.get(col, '0')} AS {col}" for col in COUNTS)}
            FROM (SELECT k.*, 1 AS sign FROM match_checkins k) c
            UNION ALL
            SELECT c.organization_id, c.match_id, {_month("c.occurred_on")},
                   {", ".join(meetings.get(col, "0") for col in COUNTS)}
            FROM (SELECT v.*, 1 AS sign FROM match_meetings v) c
        ) c
        GROUP BY c.organization_id, c.match_id, c.month
        """
    )
    op.execute("SELECT set_config('codo.system', '', true)")


def downgrade() -> None:
    for table in PER_ROW:
        for op_name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER report_months_{op_name} ON {table}")
            op.execute(f"DROP FUNCTION codo_report_months_{SHORT[table]}_{op_name}()")
    op.drop_index("ix_match_meetings_day", "match_meetings")
    op.drop_index("ix_match_checkins_day", "match_checkins")
    disable_tenant_rls(TABLE)
    op.drop_table(TABLE)
