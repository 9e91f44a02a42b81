"""Where sign-in may come from: the platform's providers (settings) and an organisation's own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.db import Database
from shared.errors import NotFound, ValidationFailed
from shared.identity import crypto, egress
from shared.identity.members import audit
from shared.identity.models import IdentityProvider
from shared.identity.oidc import Provider
from shared.limits import Fields, Items, Text
from shared.permissions import Role, can_grant, parse_role
from shared.settings import Settings

ORG_KEY = "org"


class ProviderIn(msgspec.Struct, forbid_unknown_fields=True):
    """An organisation's own provider. Leave ``client_secret`` empty to keep the stored one."""

    issuer: Text
    client_id: Text
    label: Text = ""
    client_secret: Text = ""
    allowed_domains: Items[Text] = msgspec.field(default_factory=list)
    auto_join_role: Text | None = None
    group_claim: Text | None = None
    group_roles: Fields[Text, Text] = msgspec.field(default_factory=dict)
    # False accepts a provider that never sends email_verified (e.g. Microsoft Entra); see the README.
    require_email_verified: bool = True


class ProviderOut(msgspec.Struct):
    label: str
    issuer: str
    client_id: str
    client_secret_set: bool
    allowed_domains: list[str]
    auto_join_role: str | None
    group_claim: str | None
    group_roles: dict[str, str]
    require_email_verified: bool
    updated_at: datetime
    redirect_uri: str


def platform_providers(settings: Settings) -> list[Provider]:
    return [
        Provider(
            key=f"platform:{p.key}",
            label=p.label,
            issuer=p.issuer,
            client_id=p.client_id,
            client_secret=p.client_secret,
            scopes=p.scopes,
            require_email_verified=p.require_email_verified,
        )
        for p in settings.platform_providers
    ]


def platform_provider(settings: Settings, key: str) -> Provider | None:
    return next((p for p in platform_providers(settings) if p.key == key), None)


async def _row(session: AsyncSession) -> IdentityProvider | None:
    row: IdentityProvider | None = (await session.execute(select(IdentityProvider))).scalar_one_or_none()
    return row


async def org_provider(session: AsyncSession, settings: Settings, org_id: uuid.UUID) -> Provider | None:
    """The organisation's own provider, secret decrypted, or None (session scoped to ``org_id``)."""
    row = await _row(session)
    if row is None:
        return None
    return Provider(
        key=ORG_KEY,
        label=row.label or row.issuer,
        issuer=row.issuer,
        client_id=row.client_id,
        client_secret=crypto.decrypt(settings, org_id, row.client_secret_encrypted),
        org_id=org_id,
        allowed_domains=tuple(row.allowed_domains),
        auto_join_role=row.auto_join_role,
        group_claim=row.group_claim,
        group_roles=dict(row.group_roles),
        require_email_verified=row.require_email_verified,
    )


async def sign_in_options(db: Database, settings: Settings, org_id: uuid.UUID) -> list[Provider]:
    """The organisation's own provider first (if it has one), then the platform's."""
    async with db.tenant(org_id) as session:
        own = await org_provider(session, settings, org_id)
    return ([own] if own else []) + platform_providers(settings)


def redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + "/auth/callback"


def _out(settings: Settings, row: IdentityProvider) -> ProviderOut:
    return ProviderOut(
        label=row.label,
        issuer=row.issuer,
        client_id=row.client_id,
        client_secret_set=bool(row.client_secret_encrypted),
        allowed_domains=list(row.allowed_domains),
        auto_join_role=row.auto_join_role,
        group_claim=row.group_claim,
        group_roles=dict(row.group_roles),
        require_email_verified=row.require_email_verified,
        updated_at=row.updated_at,
        redirect_uri=redirect_uri(settings),
    )


async def get_settings(session: AsyncSession, settings: Settings) -> ProviderOut | None:
    row = await _row(session)
    return None if row is None else _out(settings, row)


def _domains(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        domain = value.strip().lower().lstrip("@")
        if not domain:
            continue
        if "." not in domain or any(c in domain for c in " /@,;") or len(domain) > 253:
            raise ValidationFailed(
                "%(value)r is not a domain such as example.org", field="allowed_domains", value=value
            )
        if domain not in out:
            out.append(domain)
    return out


async def put_settings(
    session: AsyncSession, settings: Settings, org_id: uuid.UUID, actor: Actor, data: ProviderIn
) -> ProviderOut:
    issuer = data.issuer.strip()
    if not issuer.startswith(("https://", "http://")) or len(issuer) > 500 or " " in issuer:
        raise ValidationFailed("the issuer is the provider's https:// URL", field="issuer")
    if settings.env == "production" and not issuer.startswith("https://"):
        raise ValidationFailed("the issuer must use https", field="issuer")
    if not settings.oidc_allow_private_networks:
        address = await egress.private_address(issuer)
        if address is not None:
            raise ValidationFailed(
                f"the issuer's host resolves to {address}, a private address sign-in does not connect to",
                field="issuer",
            )
    client_id = data.client_id.strip()
    if not client_id or len(client_id) > 255:
        raise ValidationFailed("the client id must be 1 to 255 characters", field="client_id")
    label = data.label.strip()[:100]
    domains = _domains(data.allowed_domains)
    auto_join: str | None = None
    if data.auto_join_role:
        try:
            role = parse_role(data.auto_join_role)
        except ValueError as exc:
            raise ValidationFailed.refusing(exc, field="auto_join_role") from None
        if not domains:
            raise ValidationFailed(
                "joining without an invitation needs allowed domains", field="auto_join_role"
            )
        if not can_grant(actor.role, role) or role == Role.OWNER:
            raise ValidationFailed("new members cannot join as owners", field="auto_join_role")
        auto_join = role.value
    group_claim = (data.group_claim or "").strip() or None
    group_roles: dict[str, str] = {}
    for group, value in data.group_roles.items():
        try:
            role = parse_role(value)
        except ValueError as exc:
            raise ValidationFailed.refusing(exc, field="group_roles") from None
        if not can_grant(actor.role, role):
            raise ValidationFailed(
                "the role %(role)s cannot map a group to %(role2)s",
                field="group_roles",
                role=actor.role.value,
                role2=role.value,
            )
        if group.strip():
            group_roles[group.strip()] = role.value
    if group_roles and not group_claim:
        raise ValidationFailed("name the claim that carries the groups", field="group_claim")
    row = await _row(session)
    secret = data.client_secret.strip()
    if row is None and not secret:
        raise ValidationFailed("the client secret is required", field="client_secret")
    if row is None:
        row = IdentityProvider(organization_id=org_id, client_secret_encrypted=b"")
        session.add(row)
    row.label = label
    row.issuer = issuer
    row.client_id = client_id
    if secret:
        row.client_secret_encrypted = crypto.encrypt(settings, org_id, secret)
    row.allowed_domains = domains
    row.auto_join_role = auto_join
    row.group_claim = group_claim
    row.group_roles = group_roles
    row.require_email_verified = data.require_email_verified
    row.updated_at = datetime.now(UTC)
    await session.flush()
    await audit(
        session,
        org_id,
        actor,
        "signin.provider_saved",
        issuer,
        allowed_domains=domains,
        auto_join_role=auto_join,
        require_email_verified=data.require_email_verified,
        secret_changed=bool(secret),
    )
    return _out(settings, row)


async def delete_settings(session: AsyncSession, org_id: uuid.UUID, actor: Actor) -> None:
    row = await _row(session)
    if row is None:
        raise NotFound("this organisation has no own identity provider")
    await session.delete(row)
    await session.flush()
    await audit(session, org_id, actor, "signin.provider_removed", row.issuer)
