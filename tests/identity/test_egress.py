"""Sign-in never makes the server connect into its own network (SSRF), unless the operator allows it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from shared.db import Database
from shared.identity import egress, providers
from shared.identity.members import Actor
from shared.identity.oidc import OidcClient, OidcError, Provider
from shared.identity.providers import ProviderIn
from shared.permissions import Role
from shared.settings import Settings
from tests.conftest import Org
from tests.fixtures.identity import ORG_CLIENT_ID, ORG_CLIENT_SECRET, PUBLIC_URL, OidcProvider


class Recorder:
    """A plain HTTP server that answers from ``routes`` and writes down every request it gets."""

    def __init__(
        self, host: str = "127.0.0.1", routes: dict[str, Any] | None = None, delay: float = 0
    ) -> None:
        self.requests: list[str] = []
        self.routes = routes or {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder.requests.append(f"{self.command} {self.path}")
                time.sleep(delay)
                body = recorder.routes.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with Recorder() as running:
        yield running


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.100.100.200", False),  # shared address space (a cloud's metadata too)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("8.8.8.8", True),
        ("2a00:1450:4001:80b::200e", True),
    ],
)
def test_only_public_addresses_count_as_public(address: str, public: bool) -> None:
    assert egress.is_public(address) is public


async def test_an_organisations_provider_in_a_private_network_is_never_contacted(
    identity_settings: Settings, db: Database, recorder: Recorder, org_a: Org
) -> None:
    recorder.routes["/.well-known/openid-configuration"] = {"issuer": recorder.url}
    guarded = msgspec.structs.replace(identity_settings, oidc_allow_private_networks=False)
    async with AsyncTestClient(app=create_app(guarded), base_url=PUBLIC_URL) as codo:
        for issuer in (recorder.url, "http://169.254.169.254/latest/meta-data", "http://localhost:9"):
            body = {"issuer": issuer, "client_id": ORG_CLIENT_ID, "client_secret": ORG_CLIENT_SECRET}
            r = await codo.put(
                f"/api/v1/orgs/{org_a.slug}/signin-provider", json=body, headers=org_a.auth(Role.ADMIN)
            )
            # The admin is told at once where the address resolves to.
            assert r.status_code == 422 and r.json()["field"] == "issuer", r.text
            assert "private address" in r.json()["detail"]
            # A host may resolve to a public address when saved and to a private one later: what
            # counts is the check when connecting. Stored as if it had passed then:
            async with db.tenant(org_a.id) as session:
                await providers.put_settings(
                    session,
                    identity_settings,
                    org_a.id,
                    Actor(label="t", role=Role.OWNER),
                    ProviderIn(**body),
                )
            # Any anonymous visitor may start a sign-in at the organisation's provider.
            started = time.monotonic()
            r = await codo.get(f"/auth/start?provider=org&org={org_a.slug}", follow_redirects=False)
            assert r.status_code == 502 and 'data-reason="provider-unreachable"' in r.text
            assert time.monotonic() - started < 2, "refused before any connection is tried"
    assert recorder.requests == [], "the server never connected to the private address"


async def test_the_platform_provider_on_loopback_works_only_with_private_networks_allowed(
    identity_settings: Settings, oidc_provider: OidcProvider
) -> None:
    assert identity_settings.oidc_allow_private_networks, "the test provider runs on 127.0.0.1"
    guarded = msgspec.structs.replace(identity_settings, oidc_allow_private_networks=False)
    async with AsyncTestClient(app=create_app(guarded), base_url=PUBLIC_URL) as codo:
        r = await codo.get("/auth/start?provider=platform:testidp", follow_redirects=False)
        assert r.status_code == 502
    async with AsyncTestClient(app=create_app(identity_settings), base_url=PUBLIC_URL) as codo:
        r = await codo.get("/auth/start?provider=platform:testidp", follow_redirects=False)
        assert r.status_code == 302 and r.headers["location"].startswith(oidc_provider.issuer)


def _provider(issuer: str) -> Provider:
    return Provider(key="org", label="x", issuer=issuer, client_id="c", client_secret="the-client-secret")


async def test_endpoints_the_discovery_document_names_get_the_same_check() -> None:
    # 127.0.0.1 stands for the public internet here and 127.0.0.2 for the private network
    # (there is no internet on this machine): the issuer may be reached, the endpoints it names not.
    with Recorder("127.0.0.2") as inside, Recorder() as issuer:
        issuer.routes["/.well-known/openid-configuration"] = {
            "issuer": issuer.url,
            "authorization_endpoint": f"{issuer.url}/auth",
            "token_endpoint": f"{inside.url}/token",
            "jwks_uri": f"{inside.url}/jwks",
        }
        oidc = OidcClient(egress.client(allow_private=False, allowed=lambda address: address == "127.0.0.1"))
        try:
            with pytest.raises(OidcError) as refused:
                await oidc.redeem(
                    _provider(issuer.url), code="c", code_verifier="v", redirect_uri="https://x/cb", nonce="n"
                )
            assert refused.value.reason == "provider-unreachable" and "127.0.0.2" in refused.value.detail
            assert refused.value.detail.startswith("token endpoint")
            with pytest.raises(OidcError, match=r"127\.0\.0\.2"):
                await oidc.verify_id_token(_provider(issuer.url), "e30.e30.sig", nonce="n")
        finally:
            await oidc.aclose()
        assert [r.split()[1] for r in issuer.requests] == ["/.well-known/openid-configuration"]
        assert inside.requests == [], "the secret and the code never went to the private address"


async def test_an_https_issuer_cannot_name_plain_http_endpoints() -> None:
    with Recorder() as issuer:
        issuer.routes["/.well-known/openid-configuration"] = {
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth",
            "token_endpoint": f"{issuer.url}/token",
            "jwks_uri": "https://idp.example/jwks",
        }
        oidc = OidcClient(egress.client(allow_private=True))
        fetch = oidc._get_json

        async def served_by_recorder(url: str, what: str, **headers: str) -> dict[str, Any]:
            # There is no TLS here: the recorder answers for the https issuer.
            return await fetch(url.replace("https://idp.example", issuer.url), what, **headers)

        oidc._get_json = served_by_recorder  # type: ignore[method-assign]
        try:
            with pytest.raises(OidcError, match="token_endpoint is not https"):
                await oidc.metadata("https://idp.example")
        finally:
            await oidc.aclose()


async def test_slow_and_oversized_answers_are_cut_off() -> None:
    big = {"issuer": "x", "padding": "x" * (egress.MAX_RESPONSE_BYTES + 1)}
    with Recorder(routes={"/.well-known/openid-configuration": big}) as huge:
        oidc = OidcClient(egress.client(allow_private=True))
        with pytest.raises(OidcError, match="larger than"):
            await oidc.metadata(huge.url)
        await oidc.aclose()
    with Recorder(routes={"/.well-known/openid-configuration": {}}, delay=egress.READ_SECONDS + 2) as slow:
        oidc = OidcClient(egress.client(allow_private=True))
        started = time.monotonic()
        with pytest.raises(OidcError, match="Timeout"):
            await oidc.metadata(slow.url)
        assert time.monotonic() - started < egress.READ_SECONDS + 1.5
        await oidc.aclose()


async def test_userinfo_about_another_subject_is_refused() -> None:
    # A provider whose id_token carries no e-mail and whose UserInfo answers for someone else
    # (oidc-provider cannot be made to do that, so a hand-written one answers here).
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
    with Recorder() as idp:
        now = int(time.time())
        claims = {"iss": idp.url, "aud": "c", "sub": "alice", "iat": now, "exp": now + 300, "nonce": "n"}
        idp.routes.update(
            {
                "/.well-known/openid-configuration": {
                    "issuer": idp.url,
                    "authorization_endpoint": f"{idp.url}/auth",
                    "token_endpoint": f"{idp.url}/token",
                    "jwks_uri": f"{idp.url}/jwks",
                    "userinfo_endpoint": f"{idp.url}/me",
                },
                "/jwks": {"keys": [key.as_dict(private=False)]},
                "/token": {
                    "id_token": jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key),
                    "access_token": "at",
                    "token_type": "Bearer",
                },
                "/me": {"sub": "mallory", "email": "mallory@evil.example", "email_verified": True},
            }
        )
        oidc = OidcClient(egress.client(allow_private=True))
        try:
            with pytest.raises(OidcError, match="another subject"):
                await oidc.redeem(
                    _provider(idp.url), code="x", code_verifier="v", redirect_uri="https://x", nonce="n"
                )
            idp.routes["/me"] = {
                "sub": "alice",
                "email": "alice@example.org",
                "email_verified": True,
                "iss": "x",
            }
            got, _ = await oidc.redeem(
                _provider(idp.url), code="x", code_verifier="v", redirect_uri="https://x", nonce="n"
            )
            assert (got["email"], got["email_verified"], got["iss"]) == ("alice@example.org", True, idp.url)
        finally:
            await oidc.aclose()
    assert "GET /me" in idp.requests
