"""Members and invitations over the JSON API: roles, the last owner, the audit log, the CLI's first owner."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from services.worker.main import deliver_outbox
from shared import i18n
from shared.db import Database
from shared.identity.models import Invitation
from shared.models import Membership, User
from shared.permissions import Role
from shared.settings import Settings
from tests.conftest import Mailbox, Org, settings_env
from tests.fixtures.identity import add_person
from tests.test_cli import codo

API = "/api/v1/orgs"


def email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@mentoring.example"


async def owner_membership(db: Database, org: Org) -> uuid.UUID:
    async with db.tenant(org.id) as session:
        return (await session.execute(select(Membership.id).where(Membership.role == "owner"))).scalar_one()


async def audit(client: AsyncTestClient[Any], org: Org) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/{org.slug}/audit-log", headers=org.auth())
    assert r.status_code == 200
    return list(r.json()["items"])


async def test_invite_resend_and_revoke(
    client: AsyncTestClient[Any], db: Database, settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    address = email("ina")
    r = await client.post(
        f"{API}/{org_a.slug}/invitations",
        json={"email": address.upper(), "role": "viewer"},
        headers=org_a.auth(),
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["email"] == address and first["status"] == "pending" and first["role"] == "viewer"
    r = await client.post(
        f"{API}/{org_a.slug}/invitations", json={"email": address, "role": "viewer"}, headers=org_a.auth()
    )
    assert r.status_code == 409 and r.json()["field"] == "email"

    r = await client.post(f"{API}/{org_a.slug}/invitations/{first['id']}/resend", headers=org_a.auth())
    assert r.status_code == 200
    second = r.json()
    assert second["sent_count"] == 2 and second["link"] != first["link"]
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
    messages = await mailbox.wait_for(address, count=2)
    bodies = [m.get_payload(decode=True).decode() for m in messages]
    assert first["link"] in bodies[0] and second["link"] in bodies[1]

    r = await client.delete(f"{API}/{org_a.slug}/invitations/{first['id']}", headers=org_a.auth())
    assert r.status_code == 204
    listed = (await client.get(f"{API}/{org_a.slug}/invitations", headers=org_a.auth())).json()["items"]
    assert [i["status"] for i in listed if i["id"] == first["id"]] == ["revoked"]
    pending = (await client.get(f"{API}/{org_a.slug}/invitations?pending=true", headers=org_a.auth())).json()
    assert first["id"] not in [i["id"] for i in pending["items"]]
    r = await client.post(f"{API}/{org_a.slug}/invitations/{first['id']}/resend", headers=org_a.auth())
    assert r.status_code == 409

    actions = [(e["action"], e["target"], e["actor"]) for e in await audit(client, org_a)]
    assert ("invitation.revoked", address, "API token admin token") in actions
    assert ("invitation.resent", address, "API token admin token") in actions
    assert ("invitation.sent", address, "API token admin token") in actions


async def test_bad_invitations_name_the_field_and_write_nothing(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    url = f"{API}/{org_a.slug}/invitations"
    for body, field in [
        ({"email": "not an address", "role": "viewer"}, "email"),
        ({"email": email("x"), "role": "boss"}, "role"),
        ({"role": "viewer"}, "email"),
        ({"email": f"owner@{org_a.slug}.example", "role": "viewer"}, "email"),
    ]:
        r = await client.post(url, json=body, headers=org_a.auth())
        assert r.status_code in (400, 409, 422), (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == field, (body, r.json())
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(select(Invitation))).all() == []


async def test_roles_change_and_the_last_owner_stays(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    owner = await owner_membership(db, org_a)
    kim = await add_person(db, org_a.id, email("kim"), "coordinator")
    url = f"{API}/{org_a.slug}/members"

    r = await client.patch(f"{url}/{owner}", json={"role": "admin"}, headers=org_a.auth(Role.OWNER))
    assert r.status_code == 409 and "last owner" in r.json()["detail"]
    r = await client.delete(f"{url}/{owner}", headers=org_a.auth(Role.OWNER))
    assert r.status_code == 409
    r = await client.patch(f"{url}/{owner}", json={"role": "viewer"}, headers=org_a.auth(Role.ADMIN))
    assert r.status_code == 403, "an admin cannot change an owner"
    r = await client.patch(f"{url}/{kim}", json={"role": "owner"}, headers=org_a.auth(Role.ADMIN))
    assert r.status_code == 403, "an admin cannot make an owner"

    r = await client.patch(f"{url}/{kim}", json={"role": "owner"}, headers=org_a.auth(Role.OWNER))
    assert r.status_code == 200 and r.json()["role"] == "owner"
    # Two owners now: the first may step down.
    r = await client.patch(f"{url}/{owner}", json={"role": "viewer"}, headers=org_a.auth(Role.OWNER))
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    r = await client.delete(f"{url}/{kim}", headers=org_a.auth(Role.OWNER))
    assert r.status_code == 409, "kim is the last owner now"
    r = await client.delete(f"{url}/{owner}", headers=org_a.auth(Role.OWNER))
    assert r.status_code == 204
    listed = (await client.get(url, headers=org_a.auth())).json()["items"]
    assert [m["role"] for m in listed] == ["owner"]

    entries = await audit(client, org_a)
    changes = [(e["action"], e["details"]) for e in entries if e["action"].startswith("member.")]
    assert ("member.removed", {"role": "viewer"}) in changes
    assert ("member.role_changed", {"old": "coordinator", "new": "owner"}) in changes
    assert ("member.role_changed", {"old": "owner", "new": "viewer"}) in changes
    assert all(e["actor"] == "API token owner token" and e["at"] for e in entries)


async def test_members_and_invitations_need_the_right_role(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    kim = await add_person(db, org_a.id, email("kim"), "viewer")
    for role in (Role.VIEWER, Role.COORDINATOR):
        h = org_a.auth(role)
        assert (
            await client.patch(f"{API}/{org_a.slug}/members/{kim}", json={"role": "admin"}, headers=h)
        ).status_code == 403
        assert (await client.delete(f"{API}/{org_a.slug}/members/{kim}", headers=h)).status_code == 403
        assert (await client.get(f"{API}/{org_a.slug}/invitations", headers=h)).status_code == 403
        r = await client.post(
            f"{API}/{org_a.slug}/invitations", json={"email": email("v"), "role": "viewer"}, headers=h
        )
        assert r.status_code == 403
        assert (await client.get(f"{API}/{org_a.slug}/audit-log", headers=h)).status_code == 403
        assert (await client.get(f"{API}/{org_a.slug}/signin-provider", headers=h)).status_code == 403
    # Everyone may see who the members are.
    assert (
        await client.get(f"{API}/{org_a.slug}/members", headers=org_a.auth(Role.VIEWER))
    ).status_code == 200
    # A missing member is a 404 before any role check.
    missing = uuid.uuid4()
    r = await client.patch(
        f"{API}/{org_a.slug}/members/{missing}", json={"role": "admin"}, headers=org_a.auth(Role.VIEWER)
    )
    assert r.status_code == 404


async def test_another_organisations_members_and_invitations_are_not_found(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    b_member = await owner_membership(db, org_b)
    r = await client.post(
        f"{API}/{org_b.slug}/invitations", json={"email": email("b"), "role": "viewer"}, headers=org_b.auth()
    )
    b_invitation = r.json()["id"]
    a = org_a.auth(Role.OWNER)
    assert (
        await client.patch(f"{API}/{org_a.slug}/members/{b_member}", json={"role": "viewer"}, headers=a)
    ).status_code == 404
    assert (await client.delete(f"{API}/{org_a.slug}/members/{b_member}", headers=a)).status_code == 404
    assert (
        await client.delete(f"{API}/{org_a.slug}/invitations/{b_invitation}", headers=a)
    ).status_code == 404
    assert (
        await client.post(f"{API}/{org_a.slug}/invitations/{b_invitation}/resend", headers=a)
    ).status_code == 404
    listed = (await client.get(f"{API}/{org_b.slug}/invitations", headers=org_b.auth())).json()["items"]
    assert [i["status"] for i in listed] == ["pending"]


async def test_the_org_provider_secret_is_encrypted_at_rest(
    client: AsyncTestClient[Any], db: Database, org_a: Org, org_b: Org
) -> None:
    body = {
        "issuer": "https://login.example/tenant",
        "client_id": "codo",
        "client_secret": "s3cret-value-for-test",
    }
    r = await client.put(f"{API}/{org_a.slug}/signin-provider", json=body, headers=org_a.auth())
    assert r.status_code == 200 and "s3cret" not in r.text
    from shared.identity.models import IdentityProvider

    async with db.tenant(org_a.id) as session:
        stored = (await session.execute(select(IdentityProvider))).scalar_one()
    assert b"s3cret" not in stored.client_secret_encrypted
    # Copied into another organisation's row, the ciphertext does not decrypt.
    from shared.identity import crypto
    from shared.identity.crypto import SecretUnreadable

    settings = client.app.state.settings
    assert crypto.decrypt(settings, org_a.id, stored.client_secret_encrypted) == body["client_secret"]
    with pytest.raises(SecretUnreadable):
        crypto.decrypt(settings, org_b.id, stored.client_secret_encrypted)
    r = await client.put(
        f"{API}/{org_a.slug}/signin-provider",
        json={**body, "allowed_domains": ["not a domain"]},
        headers=org_a.auth(),
    )
    assert r.status_code == 422 and r.json()["field"] == "allowed_domains"
    r = await client.put(
        f"{API}/{org_a.slug}/signin-provider",
        json={**body, "auto_join_role": "coordinator"},
        headers=org_a.auth(),
    )
    assert r.status_code == 422 and r.json()["field"] == "auto_join_role", "auto-join needs allowed domains"


async def test_org_create_with_owner_email_sends_the_first_invitation(
    db: Database, settings: Settings, mailbox: Mailbox
) -> None:
    env = settings_env(settings)
    slug = f"cli-{secrets.token_hex(3)}"
    address = email("founder")
    result = codo(env, "org", "create", slug, "--name", "Neuer Verein", "--owner-email", address)
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    assert link.startswith(settings.public_url) and "/invite/inv_" in link
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
    [message] = await mailbox.wait_for(address)
    assert link in message.get_payload(decode=True).decode() and "Neuer Verein" in message["Subject"]
    result = codo(env, "org", "create", f"{slug}-x", "--name", "X", "--owner-email", "nope")
    assert result.returncode != 0 and "e-mail" in result.stderr
    assert f"{slug}-x" not in codo(env, "org", "list").stdout


async def test_api_tokens_created_and_revoked_are_in_the_audit_log(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    r = await client.post(
        f"{API}/{org_a.slug}/tokens", json={"name": "CRM-Abgleich", "role": "viewer"}, headers=org_a.auth()
    )
    assert r.status_code == 201
    assert (
        await client.delete(f"{API}/{org_a.slug}/tokens/{r.json()['id']}", headers=org_a.auth())
    ).status_code == 204
    entries = [(e["action"], e["target"], e["actor"]) for e in await audit(client, org_a)]
    assert entries[:2] == [
        ("token.revoked", "CRM-Abgleich", "API token admin token"),
        ("token.created", "CRM-Abgleich", "API token admin token"),
    ]


async def test_the_invitation_speaks_the_invitees_language(
    client: AsyncTestClient[Any],
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    org_a: Org,
    org_b: Org,
) -> None:
    """A stranger reads German first and English second; someone who already uses codo in English
    reads English alone. The expiry is a date a person reads, not an ISO timestamp."""
    stranger, known = email("neu"), email("known")
    await add_person(db, org_b.id, known, "viewer")
    async with db.platform() as session:
        await session.execute(update(User).where(User.email == known).values(locale="en"))
    for address in (stranger, known):
        r = await client.post(
            f"{API}/{org_a.slug}/invitations", json={"email": address, "role": "viewer"}, headers=org_a.auth()
        )
        assert r.status_code == 201, r.text
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})

    expires = datetime.now(UTC) + timedelta(days=7)
    (german,) = await mailbox.wait_for(stranger)
    body = german.get_payload(decode=True).decode()
    assert german["Subject"].startswith("Einladung zu ") and "/ Invitation to " in german["Subject"]
    assert body.index("lädt Sie zu") < body.index("invites you to")
    assert f"gültig bis {i18n.day('de', expires)} um" in body
    assert f"valid until {i18n.day('en', expires)} at" in body

    (english,) = await mailbox.wait_for(known)
    body = english.get_payload(decode=True).decode()
    assert english["Subject"].startswith("Invitation to ") and "Einladung" not in english["Subject"]
    assert "invites you to" in body and "lädt" not in body
    assert f"valid until {i18n.day('en', expires)} at" in body
