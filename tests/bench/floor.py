"""The floor the API is measured against: a bare Litestar + asyncpg app, one process.

It answers the same three questions as codo's contacts API (a page of 50 by name, one contact,
a change of one contact) by sending codo's own statements, verbatim, under the same row-level
security (one transaction begun together with ``set_config('codo.org_id', ..., true)``, the
runtime role), and nothing else: no authentication, no ORM, no domain rules in Python (the
change writes the history entry codo writes, with fixed values). What codo needs beyond this is
its own cost.

    python -m tests.bench.floor --port 8001 --dsn postgresql://codo_app:...@127.0.0.1/db --org <uuid>

Started by ``bench_api.py``; not part of codo.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get, patch

# codo's own statements, verbatim as PostgreSQL receives them (``log_statement = 'all'`` while
# bench_api.py ran; tests/test_bench_floor.py checks they are still what codo sends): a page of
# the list, one contact, and a change (the locked read, the field definitions, the history entry,
# the write). The output columns carry the four sub-selects codo's answer needs (visible custom
# fields, programmes, given consents, required consents).
OUT = (
    "contacts.id, contacts.kinds, contacts.first_name, contacts.last_name, contacts.preferred_name, "
    "contacts.organisation_name, contacts.birth_date, contacts.age_group, contacts.gender, "
    "contacts.languages, contacts.postal_code, contacts.city, contacts.phone, contacts.email, "
    "contacts.preferred_channel, contacts.status, contacts.status_changed_at, contacts.tags, "
    "contacts.owner_membership_id, contacts.interests, contacts.availability, contacts.capacity, "
    "contacts.preferences, contacts.support_kinds, contacts.notes, contacts.waiting_since, "
    "contacts.last_match_ended_on, contacts.legal_hold, contacts.legal_hold_reason, contacts.erased_at, "
    "contacts.created_at, contacts.updated_at, "
    "(SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb) FROM jsonb_each(contacts.custom) AS e "
    "WHERE e.key IN (SELECT f.key FROM contact_fields AS f "
    "WHERE f.organization_id = contacts.organization_id AND f.archived_at IS NULL)), "
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'name', p.name) ORDER BY p.name), "
    "'[]'::jsonb) FROM contact_programme_members AS m JOIN contact_programmes AS p "
    "ON p.organization_id = m.organization_id AND p.id = m.programme_id "
    "WHERE m.organization_id = contacts.organization_id AND m.contact_id = contacts.id), "
    "ARRAY(SELECT l.purpose FROM (SELECT DISTINCT ON (c.purpose) c.purpose, c.status "
    "FROM contact_consents AS c WHERE c.organization_id = contacts.organization_id "
    "AND c.contact_id = contacts.id ORDER BY c.purpose, c.effective_on DESC, c.created_at DESC) AS l "
    "WHERE l.status = 'given'), "
    "(SELECT s.required_consents FROM contact_settings AS s "
    "WHERE s.organization_id = contacts.organization_id)"
)
LIST = (
    f"SELECT {OUT}, contacts.sort_name \nFROM contacts \n"
    "WHERE contacts.organization_id = $1::UUID AND contacts.erased_at IS NULL "
    "ORDER BY contacts.sort_name, contacts.id LIMIT 51"
)
ONE = f"SELECT {OUT} \nFROM contacts \nWHERE contacts.organization_id = $1::UUID AND contacts.id = $2::UUID"
LOCK = (
    "SELECT contacts.kinds, contacts.first_name, contacts.last_name, contacts.preferred_name, "
    "contacts.organisation_name, contacts.birth_date, contacts.age_group, contacts.gender, "
    "contacts.languages, contacts.postal_code, contacts.city, contacts.phone, contacts.email, "
    "contacts.preferred_channel, contacts.status, contacts.status_changed_at, contacts.tags, "
    "contacts.owner_membership_id, "
    "contacts.interests, contacts.availability, contacts.capacity, contacts.preferences, "
    "contacts.support_kinds, contacts.notes, contacts.waiting_since, contacts.last_match_ended_on, "
    "contacts.custom, contacts.legal_hold, contacts.consent_missing, contacts.legal_hold_reason, "
    "contacts.erased_at, contacts.search_text, contacts.sort_name, contacts.created_at, contacts.updated_at, "
    "contacts.organization_id, contacts.id \nFROM contacts \nWHERE contacts.organization_id = $1::UUID "
    "AND contacts.id = $2::UUID AND contacts.organization_id = $3::UUID FOR UPDATE"
)
FIELDS = (
    "SELECT contact_fields.key, contact_fields.label_de, contact_fields.label_en, contact_fields.type, "
    "CAST(contact_fields.options AS TEXT) AS options, contact_fields.required_for, contact_fields.position "
    "\nFROM contact_fields \nWHERE contact_fields.organization_id = $1::UUID "
    "AND contact_fields.archived_at IS NULL ORDER BY contact_fields.position, contact_fields.key"
)
HISTORY = (
    "INSERT INTO history (actor_kind, actor_user_id, actor_membership_id, actor_token_id, actor, reason, "
    "entity, entity_id, action, contact_ids, match_id, target, changes, details, organization_id, id) "
    "VALUES ($1::VARCHAR, $2::UUID, $3::UUID, $4::UUID, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR, $8::UUID, "
    "$9::VARCHAR, $10::UUID[], $11::UUID, $12::VARCHAR, $13::JSONB, $14::JSONB, $15::UUID, $16::UUID)"
)
CHANGE = (
    f"UPDATE contacts SET city = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2 RETURNING {OUT}"
)
COLUMNS = (
    "id, kinds, first_name, last_name, preferred_name, organisation_name, birth_date, age_group, "
    "gender, languages, postal_code, city, phone, email, preferred_channel, status, status_changed_at, "
    "tags, owner_membership_id, interests, availability, capacity, preferences, support_kinds, notes, "
    "waiting_since, last_match_ended_on, custom, legal_hold, legal_hold_reason, erased_at, created_at, "
    "updated_at"
)
# What a suggestions request must read however well it caches: the person and the revision
# of the organisation's matching pool (scoring itself has no SQL floor).
PERSON_AND_REVISION = (
    f"SELECT {COLUMNS}, (SELECT revision FROM change_counters WHERE id = $3) AS revision "
    "FROM contacts WHERE organization_id = $1 AND id = $2"
)
POOL_TOPIC = uuid.UUID("1f9c4f5a-7d02-55b4-95cb-d553d4703f6f")
# codo begins each transaction together with its scope, in one round trip (shared/db.py).
BEGIN_SCOPED = "BEGIN; SELECT set_config('codo.org_id', '{org}', true), set_config('codo.system', '', true)"

_encoder = msgspec.json.Encoder()


class CityIn(msgspec.Struct):
    city: str


def json(body: Any) -> Response[bytes]:
    return Response(_encoder.encode(body), media_type="application/json")


async def _keep(conn: asyncpg.Connection) -> None:
    """Return a connection to the pool as codo's pool does: without asyncpg's reset statement
    (the scope is transaction-local, so nothing outlives the transaction)."""


def create_app(dsn: str, org: uuid.UUID, pool_size: int) -> Litestar:
    state: dict[str, Any] = {}
    begin = BEGIN_SCOPED.format(org=org)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size, reset=_keep)
        try:
            yield
        finally:
            await state["pool"].close()

    @asynccontextmanager
    async def scoped() -> AsyncIterator[asyncpg.Connection]:
        async with state["pool"].acquire() as conn:
            await conn.execute(begin)
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    @get("/select1")
    async def select1() -> Response[bytes]:
        async with state["pool"].acquire() as conn:
            return json(await conn.fetchval("SELECT 1"))

    @get("/api/v1/orgs/{slug:str}/contacts")
    async def contacts(slug: str) -> Response[bytes]:
        async with scoped() as conn:
            rows = await conn.fetch(LIST, org)
        return json({"items": [dict(r) for r in rows[:50]], "next_cursor": None})

    @get("/api/v1/orgs/{slug:str}/contacts/{contact_id:uuid}")
    async def one(slug: str, contact_id: uuid.UUID) -> Response[bytes]:
        async with scoped() as conn:
            row = await conn.fetchrow(ONE, org, contact_id)
        return json(dict(row)) if row else Response(b"", status_code=404)

    @patch("/api/v1/orgs/{slug:str}/contacts/{contact_id:uuid}")
    async def change(slug: str, contact_id: uuid.UUID, request: Request[Any, Any, Any]) -> Response[bytes]:
        data = msgspec.json.decode(await request.body(), type=CityIn)
        async with scoped() as conn:
            before = await conn.fetchrow(LOCK, org, contact_id, org)
            if before is None:
                return Response(b"", status_code=404)
            await conn.fetch(FIELDS, org)
            now = datetime.now(UTC)
            changes = _encoder.encode({"city": [before["city"], data.city]}).decode()
            await conn.execute(
                HISTORY, "token", None, None, None, "API token bench", "", "contact", contact_id,
                "changed", [contact_id], None, "", changes, "{}", org, uuid.uuid4(),
            )  # fmt: skip
            row = await conn.fetchrow(CHANGE, org, contact_id, data.city, now)
        return json(dict(row))

    @get("/api/v1/orgs/{slug:str}/matching/suggestions")
    async def suggestions(slug: str, contact_id: uuid.UUID) -> Response[bytes]:
        async with scoped() as conn:
            row = await conn.fetchrow(PERSON_AND_REVISION, org, contact_id, POOL_TOPIC)
        return json({"items": [dict(row)]}) if row else Response(b"", status_code=404)

    return Litestar(
        [select1, contacts, one, change, suggestions], lifespan=[lifespan], debug=False, logging_config=None
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--org", type=uuid.UUID, required=True)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.dsn, args.org, args.pool_size),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
    )
