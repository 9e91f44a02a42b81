"""OpenID Connect relying party: authorization code flow with PKCE (S256), state and nonce.

authlib's httpx ``AsyncOAuth2Client`` builds the authorization URL; the code is redeemed here and the
id_token is verified here with joserfc against the provider's JWKS: signature, ``iss``, ``aud``
(and ``azp`` when there are several audiences), ``exp``, ``iat`` and ``nonce``. Discovery
documents and key sets are cached per issuer for ``ttl`` seconds; a token signed with a key id
the cache does not know makes us fetch the key set again once, so providers can rotate keys.

Every request to a provider goes through :mod:`shared.identity.egress` (no private addresses
unless allowed, short timeouts, a size cap), for the issuer and every endpoint its discovery
document names. When the id_token carries no ``email`` (OpenID Connect Core §5.4 lets providers
send it from UserInfo only), the UserInfo endpoint is asked, and its answer counts only for the
same ``sub``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

import authlib.deprecate  # noqa: F401 (installs its warning filter before ours)
import httpx

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 package; httpx is what codo depends on and it still works.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.identity import egress

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_SECONDS = 60
# However slowly a provider answers, one request gives up after this long.
REQUEST_DEADLINE_SECONDS = 10.0
# Claims about the token itself: UserInfo may add to the id_token's claims, never change these.
_TOKEN_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "nonce",
        "azp",
        "auth_time",
        "acr",
        "amr",
        "at_hash",
        "c_hash",
        "sid",
        "jti",
    }
)


class OidcError(Exception):
    """The provider or its answer cannot be trusted; ``reason`` is a stable code for the page."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Provider:
    """A provider as the sign-in uses it, from the platform's settings or an organisation's row."""

    key: str
    label: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    org_id: uuid.UUID | None = None
    allowed_domains: tuple[str, ...] = ()
    auto_join_role: str | None = None
    group_claim: str | None = None
    group_roles: dict[str, str] = field(default_factory=dict)
    # Some providers (Microsoft Entra) never send email_verified; see the README for when that is safe.
    require_email_verified: bool = True


@dataclass
class Authorization:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass
class _Cached:
    value: Any
    fetched_at: float


class OidcClient:
    def __init__(
        self, http: httpx.AsyncClient | None = None, *, ttl: float = 3600.0, allow_private: bool = False
    ) -> None:
        self.http = http or egress.client(allow_private=allow_private)
        self.ttl = ttl
        self._metadata: dict[str, _Cached] = {}
        self._jwks: dict[str, _Cached] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _request(
        self, method: str, url: str, what: str, **kwargs: Any
    ) -> tuple[int, dict[str, Any] | None]:
        """Status and JSON object of a provider's answer, read under a deadline and a size cap."""
        if not url.startswith(("https://", "http://")):
            raise OidcError("provider-unreachable", f"{what}: not an http(s) URL")
        try:
            async with asyncio.timeout(REQUEST_DEADLINE_SECONDS):
                async with self.http.stream(method, url, **kwargs) as response:
                    body = await egress.read_capped(response)
                    status = response.status_code
        except egress.BlockedAddress as exc:
            raise OidcError("provider-unreachable", f"{what}: {exc}") from None
        except (httpx.HTTPError, TimeoutError) as exc:
            raise OidcError("provider-unreachable", f"{what}: {type(exc).__name__}") from None
        except ValueError as exc:
            raise OidcError("provider-unreachable", f"{what}: {exc}") from None
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        return status, data if isinstance(data, dict) else None

    async def _get_json(self, url: str, what: str, **headers: str) -> dict[str, Any]:
        status, data = await self._request(
            "GET", url, what, headers={"Accept": "application/json", **headers}
        )
        if status != 200:
            raise OidcError("provider-unreachable", f"{what}: HTTP {status}")
        if data is None:
            raise OidcError("provider-unreachable", f"{what}: not a JSON object")
        return data

    async def metadata(self, issuer: str) -> dict[str, Any]:
        cached = self._metadata.get(issuer)
        if cached is not None and time.monotonic() - cached.fetched_at < self.ttl:
            value: dict[str, Any] = cached.value
            return value
        data = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery")
        if data.get("issuer") != issuer:
            raise OidcError("issuer-mismatch", "the discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(name), str):
                raise OidcError("provider-unreachable", f"the discovery document has no {name}")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            # An https issuer's endpoints are https too: the document cannot downgrade the secret's way.
            endpoint = data.get(name)
            if endpoint is not None and not _same_scheme(issuer, endpoint):
                raise OidcError("provider-unreachable", f"the discovery document's {name} is not https")
        self._metadata[issuer] = _Cached(data, time.monotonic())
        return data

    async def _key_set(self, issuer: str, *, refresh: bool = False) -> KeySet:
        cached = self._jwks.get(issuer)
        if not refresh and cached is not None and time.monotonic() - cached.fetched_at < self.ttl:
            keys: KeySet = cached.value
            return keys
        meta = await self.metadata(issuer)
        data = await self._get_json(meta["jwks_uri"], "key set")
        try:
            key_set = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcError("provider-unreachable", f"key set: {type(exc).__name__}") from None
        self._jwks[issuer] = _Cached(key_set, time.monotonic())
        return key_set

    def _oauth(self, provider: Provider, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            scope=provider.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
            timeout=10.0,
        )

    async def authorize(self, provider: Provider, redirect_uri: str) -> Authorization:
        meta = await self.metadata(provider.issuer)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)
        async with self._oauth(provider, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        return Authorization(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def redeem(
        self, provider: Provider, *, code: str, code_verifier: str, redirect_uri: str, nonce: str
    ) -> tuple[dict[str, Any], str]:
        """Exchange the code; return the verified id_token's claims (and UserInfo's) and the id_token."""
        meta = await self.metadata(provider.issuer)
        status, token = await self._request(
            "POST",
            meta["token_endpoint"],
            "token endpoint",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": code_verifier,
                "redirect_uri": redirect_uri,
            },
            auth=(provider.client_id, provider.client_secret),
            headers={"Accept": "application/json"},
        )
        if status != 200 or token is None:
            error = (token or {}).get("error")
            if status in (400, 401) and isinstance(error, str):  # invalid_grant for a code used twice
                raise OidcError("code-rejected", f"the provider refused the code: {error[:100]}")
            raise OidcError("provider-unreachable", f"token endpoint: HTTP {status}")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("id-token-invalid", "the provider sent no id_token")
        claims = await self.verify_id_token(provider, id_token, nonce=nonce)
        if not isinstance(claims.get("email"), str):
            claims = await self._with_userinfo(meta, claims, token.get("access_token"))
        return claims, id_token

    async def _with_userinfo(
        self, meta: dict[str, Any], claims: dict[str, Any], access_token: Any
    ) -> dict[str, Any]:
        endpoint = meta.get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not isinstance(access_token, str):
            return claims
        info = await self._get_json(endpoint, "UserInfo", Authorization=f"Bearer {access_token}")
        # §5.3.2: the answer may be about someone else unless its sub is the id_token's.
        if info.get("sub") != claims.get("sub"):
            raise OidcError("id-token-invalid", "UserInfo describes another subject")
        merged = dict(claims)
        for name, value in info.items():
            if name not in _TOKEN_CLAIMS and name not in merged:
                merged[name] = value
        return merged

    async def verify_id_token(self, provider: Provider, id_token: str, *, nonce: str) -> dict[str, Any]:
        kid = _header(id_token).get("kid")
        keys = await self._key_set(provider.issuer)
        if kid is not None and kid not in {k.kid for k in keys.keys}:
            keys = await self._key_set(provider.issuer, refresh=True)
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        except JoseError as exc:
            raise OidcError("id-token-invalid", f"signature: {type(exc).__name__}") from None
        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            claim = getattr(exc, "claim", "") or ""
            if type(exc).__name__ == "ExpiredTokenError":
                raise OidcError("id-token-expired", "the id_token has expired") from None
            reason = "nonce-mismatch" if claim == "nonce" else "id-token-invalid"
            raise OidcError(reason, f"id_token claim {claim or '?'}: {exc.error}") from None
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != provider.client_id:
            raise OidcError("id-token-invalid", "id_token for several audiences without our azp")
        return claims

    async def end_session_url(
        self, provider: Provider, *, id_token: str | None, post_logout: str
    ) -> str | None:
        """The provider's RP-initiated logout URL, if it offers one."""
        try:
            meta = await self.metadata(provider.issuer)
        except OidcError:
            return None
        endpoint = meta.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        params = {"post_logout_redirect_uri": post_logout, "client_id": provider.client_id}
        if id_token:
            params["id_token_hint"] = id_token
        return str(httpx.URL(endpoint, params=params))


def _same_scheme(issuer: str, url: object) -> bool:
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return False
    return url.startswith("https://") or not issuer.startswith("https://")


def _header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError):
        raise OidcError("id-token-invalid", "the id_token is not a JWT") from None
    if not isinstance(header, dict):
        raise OidcError("id-token-invalid", "the id_token is not a JWT")
    return header
