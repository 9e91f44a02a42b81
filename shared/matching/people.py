"""Contacts as the engine sees them: profiles, who waits, who has room, and the programme's settings."""

from __future__ import annotations

import asyncio
import gc
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, NamedTuple

import msgspec
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n
from shared.contacts import fields as custom_fields
from shared.contacts.models import Contact, Programme, ProgrammeMembership
from shared.db import current_org, driver_connection
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.i18n import N_
from shared.intake import readiness
from shared.intake.vocab import today as readiness_day
from shared.matching.config import MatchingConfig
from shared.matching.models import EVERYONE, OPEN_STATUSES, Match, MatchingSettings, MatchingStamp
from shared.matching.profile import Preferences, Profile
from shared.matching.scoring import CandidatePool, Suggestion
from shared.matching.texts import Locale

Role = Literal["mentor", "mentee"]

# A mentee waits while ready and without an open match; a mentor with room may already have mentees.
WAITING_STATUSES = ("ready",)
AVAILABLE_STATUSES = ("ready", "matched")

_PROFILE_COLUMNS = (
    Contact.id,
    Contact.kinds,
    Contact.first_name,
    Contact.last_name,
    Contact.preferred_name,
    Contact.organisation_name,
    Contact.languages,
    Contact.interests,
    Contact.availability,
    Contact.postal_code,
    Contact.gender,
    Contact.birth_date,
    Contact.preferences,
    Contact.support_kinds,
    Contact.capacity,
    Contact.waiting_since,
    Contact.custom,
)


def display_name(first: str | None, last: str | None, preferred: str | None, organisation: str | None) -> str:
    person = " ".join(p for p in ((preferred or first), last) if p)
    return person or organisation or "—"


def _strings(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def preferences_of(raw: dict[str, Any] | None) -> Preferences:
    """The wishes in a contact's free-form ``preferences``; spellings people use are all read.

    ``genders`` (or ``gender`` / ``preferred_gender``): a value or a list of female, male, diverse;
    ``age_min`` / ``age_max`` (or ``min_age`` / ``max_age``): whole years.
    """
    raw = raw or {}
    genders = _strings(raw.get("genders", raw.get("gender", raw.get("preferred_gender"))))
    return Preferences(
        genders=[g for g in genders if g != "not_stated"],
        age_min=_int(raw.get("age_min", raw.get("min_age"))),
        age_max=_int(raw.get("age_max", raw.get("max_age"))),
    )


Labels = dict[str, dict[str, str]]


async def _labels(session: AsyncSession, config: MatchingConfig) -> Labels:
    """Choice fields store option values; coordinators read the options' (German) labels."""
    if not config.custom:
        return {}
    keys = {c.key for c in config.custom}
    return {
        f.key: {o["value"]: o.get("label_de") or o["value"] for o in f.options}
        for f in await custom_fields.list_fields(session, include_archived=True)
        if f.key in keys and f.options
    }


def _profile(row: Any, config: MatchingConfig, load: int, labels: Labels | None = None) -> Profile:
    labels = labels or {}
    custom = (
        {
            c.key: [labels.get(c.key, {}).get(v, v) for v in _strings(row.custom.get(c.key))]
            for c in config.custom
        }
        if row.custom
        else {}
    )
    return Profile(
        id=row.id,
        name=display_name(row.first_name, row.last_name, row.preferred_name, row.organisation_name),
        languages=list(row.languages or []),
        interests=list(row.interests or []),
        availability=list(row.availability or []),
        postal_code=row.postal_code,
        gender=row.gender if row.gender != "not_stated" else None,
        birth_date=row.birth_date,
        preferences=preferences_of(row.preferences),
        support_kinds=list(row.support_kinds or []),
        capacity=row.capacity,
        load=load,
        waiting_since=row.waiting_since,
        custom=custom,
    )


async def open_loads(
    session: AsyncSession, mentor_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, int]:
    """Matches not ended per mentor: each holds one of the mentor's places."""
    query = (
        select(Match.mentor_id, func.count()).where(Match.status.in_(OPEN_STATUSES)).group_by(Match.mentor_id)
    )
    if mentor_ids is not None:
        query = query.where(Match.mentor_id.in_(list(mentor_ids)))
    return {mentor: int(n) for mentor, n in (await session.execute(query)).all()}


# A mentor's matches not ended, counted beside their row (see open_loads).
_OPEN_LOAD = (
    select(func.count())
    .where(Match.mentor_id == Contact.id, Match.status.in_(OPEN_STATUSES))
    .scalar_subquery()
)


def _in_programme(programme_id: uuid.UUID | None) -> list[Any]:
    if programme_id is None:
        return []
    members = select(ProgrammeMembership.contact_id).where(ProgrammeMembership.programme_id == programme_id)
    return [Contact.id.in_(members)]


async def candidates(
    session: AsyncSession,
    role: Role,
    config: MatchingConfig,
    programme_id: uuid.UUID | None,
    only: Sequence[uuid.UUID] | None = None,
) -> list[Profile]:
    """Mentees who wait (ready, no open match) or mentors with room to take one more;
    with ``only``, those of these people who are."""
    conditions = [
        Contact.kinds.contains([role]),
        Contact.erased_at.is_(None),
        *_in_programme(programme_id),
    ]
    if only is not None:
        conditions.append(Contact.id.in_(list(only)))
    if role == "mentee":
        has_open = select(Match.mentee_id).where(Match.status.in_(OPEN_STATUSES))
        conditions += [Contact.status.in_(WAITING_STATUSES), Contact.id.not_in(has_open)]
    else:
        conditions.append(Contact.status.in_(AVAILABLE_STATUSES))
    columns: list[Any] = list(_PROFILE_COLUMNS)
    # A few people (a pool's patch): each mentor's open matches in the same statement, as
    # open_loads counts them; for everyone, one grouped count is cheaper than one per row.
    counted = role == "mentor" and only is not None
    if counted:
        columns.append(_OPEN_LOAD.label("open_load"))
    rows = (await session.execute(select(*columns).where(and_(*conditions)).order_by(Contact.id))).all()
    loads = {}
    if counted:
        loads = {r.id: int(r.open_load) for r in rows}
    elif role == "mentor" and rows:
        loads = await open_loads(session)
    labels = await _labels(session, config)
    with _uncollected():
        people = [_profile(row, config, loads.get(row.id, 0), labels) for row in rows]
    if role == "mentor" and config.rules.capacity:
        people = [p for p in people if p.capacity_left > 0]
    return people


async def listed(
    session: AsyncSession,
    role: Role,
    config: MatchingConfig,
    programme_id: uuid.UUID | None,
    only: Sequence[uuid.UUID] | None = None,
) -> list[Profile]:
    """The board's waiting mentees or available mentors: the candidates who are also ready by
    intake's rules, exactly as suggestions and cohort runs take them (with ``only``: of these)."""
    found = await candidates(session, role, config, programme_id, only)
    blocked = await not_ready(session, [p.id for p in found])
    return [p for p in found if p.id not in blocked]


# Why a person is not on the board, as message ids of the matching catalogue.
_MISSING = {
    "kind_mentee": N_("is not recorded as a mentee"),
    "kind_mentor": N_("is not recorded as a mentor"),
    "programme": N_("does not belong to this programme"),
    "status": N_("status is “%(label)s”"),
    "open_match": N_("already has an open match"),
    "full": N_("has no free place (%(capacity)s taken)"),
    "listed": N_("is on the list"),
}


def _missing(key: str, lang: str, **params: Any) -> str:
    return i18n.gettext(lang, _MISSING[key], domain="matching", **params)


async def why_missing(
    session: AsyncSession,
    contact_id: uuid.UUID,
    role: Role,
    config: MatchingConfig,
    programme_id: uuid.UUID | None,
    locale: str = "de",
) -> list[str]:
    """Why a person is not among the waiting mentees (or available mentors): every rule of
    :func:`listed` that keeps them off, in words; ``["is on the list"]`` when none does."""
    from shared.contacts.vocab import status_label

    lang = "en" if locale == "en" else "de"
    contact = (
        await session.execute(select(Contact).where(Contact.id == contact_id, Contact.erased_at.is_(None)))
    ).scalar_one_or_none()
    if contact is None:
        raise NotFound("no such contact")
    reasons: list[str] = []
    if role not in contact.kinds:
        reasons.append(_missing(f"kind_{role}", lang))
    if programme_id is not None:
        inside = await session.execute(
            select(Contact.id).where(Contact.id == contact_id, *_in_programme(programme_id))
        )
        if inside.first() is None:
            reasons.append(_missing("programme", lang))
    statuses = WAITING_STATUSES if role == "mentee" else AVAILABLE_STATUSES
    if contact.status not in statuses:
        reasons.append(_missing("status", lang, label=status_label(contact.status, lang)))
    if role == "mentee":
        has_open = await session.execute(
            select(Match.id).where(Match.mentee_id == contact_id, Match.status.in_(OPEN_STATUSES)).limit(1)
        )
        if has_open.first() is not None:
            reasons.append(_missing("open_match", lang))
    elif config.rules.capacity:
        load = (await open_loads(session, [contact_id])).get(contact_id, 0)
        if load >= contact.capacity:
            reasons.append(_missing("full", lang, capacity=load))
    reasons += (await not_ready(session, [contact_id], locale=lang)).get(contact_id, [])
    return reasons or [_missing("listed", lang)]


async def profiles_of(
    session: AsyncSession, ids: Sequence[uuid.UUID], role: Role, config: MatchingConfig, field: str
) -> list[Profile]:
    """The named contacts, in the order given; each must exist and be a ``role``."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    rows = {
        row.id: row
        for row in (
            await session.execute(select(*_PROFILE_COLUMNS, Contact.erased_at).where(Contact.id.in_(wanted)))
        ).all()
    }
    loads = await open_loads(session, wanted) if role == "mentor" else {}
    labels = await _labels(session, config)
    out = []
    for contact_id in wanted:
        row = rows.get(contact_id)
        if row is None or row.erased_at is not None:
            raise ValidationFailed("no contact %(contact_id)s", field=field, contact_id=contact_id)
        if role not in row.kinds:
            raise ValidationFailed(
                "contact %(contact_id)s is not a %(role)s", field=field, contact_id=contact_id, role=role
            )
        out.append(_profile(row, config, loads.get(contact_id, 0), labels))
    return out


async def profile(
    session: AsyncSession, contact_id: uuid.UUID, config: MatchingConfig
) -> tuple[Profile, list[str]]:
    # The mentor's open matches in the same statement (as open_loads counts them).
    row = (
        await session.execute(
            select(*_PROFILE_COLUMNS, _OPEN_LOAD.label("open_load")).where(
                Contact.id == contact_id, Contact.erased_at.is_(None)
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such contact")
    return _profile(row, config, int(row.open_load), await _labels(session, config)), list(row.kinds)


class Fingerprint(NamedTuple):
    """What a request read of the matching revision before anything else (:func:`fingerprint`)."""

    revision: int
    # This transaction has written: it sees changes nobody else may see yet.
    written_here: bool
    # The latest organisation-wide stamp (migration 0028): field definitions, steps, settings.
    everyone: int = 0
    # The person asked about, and the latest revision that changed them.
    person_id: uuid.UUID | None = None
    person: int = 0

    def unchanged_since(self, revision: int, person_id: uuid.UUID | None = None) -> bool:
        """Whether nothing read under ``revision`` (everyone's, and the person's if named) changed
        up to this revision: a revision only grows, and the stamps keep each person's latest."""
        if self.written_here:
            return False
        if revision >= self.revision:
            return True
        if self.everyone > revision:
            return False
        return person_id is None or (person_id == self.person_id and self.person <= revision)


class _Lru:
    """A small bounded map, least recently used out first."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# The people suggestions are asked for, by organisation and revision: everything a profile is
# read from (the contact, its open matches, the field labels) moves the revision.
_PROFILES = _Lru(4096)


async def profile_now(
    session: AsyncSession,
    org_id: uuid.UUID,
    contact_id: uuid.UUID,
    settings: ProgrammeSettings,
    seen: Fingerprint,
) -> tuple[Profile, list[str]]:
    """:func:`profile` under the revision ``seen`` (:func:`fingerprint`, read before anything
    else, so what is read after it is at least as new). The profile is shared between requests:
    callers must not change it."""
    kept = kept_profile(org_id, contact_id, settings, seen)
    if kept is not None:
        return kept
    person, kinds = await profile(session, contact_id, settings.config)
    if not seen.written_here:
        _PROFILES.put((org_id, settings.version, contact_id), (seen.revision, person, tuple(kinds)))
    return person, kinds


def kept_profile(
    org_id: uuid.UUID, contact_id: uuid.UUID, settings: ProgrammeSettings, seen: Fingerprint
) -> tuple[Profile, list[str]] | None:
    """:func:`profile_now` if this process has it, without a statement."""
    found = _PROFILES.get((org_id, settings.version, contact_id))
    # Kept with the revision it was read under: still the person if nobody changed them since.
    if found is None or not seen.unchanged_since(found[0], contact_id):
        return None
    return found[1], list(found[2])


async def pair(
    session: AsyncSession, mentee_id: uuid.UUID, mentor_id: uuid.UUID, config: MatchingConfig
) -> tuple[Profile, Profile]:
    """Both sides of a pair; a match they already share does not count against the mentor's places."""
    mentor, mentor_kinds = await profile(session, mentor_id, config)
    mentee, mentee_kinds = await profile(session, mentee_id, config)
    if "mentor" not in mentor_kinds:
        raise ValidationFailed("this contact is not a mentor", field="mentor_id")
    if "mentee" not in mentee_kinds:
        raise ValidationFailed("this contact is not a mentee", field="mentee_id")
    shared = (
        await session.execute(
            select(func.count()).where(
                Match.mentor_id == mentor_id, Match.mentee_id == mentee_id, Match.status.in_(OPEN_STATUSES)
            )
        )
    ).scalar_one()
    if shared:
        mentor.load = max(mentor.load - int(shared), 0)
    return mentee, mentor


async def names(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.preferred_name,
            Contact.organisation_name,
        ).where(Contact.id.in_(list(ids)))
    )
    return {
        r.id: display_name(r.first_name, r.last_name, r.preferred_name, r.organisation_name) for r in rows
    }


async def not_ready(
    session: AsyncSession, ids: Sequence[uuid.UUID], locale: str = "de"
) -> dict[uuid.UUID, list[str]]:
    """Who may not be matched yet, and why (intake: required preparation steps, certificates)."""
    if not ids:
        return {}
    reasons = await readiness.not_ready_reasons(session, ids, locale=locale)
    return {cid: why for cid, why in reasons.items() if why}


async def suggest(
    session: AsyncSession, pool: CandidatePool, person: Profile, limit: int, locale: Locale = "de"
) -> list[Suggestion]:
    """The best ``limit`` candidates. The pool holds only people ready to be matched: intake's
    records move the organisation's revision like contacts do (migration 0024), so a cached pool
    never hides a person who just became ready nor offers one who no longer is."""
    del session  # readiness is the pool's, read when it was built
    return pool.suggest(person, limit, locale)


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class ProgrammeSettings:
    programme_id: uuid.UUID | None
    config: MatchingConfig
    checkin_interval_days: int
    own: bool
    version: str


_SETTINGS = _Lru(1024)


async def settings_now(
    session: AsyncSession, org_id: uuid.UUID, programme_id: uuid.UUID | None, seen: Fingerprint
) -> ProgrammeSettings:
    """:func:`settings_for` under the revision ``seen``: saving settings moves it (migration 0024)."""
    kept = kept_settings(org_id, programme_id, seen)
    if kept is not None:
        return kept
    settings = await settings_for(session, programme_id)
    if not seen.written_here:
        _SETTINGS.put((org_id, programme_id), (seen.revision, settings))
    return settings


def kept_settings(
    org_id: uuid.UUID, programme_id: uuid.UUID | None, seen: Fingerprint
) -> ProgrammeSettings | None:
    """:func:`settings_now` if this process has them, without a statement."""
    found: tuple[int, ProgrammeSettings] | None = _SETTINGS.get((org_id, programme_id))
    # Saving settings stamps the whole organisation (migration 0028).
    if found is None or not seen.unchanged_since(found[0]):
        return None
    return found[1]


async def check_programme(session: AsyncSession, programme_id: uuid.UUID | None, field: str) -> None:
    if programme_id is None:
        return
    found = (
        await session.execute(select(Programme.id).where(Programme.id == programme_id))
    ).scalar_one_or_none()
    if found is None:
        raise ValidationFailed("no programme %(programme_id)s", field=field, programme_id=programme_id)


async def settings_for(session: AsyncSession, programme_id: uuid.UUID | None) -> ProgrammeSettings:
    """The programme's own settings, else the organisation's, else the built-in defaults."""
    rows = (
        await session.execute(
            select(MatchingSettings).where(
                (MatchingSettings.programme_id == programme_id) | MatchingSettings.programme_id.is_(None)
            )
        )
    ).scalars()
    by_programme = {r.programme_id: r for r in rows}
    row = by_programme.get(programme_id) or by_programme.get(None)
    if row is None:
        return ProgrammeSettings(programme_id, MatchingConfig(), 30, False, "default")
    return ProgrammeSettings(
        programme_id,
        msgspec.convert(row.config, MatchingConfig),
        row.checkin_interval_days,
        row.programme_id == programme_id,
        f"{row.id}:{row.updated_at.isoformat()}",
    )


async def save_settings(
    session: AsyncSession, programme_id: uuid.UUID | None, config: MatchingConfig, checkin_interval_days: int
) -> ProgrammeSettings:
    await check_programme(session, programme_id, "programme_id")
    fields = {f.key for f in await custom_fields.list_fields(session)}
    for i, criterion in enumerate(config.custom):
        if criterion.key not in fields:
            raise ValidationFailed(
                "no custom field %(key)r; criteria come from the organisation's custom fields",
                field=f"config.custom[{i}].key",
                key=criterion.key,
            )
    selector = (
        MatchingSettings.programme_id == programme_id
        if programme_id
        else MatchingSettings.programme_id.is_(None)
    )
    row = (
        await session.execute(select(MatchingSettings).where(selector).with_for_update())
    ).scalar_one_or_none()
    if row is None:
        row = MatchingSettings(organization_id=current_org(session), programme_id=programme_id)
        session.add(row)
    row.config = msgspec.to_builtins(config)
    row.checkin_interval_days = checkin_interval_days
    row.updated_at = datetime.now(UTC)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # another admin created the row at the same moment
        raise Conflict("the settings were changed at the same time; please try again") from None
    return await settings_for(session, programme_id)


# ---------------------------------------------------------------- candidate pools


@dataclass(frozen=True)
class HeldPool:
    """A pool and the revision it is at least as new as."""

    revision: int
    pool: CandidatePool


class _PoolCache:
    """Candidate pools, the newest per organisation, programme, side, settings and day.

    The key holds the organisation, so a pool can never answer for another one. A request reads
    the organisation's matching revision under row-level security; a pool at that revision or a
    newer one answers it, an older one is brought up to it (:func:`candidate_pool`).
    """

    # Two per organisation and programme in use: the board lists both sides.
    def __init__(self, size: int = 16) -> None:
        self._pools: OrderedDict[tuple[Any, ...], HeldPool] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> HeldPool | None:
        with self._lock:
            held = self._pools.get(key)
            if held is not None:
                self._pools.move_to_end(key)
            return held

    def put(self, key: tuple[Any, ...], held: HeldPool) -> None:
        """Keep ``held`` unless a newer pool is already kept (builds may finish out of order)."""
        with self._lock:
            found = self._pools.get(key)
            if found is None or found.revision < held.revision:
                self._pools[key] = held
            self._pools.move_to_end(key)
            while len(self._pools) > self._size:
                self._pools.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pools.clear()


POOLS = _PoolCache()
# Pools being brought up to a revision, by key: (that revision, the future pool).
_BUILDING: dict[tuple[Any, ...], tuple[int, asyncio.Future[CandidatePool]]] = {}
# The topic of the matching pools in change_counters (migration 0019 names the same id).
POOL_TOPIC = uuid.UUID("1f9c4f5a-7d02-55b4-95cb-d553d4703f6f")
# Past this many changed people a pool is built again rather than patched: reading them costs
# about as much as reading everyone.
PATCH_AT_MOST = 2_000


# Written out once and sent straight to the driver: every suggestion runs it first, and building
# and compiling it through SQLAlchemy would cost more than running it.
_FINGERPRINT = """
SELECT c.revision, c.xmin = pg_current_xact_id_if_assigned()::xid AS mine,
       (SELECT s.revision FROM matching_stamps AS s
        WHERE s.organization_id = c.organization_id AND s.id = $2) AS everyone,
       (SELECT s.revision FROM matching_stamps AS s
        WHERE s.organization_id = c.organization_id AND s.id = $3::uuid) AS person
FROM change_counters AS c WHERE c.id = $1"""
_FINGERPRINTS = {False: _FINGERPRINT, True: _FINGERPRINT + " AND c.organization_id = $4"}


async def fingerprint(
    session: AsyncSession, org_id: uuid.UUID | None = None, person_id: uuid.UUID | None = None
) -> Fingerprint:
    """The organisation's matching revision, whether this transaction has changed it, and the
    latest stamps of the whole organisation and of ``person_id``.

    Primary-key lookups in one statement, however many people: database triggers bump the
    revision in every transaction that writes contacts, programme members, field definitions,
    matches, preparation or settings (migrations 0019, 0024), so it changes exactly when a pool
    would, and stamp who changed (0028).
    """
    return await fingerprint_on(await driver_connection(session), org_id, person_id)


async def fingerprint_on(
    connection: Any, org_id: uuid.UUID | None, person_id: uuid.UUID | None
) -> Fingerprint:
    """:func:`fingerprint` on a driver connection (see ``Database.tenant_driver``)."""
    params: tuple[Any, ...] = (POOL_TOPIC, EVERYONE, person_id)
    if org_id is not None:
        params += (org_id,)
    row = await connection.fetchrow(_FINGERPRINTS[org_id is not None], *params)
    if row is None:
        return Fingerprint(0, False)
    revision, mine, everyone, person = row
    person = (person or 0) if person_id is not None else 0
    return Fingerprint(revision, bool(mine), everyone or 0, person_id, person)


async def changed_since(session: AsyncSession, org_id: uuid.UUID, revision: int) -> list[uuid.UUID] | None:
    """The people stamped after ``revision`` (migration 0028), or None when a pool must be built
    again: something every person's preparation depends on changed, or too many people did."""
    found = (
        await session.execute(
            select(MatchingStamp.id)
            .where(MatchingStamp.organization_id == org_id, MatchingStamp.revision > revision)
            .limit(PATCH_AT_MOST + 1)
        )
    ).scalars()
    people = list(found)
    if len(people) > PATCH_AT_MOST or EVERYONE in people:
        return None
    return people


def _pool_key(org_id: uuid.UUID, role: Role, settings: ProgrammeSettings, today: date) -> tuple[Any, ...]:
    # Certificates run out by intake's calendar day, which may turn at another hour than ``today``.
    return (org_id, settings.programme_id, role, settings.version, today, readiness_day())


def kept_pool(
    org_id: uuid.UUID, role: Role, settings: ProgrammeSettings, today: date, seen: Fingerprint
) -> CandidatePool | None:
    """:func:`candidate_pool` if this process holds one new enough for ``seen``, without a statement."""
    if seen.written_here:
        return None
    held = POOLS.get(_pool_key(org_id, role, settings, today))
    return held.pool if held is not None and held.revision >= seen.revision else None


async def candidate_pool(
    session: AsyncSession,
    org_id: uuid.UUID,
    role: Role,
    settings: ProgrammeSettings,
    today: date,
    seen: Fingerprint | None = None,
) -> CandidatePool:
    """The organisation's ready candidates of ``role`` at revision ``seen`` or newer.

    ``seen``: the revision this request already read (:func:`fingerprint`), to save the lookup.
    A kept pool of an older revision is patched with the people stamped since (a few rows read
    and encoded instead of everyone); a new day, other settings or a change to what every
    person's preparation is read with builds the pool from scratch.
    """
    revision, written_here = (seen or await fingerprint(session, org_id))[:2]
    key = _pool_key(org_id, role, settings, today)
    held = POOLS.get(key)
    # A transaction that has written sees its own changes, which nobody else may see yet: it
    # brings a pool up to them for itself alone. Otherwise revisions only grow, and a newer pool
    # holds everything an older revision's reader may see.
    if written_here:
        return await _catch_up(session, org_id, role, settings, today, held)
    if held is not None and held.revision >= revision:
        return held.pool
    # After a change, the requests that find no pool new enough wait for the one that brings it
    # up instead of each reading the same people again.
    loop = asyncio.get_running_loop()
    building = _BUILDING.get(key)
    if building is not None and building[0] >= revision and building[1].get_loop() is loop:
        try:
            return await asyncio.shield(building[1])
        except Exception:  # the builder's failure is its own (its session, its transaction)
            return await _catch_up(session, org_id, role, settings, today, held)
    future: asyncio.Future[CandidatePool] = loop.create_future()
    _BUILDING[key] = (revision, future)
    try:
        pool = await _catch_up(session, org_id, role, settings, today, held)
    except BaseException as exc:
        future.set_exception(exc)
        # Nobody else may be waiting: do not let the loop report the exception as unretrieved.
        future.exception()
        raise
    else:
        POOLS.put(key, HeldPool(revision, pool))
        future.set_result(pool)
    finally:
        if (found := _BUILDING.get(key)) is not None and found[1] is future:
            del _BUILDING[key]
    return pool


async def _catch_up(
    session: AsyncSession,
    org_id: uuid.UUID,
    role: Role,
    settings: ProgrammeSettings,
    today: date,
    held: HeldPool | None,
) -> CandidatePool:
    """``held`` patched with everyone stamped since its revision, or a pool built from scratch."""
    changed = None if held is None else await changed_since(session, org_id, held.revision)
    if held is None or changed is None:
        return await _build(session, role, settings, today)
    if not changed:
        return held.pool
    now = await listed(session, role, settings.config, settings.programme_id, changed)
    return held.pool.patched(changed, now)


async def _build(
    session: AsyncSession, role: Role, settings: ProgrammeSettings, today: date
) -> CandidatePool:
    people = await listed(session, role, settings.config, settings.programme_id)
    with _uncollected():
        pool = CandidatePool(people, role, settings.config, today)
    if len(pool) >= SETTLE_FROM:
        _settle()
    return pool


@contextmanager
def _uncollected() -> Iterator[None]:
    """No collection while a pool's objects are made: they all live on, and every full collection
    on the way would walk all of them made so far. Only around code that does not await, so
    nothing else runs meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# From this many people, a pool built from scratch is taken out of the collector's sight.
SETTLE_FROM = 1_000


def _settle() -> None:
    """Move everything alive now, the new pool included, out of the collector's generations.

    A pool holds several objects per person (the profile, its lists, its id) for as long as it is
    kept, and patches share them. Left in the oldest generation, every full collection walks
    them all: tens of milliseconds per 10,000 people, a pause for every request in flight. They
    are freed by reference counting all the same when the pool goes, as nothing in a pool refers
    back to itself. Collecting first leaves no garbage behind; a build is rare and costs far more.
    """
    gc.collect()
    gc.freeze()


# ---------------------------------------------------------------- the board's search and filters

BOARD_PAGE = 20
BOARD_SORTS = ("waiting", "name")


class BoardFilter(msgspec.Struct, kw_only=True):
    """What narrows the board's two lists: a name, a language, a postal-code area, a day."""

    q: str = ""
    language: str = ""
    area: str = ""
    day: str = ""
    interest: str = ""


def check_board_filter(f: BoardFilter) -> BoardFilter:
    """The same rules as the contact's own fields, with the field named for the page."""
    from shared.contacts.vocab import DAYS, LANGUAGES

    language = f.language.strip().lower()
    if language and language not in LANGUAGES:
        raise ValidationFailed("a language is a two-letter code such as de or ar", field="language")
    area = f.area.strip()
    if area and not (area.isdigit() and len(area) <= 5):
        raise ValidationFailed("a postal-code area is the first digits of a postal code", field="area")
    if f.day and f.day not in DAYS:
        raise ValidationFailed("choose a day from the list", field="day")
    return BoardFilter(
        q=f.q.strip()[:100], language=language, area=area, day=f.day, interest=f.interest.strip()
    )


def filter_board(profiles: Sequence[Profile], f: BoardFilter) -> list[Profile]:
    """The profiles that meet every filter given; every word of ``q`` must start a word of the name."""
    from shared.contacts.vocab import fold

    words = fold(f.q).split()
    interest = fold(f.interest)
    kept = []
    for p in profiles:
        name_words = fold(p.name).split()
        if words and not all(any(n.startswith(w) for n in name_words) for w in words):
            continue
        if f.language and f.language not in p.languages:
            continue
        if f.area and not (p.postal_code or "").startswith(f.area):
            continue
        if f.day and not any(a.startswith(f.day + "-") for a in p.availability):
            continue
        if interest and not any(interest in fold(i) for i in p.interests):
            continue
        kept.append(p)
    return kept
