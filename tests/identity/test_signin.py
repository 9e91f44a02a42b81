"""OpenID Connect sign-in against a real provider (oidc-provider on loopback), without a browser."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import redis.asyncio as aioredis
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from services.api.app import create_app
from services.worker.main import deliver_outbox
from shared.db import Database
from shared.identity.models import Identity, Invitation
from shared.identity.sessions import SessionStore
from shared.models import Membership, User
from shared.permissions import Role
from shared.settings import Settings
from tests.conftest import Mailbox, Org
from tests.fixtures.identity import (
    ORG_CLIENT_ID,
    ORG_CLIENT_SECRET,
    PUBLIC_URL,
    Browserless,
    OidcProvider,
    platform_providers_json,
)

API = "/api/v1/orgs"
PLATFORM = "platform:testidp"


def unique(name: str, domain: str = "mentoring.example") -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@{domain}"


def reason_of(html: str) -> str:
    match = re.search(r'data-reason="([^"]+)"', html)
    assert match, html[:1000]
    return match.group(1)


async def invite(person: Browserless, org: Org, email: str, role: str = "coordinator") -> dict[str, Any]:
    r = await person.codo.post(
        f"{API}/{org.slug}/invitations", json={"email": email, "role": role}, headers=org.auth(Role.OWNER)
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def deliver(db: Database, settings: Settings) -> None:
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test-worker"})


def link_in(message: Any) -> str:
    payload = (
        message.get_payload(decode=True)
        if not message.is_multipart()
        else message.get_payload(0).get_payload(decode=True)
    )
    body = payload.decode()
    links = set(re.findall(r"https://codo\.test/invite/\S+", body))
    assert len(links) == 1, body
    return links.pop()


async def memberships_of(db: Database, org: Org, email: str) -> list[str]:
    async with db.tenant(org.id) as session:
        rows = await session.execute(
            select(Membership.role).join(User, User.id == Membership.user_id).where(User.email == email)
        )
        return list(rows.scalars())


async def test_an_invitation_arrives_by_mail_and_its_link_signs_the_person_in_with_the_invited_role(
    person: Browserless, db: Database, identity_settings: Settings, mailbox: Mailbox, org_a: Org
) -> None:
    email = unique("ida")
    await invite(person, org_a, email, "coordinator")
    await deliver(db, identity_settings)
    [message] = await mailbox.wait_for(email)
    assert "Einladung" in message["Subject"] and f"Verein {org_a.slug}" in message["Subject"]
    link = link_in(message)

    page = await person.codo.get(link)
    assert page.status_code == 200 and "Test-IdP" in page.text
    start = re.search(r'href="(/auth/start\?[^"]+)"', page.text)
    assert start
    provider_url = await person.start(start.group(1).replace("&amp;", "&"))
    query = parse_qs(urlsplit(provider_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]

    before = person.session_cookie
    callback = await person.at_provider(provider_url, email)
    r = await person.codo.get(callback, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/o/{org_a.slug}"
    cookie = r.headers["set-cookie"]
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    assert person.session_cookie and person.session_cookie != before, "the session id changes at sign-in"
    home = await person.codo.get(f"/o/{org_a.slug}")
    assert home.status_code == 200 and f"Verein {org_a.slug}" in home.text
    assert await memberships_of(db, org_a, email) == ["coordinator"]

    # The link is single-use: a second person with the same link gets nowhere.
    again = await person.codo.get(link)
    assert reason_of(again.text) == "invitation-invalid"


async def test_expired_and_reused_invitation_links_are_refused(
    person: Browserless, web_app: Any, db: Database, org_a: Org
) -> None:
    email = unique("eli")
    created = await invite(person, org_a, email)
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(created["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    page = await person.codo.get(created["link"])
    assert reason_of(page.text) == "invitation-invalid"
    token = created["link"].rsplit("/", 1)[1]
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
    assert reason_of(r.text) == "invitation-invalid"
    assert await memberships_of(db, org_a, email) == []

    # Used once: anybody else who gets hold of the link is refused.
    email = unique("uma")
    token = (await invite(person, org_a, email))["link"].rsplit("/", 1)[1]
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
    assert r.status_code == 303
    async with AsyncTestClient(app=web_app, base_url=PUBLIC_URL) as codo:
        other = Browserless(codo, person.idp)
        r = await other.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", unique("mallory"))
        assert reason_of(r.text) == "invitation-invalid"
    assert await memberships_of(db, org_a, email) == ["coordinator"]


async def test_a_returning_member_signs_in_from_the_organisations_page(
    person: Browserless, web_app: Any, org_a: Org
) -> None:
    email = unique("rae")
    token = (await invite(person, org_a, email, "viewer"))["link"].rsplit("/", 1)[1]
    assert (
        await person.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
    ).status_code == 303
    async with AsyncTestClient(app=web_app, base_url=PUBLIC_URL) as codo:
        later = Browserless(codo, person.idp)
        page = await codo.get(f"/o/{org_a.slug}/signin")
        assert "Test-IdP" in page.text
        r = await later.sign_in(f"/auth/start?provider={PLATFORM}&org={org_a.slug}", email)
        assert r.status_code == 303 and r.headers["location"] == f"/o/{org_a.slug}"
        # Through the platform's own page too: it knows the person and offers their organisations.
        r = await later.sign_in(f"/auth/start?provider={PLATFORM}", email)
        assert r.status_code == 303 and r.headers["location"] == "/"
        chooser = await codo.get("/", follow_redirects=False)
        assert chooser.headers.get("location") == f"/o/{org_a.slug}"


async def test_an_unknown_person_without_invitation_is_refused_and_nothing_is_created(
    person: Browserless, db: Database, org_a: Org
) -> None:
    email = unique("stranger")
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&org={org_a.slug}", email)
    assert r.status_code == 403
    assert reason_of(r.text) == "not-invited"
    assert "Einladung" in r.text, "the page explains (in German) what to do"
    assert await memberships_of(db, org_a, email) == []
    async with db.platform() as session:
        assert (
            await session.execute(select(func.count()).select_from(User).where(User.email == email))
        ).scalar_one() == 0
        assert (
            await session.execute(select(func.count()).select_from(Identity).where(Identity.email == email))
        ).scalar_one() == 0
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}", email)
    assert reason_of(r.text) == "unknown-user"
    assert (await person.codo.get(f"/o/{org_a.slug}", follow_redirects=False)).status_code == 303


async def test_a_wrong_or_foreign_state_is_refused(person: Browserless, web_app: Any, org_a: Org) -> None:
    email = unique("sam")
    provider_url = await person.start(f"/auth/start?provider={PLATFORM}&org={org_a.slug}")
    callback = await person.at_provider(provider_url, email)
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    forged = f"{PUBLIC_URL}/auth/callback?code={query['code'][0]}&state=not-the-state"
    r = await person.codo.get(forged)
    assert r.status_code == 403 and reason_of(r.text) == "state-invalid"
    # The real state from another browser (another session) is refused too, and is then used up.
    async with AsyncTestClient(app=web_app, base_url=PUBLIC_URL) as codo:
        r = await codo.get(callback)
        assert reason_of(r.text) == "state-invalid"
    r = await person.codo.get(callback)
    assert reason_of(r.text) == "state-invalid"


async def test_a_sign_in_cancelled_at_the_provider_is_refused(person: Browserless, org_a: Org) -> None:
    provider_url = await person.start(f"/auth/start?provider={PLATFORM}&org={org_a.slug}")
    state = parse_qs(urlsplit(provider_url).query)["state"][0]
    r = await person.codo.get(f"{PUBLIC_URL}/auth/callback?error=access_denied&state={state}")
    assert r.status_code == 403 and reason_of(r.text) == "provider-error"
    assert "abgebrochen" in r.text


async def test_a_replayed_code_is_refused(person: Browserless, db: Database, org_a: Org) -> None:
    email = unique("rex")
    token = (await invite(person, org_a, email))["link"].rsplit("/", 1)[1]
    provider_url = await person.start(f"/auth/start?provider={PLATFORM}&invitation={token}")
    callback = await person.at_provider(provider_url, email)
    assert (await person.codo.get(callback, follow_redirects=False)).status_code == 303
    # Replaying the whole callback: its state is used up.
    assert reason_of((await person.codo.get(callback)).text) == "state-invalid"
    # Replaying the code under a fresh state: the provider refuses the used code.
    fresh = await person.start(f"/auth/start?provider={PLATFORM}&org={org_a.slug}")
    state = parse_qs(urlsplit(fresh).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    r = await person.codo.get(f"{PUBLIC_URL}/auth/callback?code={code}&state={state}")
    assert reason_of(r.text) == "code-rejected"


async def test_a_wrong_nonce_is_refused(person: Browserless, org_a: Org) -> None:
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&org={org_a.slug}", unique("wrong-nonce"))
    assert reason_of(r.text) == "nonce-mismatch"


async def test_an_expired_id_token_is_refused(person: Browserless, org_a: Org) -> None:
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&org={org_a.slug}", unique("expired"))
    assert reason_of(r.text) == "id-token-expired"


async def test_an_unverified_email_is_refused(person: Browserless, org_a: Org) -> None:
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&org={org_a.slug}", unique("unverified"))
    assert reason_of(r.text) == "email-unverified"


async def test_the_provider_rotates_its_keys_and_sign_in_keeps_working(
    person: Browserless, web_app: Any, oidc_provider: OidcProvider, org_a: Org
) -> None:
    email = unique("kay")
    token = (await invite(person, org_a, email))["link"].rsplit("/", 1)[1]
    assert (
        await person.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
    ).status_code == 303
    old = await oidc_provider.jwks_kids()
    cache = web_app.state.oidc._jwks[oidc_provider.issuer].value
    assert {k.kid for k in cache.keys} == set(old), "the app cached the provider's keys"
    await oidc_provider.rotate_keys()
    new = await oidc_provider.jwks_kids()
    assert set(new).isdisjoint(old)
    # The same app, its key cache still holding only the old key: an unknown kid makes it refetch.
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&org={org_a.slug}", email)
    assert r.status_code == 303, r.text[:500]
    cache = web_app.state.oidc._jwks[oidc_provider.issuer].value
    assert {k.kid for k in cache.keys} == set(new)


async def configure_org_provider(
    person: Browserless, org: Org, oidc_provider: OidcProvider, **extra: Any
) -> dict[str, Any]:
    body = {
        "label": "Vereins-Login",
        "issuer": oidc_provider.issuer,
        "client_id": ORG_CLIENT_ID,
        "client_secret": ORG_CLIENT_SECRET,
        **extra,
    }
    r = await person.codo.put(f"{API}/{org.slug}/signin-provider", json=body, headers=org.auth(Role.ADMIN))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_the_organisations_own_provider_admits_allowed_domains_and_maps_groups(
    person: Browserless, web_app: Any, db: Database, oidc_provider: OidcProvider, org_a: Org
) -> None:
    out = await configure_org_provider(
        person,
        org_a,
        oidc_provider,
        allowed_domains=["Allowed.Example"],
        auto_join_role="coordinator",
        group_claim="groups",
        group_roles={"codo-admins": "admin"},
    )
    assert out["allowed_domains"] == ["allowed.example"] and out["client_secret_set"] is True
    assert ORG_CLIENT_SECRET not in msgspec.json.encode(out).decode()
    page = await person.codo.get(f"/o/{org_a.slug}/signin")
    assert "Vereins-Login" in page.text

    outsider = unique("eve", "other.example")
    r = await person.sign_in(f"/auth/start?provider=org&org={org_a.slug}", outsider)
    assert reason_of(r.text) == "domain-not-allowed"
    assert await memberships_of(db, org_a, outsider) == []

    ada = unique("ada", "allowed.example")
    r = await person.sign_in(f"/auth/start?provider=org&org={org_a.slug}", ada)
    assert r.status_code == 303 and r.headers["location"] == f"/o/{org_a.slug}"
    assert await memberships_of(db, org_a, ada) == ["coordinator"]

    async with AsyncTestClient(app=web_app, base_url=PUBLIC_URL) as codo:
        gus = unique("gus", "allowed.example")
        r = await Browserless(codo, person.idp).sign_in(
            f"/auth/start?provider=org&org={org_a.slug}", f"{gus}#codo-admins,other"
        )
        assert r.status_code == 303
        assert await memberships_of(db, org_a, gus) == ["admin"]


async def test_an_organisation_provider_sign_in_acts_in_that_organisation_only(
    person: Browserless, db: Database, oidc_provider: OidcProvider, org_a: Org, org_b: Org
) -> None:
    await configure_org_provider(
        person, org_a, oidc_provider, allowed_domains=["allowed.example"], auto_join_role="viewer"
    )
    email = unique("ola", "allowed.example")
    assert (await person.sign_in(f"/auth/start?provider=org&org={org_a.slug}", email)).status_code == 303
    # Even were the same person a member of B, this session would not act there.
    async with db.platform() as session:
        user_id = (await session.execute(select(User.id).where(User.email == email))).scalar_one()
    from shared.identity.members import SYSTEM_ACTOR, add_membership

    async with db.tenant(org_b.id) as session:
        await add_membership(session, org_b.id, user_id, Role.ADMIN, SYSTEM_ACTOR, email)
    assert (await person.codo.get(f"/o/{org_a.slug}")).status_code == 200
    assert (await person.codo.get(f"/o/{org_b.slug}")).status_code == 404
    assert (await person.codo.get(f"{API}/{org_b.slug}/members")).status_code == 404


async def test_sign_out_ends_the_session_and_logs_out_at_the_provider(
    person: Browserless, oidc_provider: OidcProvider, org_a: Org
) -> None:
    email = unique("otto")
    token = (await invite(person, org_a, email))["link"].rsplit("/", 1)[1]
    assert (
        await person.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
    ).status_code == 303
    home = await person.codo.get(f"/o/{org_a.slug}")
    csrf = re.search(r'name="_csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
    r = await person.codo.post("/auth/signout", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    logout = urlsplit(r.headers["location"])
    assert f"{logout.scheme}://{logout.netloc}" == oidc_provider.issuer
    params = parse_qs(logout.query)
    assert params["post_logout_redirect_uri"] == [f"{PUBLIC_URL}/signin"] and params["id_token_hint"][0]
    assert (await person.codo.get(f"/o/{org_a.slug}", follow_redirects=False)).status_code == 303


async def test_sign_in_attempts_are_rate_limited(identity_settings: Settings, org_a: Org) -> None:
    limited = msgspec.structs.replace(identity_settings, signin_attempts_per_minute=3)
    redis = aioredis.Redis.from_url(identity_settings.redis_dsn)
    # Earlier tests signed in from the same test client address within this minute.
    for key in await redis.keys("codo:ratelimit:signin:*"):
        await redis.delete(key)
    await redis.aclose()
    async with AsyncTestClient(app=create_app(limited), base_url=PUBLIC_URL) as codo:
        codes = [
            (
                await codo.get(f"/auth/start?provider={PLATFORM}&org={org_a.slug}", follow_redirects=False)
            ).status_code
            for _ in range(5)
        ]
    assert codes[:3] == [302, 302, 302] and codes[3:] == [429, 429]


async def test_sessions_end_after_the_absolute_timeout(
    person: Browserless, identity_settings: Settings, org_a: Org
) -> None:
    email = unique("abe")
    token = (await invite(person, org_a, email))["link"].rsplit("/", 1)[1]
    assert (
        await person.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
    ).status_code == 303
    redis = aioredis.Redis.from_url(identity_settings.redis_dsn)
    store = SessionStore(redis, identity_settings)
    session = await store.load(person.session_cookie)
    assert session is not None and session.user_id is not None
    ttl = await redis.ttl(f"codo:session:{hashlib.sha256(session.id.encode()).hexdigest()}")
    assert 55 * 60 < ttl <= 60 * 60, "the idle timeout (60 minutes) is the key's time to live"
    session.created_at -= 12 * 3600 + 1
    await store.save(session)
    await redis.aclose()
    assert (await person.codo.get(f"/o/{org_a.slug}", follow_redirects=False)).status_code == 303


async def test_each_use_restarts_the_idle_timeout_but_never_past_the_absolute_end(
    identity_settings: Settings,
) -> None:
    redis = aioredis.Redis.from_url(identity_settings.redis_dsn)
    store = SessionStore(redis, identity_settings)
    try:
        web = await store.create(user_id=uuid.uuid4())
        key = f"codo:session:{hashlib.sha256(web.id.encode()).hexdigest()}"
        await redis.expire(key, 60)
        assert await store.load(web.id) is not None
        assert 55 * 60 < await redis.ttl(key) <= 60 * 60, "a use restarts the 60 idle minutes"
        # Ten minutes before the absolute end (12 hours) a use gives it those ten minutes only.
        web.created_at -= 12 * 3600 - 600
        await store.save(web)
        await redis.expire(key, 3600)
        assert await store.load(web.id) is not None
        assert 0 < await redis.ttl(key) <= 600
    finally:
        await redis.aclose()


def id_token_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_a_provider_that_sends_the_email_only_from_userinfo_signs_people_in(
    person: Browserless, db: Database, org_a: Org
) -> None:
    # oidc-provider's default (OpenID Connect Core §5.4): the id_token names only the subject.
    email = unique("uli")
    token = (await invite(person, org_a, email, "viewer"))["link"].rsplit("/", 1)[1]
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
    assert r.status_code == 303 and r.headers["location"] == f"/o/{org_a.slug}"
    assert await memberships_of(db, org_a, email) == ["viewer"]
    home = await person.codo.get(f"/o/{org_a.slug}")
    csrf = re.search(r'name="_csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
    out = await person.codo.post("/auth/signout", data={"_csrf": csrf}, follow_redirects=False)
    claims = id_token_claims(parse_qs(urlsplit(out.headers["location"]).query)["id_token_hint"][0])
    assert claims["sub"] == email and "email" not in claims, "the e-mail address came from UserInfo"


async def test_a_provider_that_puts_the_email_into_the_id_token_signs_people_in(
    person: Browserless,
    identity_settings: Settings,
    thick_oidc_provider: OidcProvider,
    db: Database,
    org_a: Org,
) -> None:
    thick = msgspec.structs.replace(
        identity_settings, oidc_providers=platform_providers_json(thick_oidc_provider.issuer, "thick")
    )
    email = unique("tim")
    token = (await invite(person, org_a, email))["link"].rsplit("/", 1)[1]
    async with AsyncTestClient(app=create_app(thick), base_url=PUBLIC_URL) as codo:
        r = await Browserless(codo, person.idp).sign_in(
            f"/auth/start?provider=platform:thick&invitation={token}", email
        )
    assert r.status_code == 303
    assert await memberships_of(db, org_a, email) == ["coordinator"]


async def test_a_platform_provider_without_email_verified_needs_the_switch(
    person: Browserless, identity_settings: Settings, oidc_provider: OidcProvider, db: Database, org_a: Org
) -> None:
    email = unique("noverified-nia")
    token = (await invite(person, org_a, email))["link"].rsplit("/", 1)[1]
    r = await person.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
    assert reason_of(r.text) == "email-unverified"
    assert await memberships_of(db, org_a, email) == []

    switched = msgspec.structs.replace(
        identity_settings,
        oidc_providers=platform_providers_json(oidc_provider.issuer, require_email_verified=False),
    )
    async with AsyncTestClient(app=create_app(switched), base_url=PUBLIC_URL) as codo:
        entra_like = Browserless(codo, person.idp)
        r = await entra_like.sign_in(f"/auth/start?provider={PLATFORM}&invitation={token}", email)
        assert r.status_code == 303
        # A provider that says "not verified" is still believed.
        r = await entra_like.sign_in(
            f"/auth/start?provider={PLATFORM}&org={org_a.slug}", unique("unverified")
        )
        assert reason_of(r.text) == "email-unverified"
    assert await memberships_of(db, org_a, email) == ["coordinator"]


async def test_an_organisations_provider_without_email_verified_needs_the_switch(
    person: Browserless, db: Database, oidc_provider: OidcProvider, org_a: Org
) -> None:
    rules = {"allowed_domains": ["allowed.example"], "auto_join_role": "viewer"}
    out = await configure_org_provider(person, org_a, oidc_provider, **rules)
    assert out["require_email_verified"] is True
    email = unique("noverified-ole", "allowed.example")
    r = await person.sign_in(f"/auth/start?provider=org&org={org_a.slug}", email)
    assert reason_of(r.text) == "email-unverified"
    assert await memberships_of(db, org_a, email) == []

    out = await configure_org_provider(person, org_a, oidc_provider, require_email_verified=False, **rules)
    assert out["require_email_verified"] is False
    r = await person.sign_in(f"/auth/start?provider=org&org={org_a.slug}", email)
    assert r.status_code == 303
    assert await memberships_of(db, org_a, email) == ["viewer"]
    r = await person.sign_in(
        f"/auth/start?provider=org&org={org_a.slug}", unique("unverified", "allowed.example")
    )
    assert reason_of(r.text) == "email-unverified"
