"""Deleting an organisation with data: the triggers that keep derived rows write none for it.

Deleting an organisation cascades through every tenant table, and the statement triggers on
those tables then did their usual work for the rows deleted. The counters of the matching pool
and of the questionnaire scan (0019, 0023, 0024) and the dashboard's change rows (0036) wrote a
new row of the organisation being deleted: refused by row-level security without a system
context, by the foreign key to the organisation with one. No organisation with data could be
deleted. The people's stamps (0028), the monthly summary (0025) and the missing-consent flag
(0020) only got by because of the order the foreign keys happen to cascade in (the tandems go
before their check-ins) or because the rows they update already exist; they skip the
organisation too, so that no order of the cascade can break a deletion.

A row trigger on ``organizations`` now notes each organisation a deletion is about to remove in
the transaction-local setting ``codo.deleting_orgs`` before the cascade runs, and the trigger
functions leave those organisations out. An ordinary write pays a read of that (empty) setting
per statement and a string search in it per organisation or summary row it writes, no lookup.
The setting is transaction-local, so it is gone with the transaction, and a rollback to a
savepoint takes it back with the deletion.

Revision ID: 0038_org_delete
Revises: 0036_dashboard_cache
Create Date: 2026-11-27
"""

# The statements are put together from the fixed names below only.
# ruff: noqa: S608

from collections.abc import Sequence

from alembic import op

revision: str = "0038_org_delete"
down_revision: str | None = "0036_dashboard_cache"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The organisations the current transaction deletes, each followed by a comma.
DELETING = "coalesce(current_setting('codo.deleting_orgs', true), '')"


def _kept(column: str, deleting: str, skip: bool) -> str:
    """A condition that leaves out the organisations being deleted (nothing before this revision)."""
    return f" AND strpos({deleting}, {column}::text) = 0" if skip else ""


def _declare(skip: bool) -> str:
    """The deleting list, read once per statement into a variable of the trigger function."""
    return f"\n        DECLARE\n            deleting text := {DELETING};" if skip else ""


def _bump_once(name: str, table: str, topic: str, setting: str, skip: bool) -> str:
    # As 0019/0023 wrote them, plus: an organisation being deleted gets no counter row.
    gone = (
        f"""
            IF strpos({DELETING}, org::text) > 0 THEN
                RETURN;
            END IF;"""
        if skip
        else ""
    )
    return f"""
        CREATE OR REPLACE FUNCTION codo_bump_{name}_once(org uuid) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            done text := coalesce(current_setting('codo.{setting}', true), '');
        BEGIN
            IF position(org::text IN done) > 0 THEN
                RETURN;
            END IF;{gone}
            INSERT INTO {table} (organization_id, id, revision)
            VALUES (org, '{topic}'::uuid, 1)
            ON CONFLICT (organization_id, id) DO UPDATE SET revision = {table}.revision + 1;
            PERFORM set_config('codo.{setting}', done || org::text || ',', true);
        END $$
        """


def _stamp_people(skip: bool) -> str:
    # The deleting list inside a scalar sub-select is read once per statement (an InitPlan).
    kept = _kept("t.org", f"(SELECT {DELETING})", skip)
    return f"""
        CREATE OR REPLACE FUNCTION codo_stamp_matching_people(orgs uuid[], people uuid[]) RETURNS void
        LANGUAGE sql AS $$
            INSERT INTO matching_stamps AS s (organization_id, id, revision)
            SELECT t.org, t.who, c.revision
            FROM (SELECT DISTINCT org, who FROM unnest(orgs, people) AS u (org, who)
                  WHERE who IS NOT NULL) AS t
            JOIN change_counters AS c
              ON c.organization_id = t.org AND c.id = '1f9c4f5a-7d02-55b4-95cb-d553d4703f6f'::uuid{kept}
            ON CONFLICT (organization_id, id) DO UPDATE SET revision = EXCLUDED.revision
                WHERE s.revision < EXCLUDED.revision
        $$
        """


def _report_changed(skip: bool) -> str:
    declare = _declare(skip)
    where = "\n            WHERE strpos(deleting, d.organization_id::text) = 0" if skip else ""
    return f"""
        CREATE OR REPLACE FUNCTION codo_report_changed() RETURNS trigger LANGUAGE plpgsql AS $${declare}
        BEGIN
            INSERT INTO report_changes (organization_id, id, xid)
            SELECT d.organization_id, gen_random_uuid(), pg_current_xact_id()::text::bigint
            FROM (SELECT DISTINCT c.organization_id FROM changed c) d{where}
            ON CONFLICT (organization_id, xid) DO NOTHING;
            RETURN NULL;
        END $$
        """


def _consents_changed(skip: bool) -> str:
    declare = _declare(skip)
    kept = _kept("c.organization_id", "deleting", skip)
    return f"""
        CREATE OR REPLACE FUNCTION codo_consents_changed() RETURNS trigger LANGUAGE plpgsql AS $${declare}
        BEGIN
            UPDATE contacts t SET consent_missing = codo_consent_missing(t.organization_id, t.id)
            FROM (SELECT DISTINCT organization_id, contact_id FROM changed) c
            WHERE t.organization_id = c.organization_id AND t.id = c.contact_id
              AND t.consent_missing IS DISTINCT FROM codo_consent_missing(t.organization_id, t.id){kept};
            RETURN NULL;
        END $$
        """


# 0025's monthly activity summary, unchanged but for the organisations being deleted.
MONTHS = "report_activity_months"
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
    sides = {
        "insert": [("changed", 1)],
        "delete": [("before", -1)],
        "update": [("changed", 1), ("before", -1)],
    }
    return " UNION ALL ".join(f"SELECT c.*, {sign} AS sign FROM {name} c" for name, sign in sides[op_name])


def _months(table: str, op_name: str, skip: bool) -> str:
    per_row = PER_ROW[table]
    sums = ", ".join(f"sum({per_row.get(col, '0')}) AS {col}" for col in COUNTS)
    rows = _rows(op_name)
    zero = ", ".join("0" for _ in COUNTS)
    columns = ", ".join(COUNTS)
    add = ", ".join(f"{col} = s.{col} + excluded.{col}" for col in COUNTS)
    declare = _declare(skip)
    gone = (
        f"""
            DELETE FROM {MONTHS} s
            USING (SELECT DISTINCT c.organization_id, c.match_id, {_month("c.occurred_on")} AS month
                   FROM ({rows}) c) k
            WHERE s.organization_id = k.organization_id AND s.match_id = k.match_id
              AND s.month = k.month AND s.checkins = 0 AND s.meetings = 0{_kept("k.organization_id", "deleting", skip)};"""
        if op_name != "insert"
        else ""
    )
    return f"""
        CREATE OR REPLACE FUNCTION codo_report_months_{SHORT[table]}_{op_name}() RETURNS trigger LANGUAGE plpgsql AS $${declare}
        BEGIN
            -- In a fixed order, so two writers of the same months queue instead of deadlocking.
            -- A tandem being deleted takes its months along (the foreign key cascades): what the
            -- deletion of its activities subtracts has nowhere to go.
            INSERT INTO {MONTHS} AS s (organization_id, id, match_id, month, {columns})
            SELECT d.organization_id, gen_random_uuid(), d.match_id, d.month, {", ".join(f"d.{c}" for c in COUNTS)}
            FROM (SELECT c.organization_id, c.match_id, {_month("c.occurred_on")} AS month, {sums}
                  FROM ({rows}) c GROUP BY 1, 2, 3) d
            JOIN matches m ON m.organization_id = d.organization_id AND m.id = d.match_id
            WHERE ({", ".join(f"d.{c}" for c in COUNTS)}) <> ({zero}){_kept("d.organization_id", "deleting", skip)}
            ORDER BY d.organization_id, d.match_id, d.month
            ON CONFLICT (organization_id, match_id, month) DO UPDATE SET {add};{gone}
            RETURN NULL;
        END $$
        """


def _functions(skip: bool) -> list[str]:
    return [
        _bump_once(
            "matching_pool",
            "change_counters",
            "1f9c4f5a-7d02-55b4-95cb-d553d4703f6f",
            "matching_bumped",
            skip,
        ),
        _bump_once(
            "questionnaire_scan",
            "questionnaire_scans",
            "4d3801b4-601d-570c-af61-6f9e7c4cf77a",
            "questionnaire_scan_bumped",
            skip,
        ),
        _stamp_people(skip),
        _report_changed(skip),
        _consents_changed(skip),
        *(_months(table, op_name, skip) for table in PER_ROW for op_name in ("insert", "update", "delete")),
    ]


def upgrade() -> None:
    # Before the row goes, so before the cascade (the foreign keys' own triggers come after it).
    op.execute(
        f"""
        CREATE FUNCTION codo_note_deleting_org() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_config('codo.deleting_orgs', {DELETING} || OLD.id::text || ',', true);
            RETURN OLD;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER note_deleting_org BEFORE DELETE ON organizations "
        "FOR EACH ROW EXECUTE FUNCTION codo_note_deleting_org()"
    )
    for function in _functions(skip=True):
        op.execute(function)


def downgrade() -> None:
    for function in _functions(skip=False):
        op.execute(function)
    op.execute("DROP TRIGGER note_deleting_org ON organizations")
    op.execute("DROP FUNCTION codo_note_deleting_org()")
