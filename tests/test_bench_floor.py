"""The API benchmark's floor (tests/bench/floor.py) runs codo's own statements, so the ratio it
prints compares codo with exactly the SQL codo sends, not with a lighter query."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import event

from shared.permissions import Role
from tests.bench import floor
from tests.conftest import Org


async def test_the_floor_sends_what_codo_sends(client: AsyncTestClient[Any], org_a: Org) -> None:
    sent: list[str] = []
    logging: set[Any] = set()

    def log(record: Any) -> None:
        sent.append(record.query)

    def listen(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(log)
        logging.add(dbapi_connection.driver_connection)

    def orm(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    # Driver statements reach the query logger; the ORM's (prepared by SQLAlchemy) this event.
    engine = client.app.state.db.engine.sync_engine
    event.listen(engine, "checkout", listen)
    event.listen(engine, "before_cursor_execute", orm)
    try:
        base = f"/api/v1/orgs/{org_a.slug}/contacts"
        auth = org_a.auth(Role.COORDINATOR)
        person = {"kinds": ["mentee"], "first_name": "Mara", "last_name": "Sommer"}
        created = await client.post(base, json=person, headers=auth)
        assert created.status_code == 201, created.text
        url = f"{base}/{created.json()['id']}"
        sent.clear()
        assert (await client.get(f"{base}?limit=50", headers=auth)).json()["items"][0]["city"] is None
        assert floor.BEGIN_SCOPED.format(org=org_a.id) in sent
        assert floor.LIST in sent
        sent.clear()
        assert (await client.get(url, headers=auth)).json()["first_name"] == "Mara"
        assert floor.ONE in sent
        sent.clear()
        assert (await client.patch(url, json={"city": "Kiel"}, headers=auth)).json()["city"] == "Kiel"
        # The change's statements, as the floor sends them: the locked read first, the write last.
        # (The driver's statements are logged once they ended, the ORM's before they run: the
        # order of the two in between is not told by the log.)
        change = [floor.LOCK, floor.FIELDS, floor.HISTORY, floor.CHANGE]
        seen = [s for s in sent if s in change]
        assert sorted(seen) == sorted(change)
        assert seen[0] == floor.LOCK and seen[-1] == floor.CHANGE
    finally:
        event.remove(engine, "checkout", listen)
        event.remove(engine, "before_cursor_execute", orm)
        for connection in logging:
            connection.remove_query_logger(log)
