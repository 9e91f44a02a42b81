"""Automatic tasks from rules an organisation switches on and tunes.

Each rule finds its subjects with one query and inserts their tasks with ``ON CONFLICT DO
NOTHING`` against two unique indexes on ``tasks``: one open task per (rule, subject), and one
task per (rule, subject, occurrence). However often a rule runs, and from however many workers
at once, a subject gets at most one open task; once it is done, the same occurrence (the same
last check-in, the same consent expiry…) never makes another, and a subject that no longer
qualifies is simply not selected.

The rules:

``checkin_due``
    a match (introduced or active) whose last check-in (or its start) is older than its
    programme's check-in interval (matching settings, 30 days if none);
``waiting_followup``
    a mentee still waiting for a match ``days`` after ``waiting_since``, again every ``days``;
``consent_expiry``
    a consent that was given ``valid_months`` ago expires; the task comes ``lead_days`` before;
``match_wrap_up``
    a match's planned end (``duration_months`` after it started) is ``lead_days`` away.

A task's title is stored text that people also edit, so a rule writes it once, from a catalogue
message, in the language of the member it is assigned to (German when nobody is), with the dates
in that member's locale; the same member then reads it on the pages, in reminders and digests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta  # type: ignore[import-untyped]
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n
from shared.db import Database, current_org
from shared.errors import NotFound, ValidationFailed
from shared.i18n import N_
from shared.ids import new_id
from shared.tasks import notify
from shared.tasks.models import DEFAULT_TIMEZONE, TaskRule
from shared.tasks.schemas import RuleIn, RuleOut
from shared.tasks.tasks import schedule

RULES: dict[str, dict[str, int]] = {
    "checkin_due": {},
    "waiting_followup": {"days": 30},
    "consent_expiry": {"valid_months": 24, "lead_days": 30},
    "match_wrap_up": {"duration_months": 12, "lead_days": 30},
}
CHECKIN_DUE = N_("Check-in due (last contact %(day)s)")
WAITING = N_("Follow up: waiting for a tandem since %(day)s")
CONSENT_EXPIRES = N_("Consent “%(purpose)s” expires on %(day)s")
WRAP_UP = N_("Prepare the end of the tandem (planned end %(day)s)")

LIMITS: dict[str, tuple[int, int]] = {
    "days": (1, 365),
    "valid_months": (1, 120),
    "lead_days": (0, 365),
    "duration_months": (1, 120),
}


@dataclass(frozen=True)
class Candidate:
    subject: str
    occurrence: str
    # A catalogue message and its parameters: the title is written in the assignee's language.
    title: str
    params: dict[str, Any]
    due: date
    assignee_id: uuid.UUID | None
    contact_id: uuid.UUID | None = None
    match_id: uuid.UUID | None = None


def _params(rule: str, given: dict[str, Any]) -> dict[str, int]:
    out = dict(RULES[rule])
    for key, value in given.items():
        if key not in out:
            raise ValidationFailed(
                "the rule %(rule)s has no setting %(key)r", field="params", rule=rule, key=key
            )
        low, high = LIMITS[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValidationFailed(
                "%(key)s must be a whole number from %(low)s to %(high)s",
                field="params",
                key=key,
                low=low,
                high=high,
            )
        out[key] = value
    return out


async def list_rules(session: AsyncSession) -> list[RuleOut]:
    stored = {r.rule: r for r in (await session.execute(select(TaskRule))).scalars()}
    return [
        RuleOut(
            rule=name,
            enabled=bool(stored[name].enabled) if name in stored else False,
            params=_params(name, stored[name].params) if name in stored else dict(defaults),
            assignee_id=stored[name].assignee_id if name in stored else None,
        )
        for name, defaults in RULES.items()
    ]


async def set_rule(
    session: AsyncSession, org_id: uuid.UUID, rule: str, data: RuleIn, now: datetime
) -> RuleOut:
    if rule not in RULES:
        raise NotFound("no rule %(rule)r; the rules are %(rules)s", rule=rule, rules=", ".join(RULES))
    params = _params(rule, data.params)
    if data.assignee_id is not None:
        await notify.require_member(session, data.assignee_id, "assignee_id")
    stmt = insert(TaskRule).values(
        organization_id=org_id,
        id=new_id(),
        rule=rule,
        enabled=data.enabled,
        params=params,
        assignee_id=data.assignee_id,
        updated_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["organization_id", "rule"],
            set_={
                "enabled": stmt.excluded.enabled,
                "params": stmt.excluded.params,
                "assignee_id": stmt.excluded.assignee_id,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )
    return RuleOut(rule=rule, enabled=data.enabled, params=params, assignee_id=data.assignee_id)


# ---------------------------------------------------------------- what each rule selects

_CHECKIN_DUE = text(
    """
    SELECT m.id, c.owner_membership_id AS owner, x.last, x.last + x.interval_days AS due
    FROM matches m
    JOIN contacts c ON c.organization_id = m.organization_id AND c.id = m.mentee_id
    CROSS JOIN LATERAL (
        SELECT greatest(
                   (SELECT max(k.occurred_on) FROM match_checkins k
                    WHERE k.organization_id = m.organization_id AND k.match_id = m.id),
                   m.started_on, m.introduced_on, m.proposed_on) AS last,
               coalesce(
                   (SELECT s.checkin_interval_days FROM matching_settings s
                    WHERE s.organization_id = m.organization_id AND s.programme_id = m.programme_id),
                   (SELECT s.checkin_interval_days FROM matching_settings s
                    WHERE s.organization_id = m.organization_id AND s.programme_id IS NULL),
                   30) AS interval_days
    ) x
    WHERE m.organization_id = :org AND m.status IN ('introduced', 'active')
      AND x.last + x.interval_days < CAST(:today AS date)
    """
)

_WAITING = text(
    """
    SELECT c.id, c.owner_membership_id AS owner, c.waiting_since
    FROM contacts c
    WHERE c.organization_id = :org AND 'mentee' = ANY(c.kinds) AND c.erased_at IS NULL
      AND c.waiting_since IS NOT NULL
      AND c.status IN ('interested', 'screening', 'ready')
      AND c.waiting_since <= CAST(:today AS date) - CAST(:days AS integer)
    """
)

# The latest record per contact and purpose decides: a withdrawal ends it, a renewal restarts it.
_CONSENTS = text(
    """
    SELECT * FROM (
        SELECT DISTINCT ON (k.contact_id, k.purpose) k.contact_id, k.purpose, k.status, k.effective_on,
               c.owner_membership_id AS owner
        FROM contact_consents k
        JOIN contacts c ON c.organization_id = k.organization_id AND c.id = k.contact_id
        WHERE k.organization_id = :org AND c.erased_at IS NULL
        ORDER BY k.contact_id, k.purpose, k.effective_on DESC, k.created_at DESC
    ) latest
    WHERE status = 'given'
      AND effective_on <= (CAST(:today AS date) + CAST(:lead AS integer)
                           - make_interval(months => CAST(:months AS integer)))::date
    """
)

_WRAP_UP = text(
    """
    SELECT m.id, c.owner_membership_id AS owner, m.started_on
    FROM matches m
    JOIN contacts c ON c.organization_id = m.organization_id AND c.id = m.mentee_id
    WHERE m.organization_id = :org AND m.status IN ('active', 'paused') AND m.started_on IS NOT NULL
      AND m.started_on <= (CAST(:today AS date) + CAST(:lead AS integer)
                           - make_interval(months => CAST(:months AS integer)))::date
    """
)


async def _candidates(
    session: AsyncSession, rule: str, params: dict[str, int], today: date
) -> list[Candidate]:
    # Each statement names the organisation although row-level security filters by it anyway: the
    # policy is no index condition, so without it every organisation's run read all organisations.
    org = current_org(session)
    if rule == "checkin_due":
        rows = (await session.execute(_CHECKIN_DUE, {"today": today, "org": org})).all()
        return [
            Candidate(
                subject=f"match:{r.id}",
                occurrence=r.last.isoformat(),
                title=CHECKIN_DUE,
                params={"day": r.last},
                due=today,
                assignee_id=r.owner,
                match_id=r.id,
            )
            for r in rows
        ]
    if rule == "waiting_followup":
        days = params["days"]
        rows = (await session.execute(_WAITING, {"today": today, "days": days, "org": org})).all()
        out = []
        for r in rows:
            waited = (today - r.waiting_since).days
            out.append(
                Candidate(
                    subject=f"contact:{r.id}",
                    # Again every `days` while the person keeps waiting.
                    occurrence=f"{r.waiting_since.isoformat()}/{waited // days}",
                    title=WAITING,
                    params={"day": r.waiting_since},
                    due=today,
                    assignee_id=r.owner,
                    contact_id=r.id,
                )
            )
        return out
    if rule == "consent_expiry":
        months, lead = params["valid_months"], params["lead_days"]
        values = {"today": today, "months": months, "lead": lead, "org": org}
        rows = (await session.execute(_CONSENTS, values)).all()
        out = []
        for r in rows:
            expires = r.effective_on + relativedelta(months=months)
            out.append(
                Candidate(
                    subject=f"consent:{r.contact_id}:{r.purpose}"[:100],
                    occurrence=expires.isoformat(),
                    title=CONSENT_EXPIRES,
                    params={"purpose": r.purpose, "day": expires},
                    due=max(expires - timedelta(days=1), today),
                    assignee_id=r.owner,
                    contact_id=r.contact_id,
                )
            )
        return out
    if rule == "match_wrap_up":
        months, lead = params["duration_months"], params["lead_days"]
        values = {"today": today, "months": months, "lead": lead, "org": org}
        rows = (await session.execute(_WRAP_UP, values)).all()
        out = []
        for r in rows:
            planned = r.started_on + relativedelta(months=months)
            out.append(
                Candidate(
                    subject=f"match:{r.id}",
                    occurrence=planned.isoformat(),
                    title=WRAP_UP,
                    params={"day": planned},
                    due=max(planned - timedelta(days=1), today),
                    assignee_id=r.owner,
                    match_id=r.id,
                )
            )
        return out
    raise NotFound("no rule %(rule)r", rule=rule)


def _title(candidate: Candidate, lang: str) -> str:
    params = dict(candidate.params)
    if "purpose" in params:  # an organisation's own purpose has no label: shown as words
        params["purpose"] = i18n.label(lang, "purpose", params["purpose"])
    return i18n.gettext(lang, candidate.title, domain="tasks", **params)[:300]


_INSERT = text(
    """
    INSERT INTO tasks (organization_id, id, title, assignee_id, due_date, due_at, remind_at, timezone,
                       rule, rule_subject, rule_occurrence, contact_id, match_id)
    SELECT :org, x.id, x.title, x.assignee, x.due_date, x.due_at, x.remind_at, :tz,
           :rule, x.subject, x.occurrence, x.contact, x.match
    FROM unnest(CAST(:ids AS uuid[]), CAST(:titles AS text[]), CAST(:assignees AS uuid[]),
                CAST(:due_dates AS date[]), CAST(:due_ats AS timestamptz[]),
                CAST(:remind_ats AS timestamptz[]),
                CAST(:subjects AS text[]), CAST(:occurrences AS text[]), CAST(:contacts AS uuid[]),
                CAST(:matches AS uuid[]))
         AS x(id, title, assignee, due_date, due_at, remind_at, subject, occurrence, contact, match)
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)


async def run_rules(session: AsyncSession, org_id: uuid.UUID, today: date) -> dict[str, int]:
    """Create the due tasks of every enabled rule of the session's organisation; idempotent."""
    created: dict[str, int] = {}
    for stored in (await session.execute(select(TaskRule).where(TaskRule.enabled.is_(True)))).scalars():
        if stored.rule not in RULES:
            continue
        params = _params(stored.rule, stored.params)
        found = await _candidates(session, stored.rule, params, today)
        if not found:
            created[stored.rule] = 0
            continue
        schedules = [schedule(c.due, None, DEFAULT_TIMEZONE) for c in found]
        assignees = [stored.assignee_id or c.assignee_id for c in found]
        people = await notify.recipients(session, {a for a in assignees if a is not None})
        titles = [
            _title(c, i18n.language(people[a].locale if a in people else None))
            for c, a in zip(found, assignees, strict=True)
        ]
        result = await session.execute(
            _INSERT,
            {
                "org": org_id,
                "tz": DEFAULT_TIMEZONE,
                "rule": stored.rule,
                "ids": [new_id() for _ in found],
                "titles": titles,
                "assignees": assignees,
                "due_dates": [c.due for c in found],
                "due_ats": [s[0] for s in schedules],
                "remind_ats": [s[1] for s in schedules],
                "subjects": [c.subject for c in found],
                "occurrences": [c.occurrence for c in found],
                "contacts": [c.contact_id for c in found],
                "matches": [c.match_id for c in found],
            },
        )
        created[stored.rule] = len(result.all())
    return created


async def organisations_with_rules(db: Database) -> list[uuid.UUID]:
    async with db.system_context("task rules: organisations with a rule switched on") as session:
        return list(
            (
                await session.execute(
                    select(TaskRule.organization_id).where(TaskRule.enabled.is_(True)).distinct()
                )
            ).scalars()
        )


async def run_for(db: Database, org_id: uuid.UUID, today: date) -> dict[str, int]:
    async with db.tenant(org_id) as session:
        return await run_rules(session, org_id, today)
