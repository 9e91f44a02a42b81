"""One status list: intake's "new" and "declined (child protection)" are contact statuses, moved
over by the migration; the child-protection decision stays with admins and carries a reason."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from services.localstack import provision_database
from shared import migrate
from shared.db import Database, plain_url
from shared.permissions import Role
from tests.conftest import Org, Servers
from tests.fixtures.tasks import add_member, csrf_of, sign_in

API = "/api/v1/orgs"


async def test_the_migration_moves_intake_statuses_into_the_contacts(servers: Servers) -> None:
    owner_url, _ = await provision_database(
        servers.superuser_url, f"codo_mig_{secrets.token_hex(4)}", servers.password
    )
    await asyncio.to_thread(migrate.upgrade, owner_url, "0007_intake")
    org, new, declined, chosen = (uuid.uuid4() for _ in range(4))
    conn = await asyncpg.connect(plain_url(owner_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('codo.system', 'on', true)")
            await conn.execute("INSERT INTO organizations (id, slug, name) VALUES ($1, 'mig', 'Mig')", org)
            for cid, status, intake in (
                (new, "interested", "new"),
                (declined, "screening", "declined_child_protection"),
                (chosen, "ready", "new"),  # a coordinator chose "ready" since: it stays
            ):
                await conn.execute(
                    "INSERT INTO contacts (organization_id, id, kinds, last_name, status) "
                    "VALUES ($1, $2, '{mentor}', 'X', $3)",
                    org,
                    cid,
                    status,
                )
                await conn.execute(
                    "INSERT INTO intake_profiles (organization_id, id, contact_id, intake_status) "
                    "VALUES ($1, $2, $3, $4)",
                    org,
                    uuid.uuid4(),
                    cid,
                    intake,
                )
    finally:
        await conn.close()
    await asyncio.to_thread(migrate.upgrade, owner_url)
    conn = await asyncpg.connect(plain_url(owner_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('codo.system', 'on', true)")
            rows = dict(await conn.fetch("SELECT id, status FROM contacts"))
    finally:
        await conn.close()
    assert rows == {new: "new", declined: "declined_child_protection", chosen: "ready"}


async def test_only_an_admin_declines_or_lifts_for_child_protection_with_a_reason(
    client: AsyncTestClient[Any], browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    r = await client.post(
        f"{API}/{org_a.slug}/contacts",
        json={"kinds": ["mentor"], "first_name": "Tom", "last_name": "Test", "status": "screening"},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert r.status_code == 201, r.text
    url = f"{API}/{org_a.slug}/contacts/{r.json()['id']}"
    born_declined = {"kinds": ["mentor"], "last_name": "Neu", "status": "declined_child_protection"}
    created = await client.post(
        f"{API}/{org_a.slug}/contacts", json=born_declined, headers=org_a.auth(Role.ADMIN)
    )
    assert created.status_code == 422 and created.json()["field"] == "status"
    decline = {"status": "declined_child_protection", "status_reason": "Eintrag im Führungszeugnis"}
    r = await client.patch(url, json=decline, headers=org_a.auth(Role.COORDINATOR))
    assert r.status_code == 403
    r = await client.patch(url, json={"status": "declined_child_protection"}, headers=org_a.auth(Role.ADMIN))
    assert r.status_code == 422 and r.json()["field"] == "status_reason"
    r = await client.patch(url, json=decline, headers=org_a.auth(Role.ADMIN))
    assert r.status_code == 200 and r.json()["status"] == "declined_child_protection"

    # Every list sees the one status.
    listed = await client.get(
        f"{API}/{org_a.slug}/contacts",
        params={"status": "declined_child_protection"},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert [c["last_name"] for c in listed.json()["items"]] == ["Test"]
    # The coordinator cannot take it back; the admin can, again with a reason, and both stay on record.
    r = await client.patch(
        url, json={"status": "ready", "status_reason": "x"}, headers=org_a.auth(Role.COORDINATOR)
    )
    assert r.status_code == 403
    r = await client.patch(
        url, json={"status": "screening", "status_reason": "Verwechslung"}, headers=org_a.auth(Role.ADMIN)
    )
    assert r.status_code == 200 and r.json()["status"] == "screening"
    timeline = (await client.get(f"{url}/timeline", headers=org_a.auth(Role.ADMIN))).json()
    bodies = [a["body"] for a in timeline["items"]]
    # The API reads codo's own words in English; the person's page in the reader's language.
    assert "Status: declined (child protection) → in screening. Reason: Verwechslung" in bodies
    assert "Status: in screening → declined (child protection). Reason: Eintrag im Führungszeugnis" in bodies
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    page = (await browserless.get(f"/o/{org_a.slug}/contacts/{r.json()['id']}")).text
    assert "Status: abgelehnt (Kinderschutz) → in Prüfung. Grund: Verwechslung" in page


async def test_an_admin_decides_on_the_edit_page_with_a_reason(
    browserless: AsyncTestClient[Any], client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    r = await client.post(
        f"{API}/{org_a.slug}/contacts",
        json={"kinds": ["mentor"], "first_name": "Uwe", "last_name": "Test", "status": "screening"},
        headers=org_a.auth(Role.COORDINATOR),
    )
    contact = r.json()["id"]
    admin = await add_member(db, org_a, role="admin")
    await sign_in(browserless, admin)
    form = await browserless.get(f"/o/{org_a.slug}/contacts/{contact}/edit")
    assert "Grund einer Kinderschutz-Entscheidung" in form.text
    assert (
        '<option value="declined_child_protection"' in form.text and "abgelehnt (Kinderschutz)" in form.text
    )
    sent = {
        "_csrf": csrf_of(form.text),
        "kinds": "mentor",
        "first_name": "Uwe",
        "last_name": "Test",
        "status": "declined_child_protection",
    }
    refused = await browserless.post(f"/o/{org_a.slug}/contacts/{contact}/edit", data=sent)
    assert refused.status_code == 422
    sent["status_reason"] = "Einschlägiger Eintrag"
    done = await browserless.post(
        f"/o/{org_a.slug}/contacts/{contact}/edit", data=sent, follow_redirects=True
    )
    assert done.status_code == 200
    assert "abgelehnt (Kinderschutz)" in done.text.split("<h1")[1].split("</h1>")[0]
    assert "Einschlägiger Eintrag" in done.text
