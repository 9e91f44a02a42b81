"""The floor the API is measured against: a bare Litestar + asyncpg app, one process.

It answers the same three questions as codo's contacts API (a page of 50 by name, one contact,
a change of one contact) with the same SQL under the same row-level security (one transaction,
``set_config('codo.org_id', ..., true)``, the runtime role), and nothing else: no
authentication, no ORM, no domain rules. What codo needs beyond this is its own cost.

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

from shared.contacts import service as contacts_service

# The very statements codo sends for these requests, taken from codo's contacts service (compiled
# there once): the page with its custom fields, programmes and consents, one contact, and the
# change's UPDATE ... RETURNING. The floor differs from codo only in what runs around them.
LIST = contacts_service._plain_list_sql("name", paged=False, include_erased=False, limit=51)
ONE = contacts_service._ONE_OUT
CHANGE = f"UPDATE contacts SET city = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2 RETURNING {contacts_service._OUT_LIST}"  # noqa: E501
# The columns a suggestion's person is read by (codo reads them through the ORM).
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
SCOPE = "SELECT set_config('codo.org_id', $1, true)"

_encoder = msgspec.json.Encoder()


class CityIn(msgspec.Struct):
    city: str


def json(body: Any) -> Response[bytes]:
    return Response(_encoder.encode(body), media_type="application/json")


def create_app(dsn: str, org: uuid.UUID, pool_size: int) -> Litestar:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
        try:
            yield
        finally:
            await state["pool"].close()

    async def scoped(sql: str, *args: Any) -> list[asyncpg.Record]:
        async with state["pool"].acquire() as conn, conn.transaction():
            await conn.execute(SCOPE, str(org))
            rows: list[asyncpg.Record] = await conn.fetch(sql, org, *args)
            return rows

    @get("/select1")
    async def select1() -> Response[bytes]:
        async with state["pool"].acquire() as conn:
            return json(await conn.fetchval("SELECT 1"))

    @get("/api/v1/orgs/{slug:str}/contacts")
    async def contacts(slug: str) -> Response[bytes]:
        rows = await scoped(LIST)
        return json({"items": [dict(r) for r in rows[:50]], "next_cursor": None})

    @get("/api/v1/orgs/{slug:str}/contacts/{contact_id:uuid}")
    async def one(slug: str, contact_id: uuid.UUID) -> Response[bytes]:
        rows = await scoped(ONE, contact_id)
        return json(dict(rows[0])) if rows else Response(b"", status_code=404)

    @patch("/api/v1/orgs/{slug:str}/contacts/{contact_id:uuid}")
    async def change(slug: str, contact_id: uuid.UUID, request: Request[Any, Any, Any]) -> Response[bytes]:
        data = msgspec.json.decode(await request.body(), type=CityIn)
        rows = await scoped(CHANGE, contact_id, data.city, datetime.now(UTC))
        return json(dict(rows[0])) if rows else Response(b"", status_code=404)

    @get("/api/v1/orgs/{slug:str}/matching/suggestions")
    async def suggestions(slug: str, contact_id: uuid.UUID) -> Response[bytes]:
        rows = await scoped(PERSON_AND_REVISION, contact_id, POOL_TOPIC)
        return json({"items": [dict(rows[0])]}) if rows else Response(b"", status_code=404)

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
