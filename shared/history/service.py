"""Recording and reading the change history.

Domain services call :func:`record` in the transaction of the change itself (so a change and its
entry are written together or not at all), with the fields from :func:`diff`, :func:`created` or
:func:`deleted` over :func:`snapshot`\\ s of the record. Who acts comes from the call or, for the
request's own session, from :func:`bind` (the API and the pages bind their caller).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Select, Text, and_, cast, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import SYSTEM_ACTOR, Actor
from shared.errors import ValidationFailed
from shared.history.models import HistoryEntry
from shared.ids import new_id
from shared.pagination import Page, decode_cursor, encode_cursor

REDACTED = "[gelöscht]"
# Entries of the membership, token and sign-in log (the audit log of the API).
ACCESS_ENTITIES = ("member", "invitation", "token", "provider", "signin", "org")

Changes = dict[str, list[Any]]


def bind(session: AsyncSession, actor: Actor) -> None:
    """Who acts in this session's transaction, for entries recorded without an explicit actor."""
    session.info["actor"] = actor


def is_bound(session: AsyncSession) -> bool:
    return isinstance(session.info.get("actor"), Actor)


def acting(session: AsyncSession) -> Actor:
    actor = session.info.get("actor")
    return actor if isinstance(actor, Actor) else SYSTEM_ACTOR


_PLAIN = frozenset({type(None), bool, int, float, str})


def jsonable(value: Any) -> Any:
    # Most values are plain: one look-up instead of the chain of checks below.
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list:
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, msgspec.Struct):
        return jsonable(msgspec.to_builtins(value))
    return str(value)


def snapshot(record: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The values of ``fields`` of a record, as JSON; a ``custom`` dict spreads into ``custom.<key>``."""
    out: dict[str, Any] = {}
    for name in fields:
        value = jsonable(getattr(record, name))
        if name == "custom" and isinstance(value, dict):
            out.update({f"custom.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """The fields whose values differ, as ``{field: [old, new]}`` (no entry for no change)."""
    changes: Changes = {}
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if old != new and not (_empty(old) and _empty(new)):
            changes[key] = [old, new]
    return changes


def created(after: Mapping[str, Any]) -> Changes:
    return diff({}, after)


def deleted(before: Mapping[str, Any]) -> Changes:
    return diff(before, {})


async def record(
    session: AsyncSession,
    entity: str,
    entity_id: uuid.UUID | None,
    action: str,
    changes: Changes | None = None,
    *,
    actor: Actor | None = None,
    contact_ids: Sequence[uuid.UUID] = (),
    match_id: uuid.UUID | None = None,
    target: str = "",
    details: Mapping[str, Any] | None = None,
    org_id: uuid.UUID | None = None,
) -> None:
    """One entry, in the caller's transaction. A change that changed nothing is not recorded."""
    if action == "changed" and not changes:
        return
    who = actor or acting(session)
    organization_id = org_id or session.info.get("org_id") or who.org_id
    if organization_id is None:
        raise RuntimeError("history entries belong to an organisation: use a tenant session")
    # Whatever the caller changed is written first, as the entry's flush used to write it.
    if session.new or session.dirty or session.deleted:
        await session.flush()
    # A plain INSERT, not an ORM object: the unit of work's flush of one new object cost more
    # than the statement on every change of a contact.
    await (await session.connection()).execute(
        _INSERT,
        {
            "organization_id": organization_id,
            "id": new_id(),
            **_actor_columns(who),
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "contact_ids": list(dict.fromkeys(contact_ids)),
            "match_id": match_id,
            "target": target[:320],
            "changes": dict(changes or {}),
            "details": jsonable(dict(details or {})),
        },
    )


_INSERT = insert(HistoryEntry)


def _actor_columns(actor: Actor) -> dict[str, Any]:
    """Who acted, as an entry's columns keep it."""
    return {
        "actor_kind": actor.kind.value,
        "actor_user_id": actor.user_id,
        "actor_membership_id": actor.membership_id,
        "actor_token_id": actor.token_id,
        "actor": (actor.label or actor.role.value)[:320],
        "reason": actor.reason[:200],
    }


async def record_many(
    session: AsyncSession,
    actor: Actor,
    org_id: uuid.UUID,
    entries: Sequence[tuple[str, uuid.UUID, str, Changes]],
) -> None:
    """Several entries about contacts (entity, id, action, changes) in one insert, for imports."""
    by = _actor_columns(actor)
    rows = [
        {
            "organization_id": org_id,
            "id": new_id(),
            **by,
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "contact_ids": [entity_id],
            "changes": changes,
        }
        for entity, entity_id, action, changes in entries
        if action != "changed" or changes
    ]
    if rows:
        await session.execute(insert(HistoryEntry), rows)


# ---------------------------------------------------------------- reading


class EntryOut(msgspec.Struct):
    id: uuid.UUID
    at: datetime
    actor_kind: str
    actor: str
    actor_membership_id: uuid.UUID | None
    actor_token_id: uuid.UUID | None
    reason: str
    entity: str
    entity_id: uuid.UUID | None
    action: str
    contact_ids: list[uuid.UUID]
    match_id: uuid.UUID | None
    target: str
    changes: dict[str, list[Any]]
    details: dict[str, Any]
    scrubbed: bool


def entry_out(e: HistoryEntry) -> EntryOut:
    return EntryOut(
        id=e.id, at=e.at, actor_kind=e.actor_kind, actor=e.actor, actor_membership_id=e.actor_membership_id,
        actor_token_id=e.actor_token_id, reason=e.reason, entity=e.entity, entity_id=e.entity_id,
        action=e.action, contact_ids=list(e.contact_ids), match_id=e.match_id, target=e.target,
        changes=e.changes, details=e.details, scrubbed=e.scrubbed_at is not None,
    )  # fmt: skip


class Search(msgspec.Struct, kw_only=True):
    contact_id: uuid.UUID | None = None
    # Any of these people (a name search can find several).
    contact_ids: list[uuid.UUID] | None = None
    match_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    entity: str | None = None
    entity_id: uuid.UUID | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None


def _filtered(search: Search) -> Select[Any]:
    query = select(HistoryEntry)
    conditions: list[Any] = []
    if search.contact_id is not None:
        conditions.append(HistoryEntry.contact_ids.contains([search.contact_id]))
    if search.contact_ids is not None:
        conditions.append(HistoryEntry.contact_ids.overlap(search.contact_ids))
    if search.match_id is not None:
        conditions.append(
            or_(
                HistoryEntry.match_id == search.match_id,
                and_(HistoryEntry.entity == "match", HistoryEntry.entity_id == search.match_id),
            )
        )
    if search.member_id is not None:
        conditions.append(HistoryEntry.actor_membership_id == search.member_id)
    if search.token_id is not None:
        conditions.append(HistoryEntry.actor_token_id == search.token_id)
    if search.entity:
        conditions.append(HistoryEntry.entity == search.entity)
    if search.entity_id is not None:
        conditions.append(HistoryEntry.entity_id == search.entity_id)
    if search.action:
        conditions.append(HistoryEntry.action == search.action)
    if search.since and search.until and search.since > search.until:
        raise ValidationFailed("the start comes after the end", field="since")
    if search.since:
        conditions.append(HistoryEntry.at >= datetime.combine(search.since, time(), UTC))
    if search.until:
        conditions.append(HistoryEntry.at < datetime.combine(search.until + timedelta(days=1), time(), UTC))
    return query.where(*conditions)


async def search(
    session: AsyncSession, search: Search, *, limit: int, cursor: str | None = None
) -> Page[EntryOut]:
    """Newest first (UUIDv7 ids order by time)."""
    query = _filtered(search).order_by(HistoryEntry.id.desc()).limit(limit + 1)
    if cursor:
        query = query.where(HistoryEntry.id < decode_cursor(cursor))
    rows = list((await session.execute(query)).scalars())
    items = [entry_out(e) for e in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)


async def entries(session: AsyncSession, search: Search, *, limit: int = 200) -> list[HistoryEntry]:
    query = _filtered(search).order_by(HistoryEntry.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


# ---------------------------------------------------------------- merging and erasure


async def merge_person(session: AsyncSession, merged_id: uuid.UUID, kept_id: uuid.UUID) -> None:
    """Entries about a merged duplicate are about the kept person too (their page shows them)."""
    await session.execute(
        update(HistoryEntry)
        .where(HistoryEntry.contact_ids.contains([merged_id]))
        .values(contact_ids=func.array_append(HistoryEntry.contact_ids, kept_id))
    )


async def scrub_person(session: AsyncSession, contact_id: uuid.UUID, needles: Sequence[str] = ()) -> int:
    """Every value recorded about the person becomes a mark; that something changed, when and by
    whom stays. Other entries that quote them (a link's other side) lose those words too."""
    scrubbed = 0
    now = datetime.now(UTC)
    about = select(HistoryEntry).where(HistoryEntry.contact_ids.contains([contact_id]))
    for entry in (await session.execute(about)).scalars():
        entry.changes = {
            key: [None if old is None else REDACTED, None if new is None else REDACTED]
            for key, (old, new) in entry.changes.items()
        }
        entry.details = {key: REDACTED for key in entry.details}
        entry.target = REDACTED if entry.target else ""
        entry.scrubbed_at = now
        scrubbed += 1
    if needles:
        text = func.lower(cast(HistoryEntry.changes, Text))
        target = func.lower(HistoryEntry.target)
        quoting = select(HistoryEntry).where(
            HistoryEntry.scrubbed_at.is_(None),
            or_(*[text.contains(n.lower()) for n in needles], *[target.contains(n.lower()) for n in needles]),
        )
        for entry in (await session.execute(quoting)).scalars():
            entry.changes = {
                k: [_redact(o, needles), _redact(n, needles)] for k, (o, n) in entry.changes.items()
            }
            entry.target = str(_redact(entry.target, needles))
            scrubbed += 1
    await session.flush()
    return scrubbed


def _redact(value: Any, needles: Sequence[str]) -> Any:
    if isinstance(value, str):
        lowered = value.lower()
        if any(n.lower() in lowered for n in needles):
            return REDACTED
        return value
    if isinstance(value, list):
        return [_redact(v, needles) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, needles) for k, v in value.items()}
    return value
