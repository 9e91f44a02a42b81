"""`codo org sync --file`: provision organisations from a declarative list (the Helm values).

Idempotent: running it twice changes nothing the second time. It never deletes: an
organisation in the database but not in the file is only reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import yaml
from sqlalchemy import select

from shared import organizations
from shared.db import Database
from shared.errors import Conflict, ValidationFailed
from shared.identity import crypto, members, providers
from shared.identity.models import IdentityProvider
from shared.models import Membership, Organization
from shared.permissions import Role
from shared.settings import Settings


class OidcSpec(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    issuer: str
    client_id: str
    # The secret itself never sits in the file: the environment variable or file that holds it.
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    allowed_domains: list[str] = []


class OrgSpec(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    slug: str
    name: str
    owner_email: str | None = None
    oidc: OidcSpec | None = None


class SyncFile(msgspec.Struct, forbid_unknown_fields=True):
    version: int = 1
    organizations: list[OrgSpec] = []


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invited: list[str] = field(default_factory=list)
    sign_in_configured: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"created: {slug}" for slug in self.created]
        out += [f"renamed: {slug}" for slug in self.renamed]
        out += [f"unchanged: {slug}" for slug in self.unchanged]
        out += [f"owner invited: {slug}" for slug in self.invited]
        out += [f"sign-in provider configured: {slug}" for slug in self.sign_in_configured]
        out += [
            f"in the database but not in the file (kept, not deleted): {slug}" for slug in self.not_in_file
        ]
        return out


def parse(text: str) -> SyncFile:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValidationFailed("not valid YAML or JSON: %(exc)s", field="file", exc=exc) from None
    try:
        spec = msgspec.convert(raw, SyncFile)
    except msgspec.ValidationError as exc:
        raise ValidationFailed("organisations file: %(exc)s", field="file", exc=exc) from None
    if spec.version != 1:
        raise ValidationFailed(
            "organisations file version %(version)s is not known (1 is)",
            field="version",
            version=spec.version,
        )
    seen: set[str] = set()
    for i, org in enumerate(spec.organizations):
        where = f"organizations[{i}]"
        try:
            organizations.validate_slug(org.slug)
        except ValidationFailed as exc:
            raise ValidationFailed(
                "%(where)s.slug %(slug)r: %(detail)s",
                field=f"{where}.slug",
                where=where,
                slug=org.slug,
                detail=exc.detail,
            ) from None
        if org.slug in seen:
            raise ValidationFailed(
                "%(where)s.slug %(slug)r appears twice", field=f"{where}.slug", where=where, slug=org.slug
            )
        seen.add(org.slug)
        if not org.name.strip():
            raise ValidationFailed("%(where)s.name is empty", field=f"{where}.name", where=where)
    return spec


def read(path: str | Path) -> SyncFile:
    return parse(Path(path).read_text(encoding="utf-8"))


def _client_secret(spec: OidcSpec, where: str) -> str:
    if spec.client_secret_file:
        try:
            secret = Path(spec.client_secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValidationFailed(
                "%(where)s: cannot read clientSecretFile: %(strerror)s",
                field=where,
                where=where,
                strerror=exc.strerror,
            ) from None
    elif spec.client_secret_env:
        secret = os.environ.get(spec.client_secret_env, "").strip()
    else:
        raise ValidationFailed(
            "%(where)s: name clientSecretFile or clientSecretEnv", field=where, where=where
        )
    if not secret:
        raise ValidationFailed("%(where)s: the client secret is empty", field=where, where=where)
    return secret


async def _invite_owner(db: Database, settings: Settings, org: Organization, email: str) -> bool:
    """Invite the first owner unless the organisation has an owner or the invitation is still pending."""
    async with db.tenant(org.id) as session:
        has_owner = (
            await session.execute(select(Membership.id).where(Membership.role == Role.OWNER.value).limit(1))
        ).first()
        if has_owner is not None:
            return False
        try:
            await members.invite(session, settings, org, members.SYSTEM_ACTOR, email=email, role="owner")
        except Conflict:
            return False
    return True


async def _configure_sign_in(
    db: Database, settings: Settings, org: Organization, spec: OidcSpec, secret: str
) -> bool:
    wanted = providers.ProviderIn(
        issuer=spec.issuer,
        client_id=spec.client_id,
        client_secret=secret,
        allowed_domains=spec.allowed_domains,
    )
    async with db.tenant(org.id) as session:
        row = (await session.execute(select(IdentityProvider))).scalar_one_or_none()
        if (
            row is not None
            and row.issuer == spec.issuer.strip()
            and row.client_id == spec.client_id.strip()
            and sorted(row.allowed_domains) == sorted(d.strip().lower() for d in spec.allowed_domains)
            and crypto.decrypt(settings, org.id, row.client_secret_encrypted) == secret
        ):
            return False
        await providers.put_settings(session, settings, org.id, members.SYSTEM_ACTOR, wanted)
    return True


async def sync(db: Database, settings: Settings, spec: SyncFile) -> SyncReport:
    """Bring the organisations in line with ``spec``: create, rename, invite the first owner once,
    configure the organisation's own sign-in provider. Nothing is deleted."""
    report = SyncReport()
    wanted = {o.slug for o in spec.organizations}
    # Every secret is read before anything is written, so a missing one refuses the whole file.
    client_secrets = {
        o.slug: _client_secret(o.oidc, f"organizations[{i}].oidc")
        for i, o in enumerate(spec.organizations)
        if o.oidc is not None
    }
    for entry in spec.organizations:
        async with db.platform() as session:
            org = await organizations.get_by_slug(session, entry.slug)
            if org is None:
                org = await organizations.create_organization(session, entry.slug, entry.name)
                report.created.append(entry.slug)
            elif org.name != entry.name.strip():
                org.name = entry.name.strip()
                organizations.forget_slug(org.slug)
                report.renamed.append(entry.slug)
            else:
                report.unchanged.append(entry.slug)
        if entry.oidc is not None and await _configure_sign_in(
            db, settings, org, entry.oidc, client_secrets[entry.slug]
        ):
            report.sign_in_configured.append(entry.slug)
        if entry.owner_email and await _invite_owner(db, settings, org, entry.owner_email):
            report.invited.append(entry.slug)
    async with db.platform() as session:
        report.not_in_file = [
            o.slug for o in await organizations.list_organizations(session) if o.slug not in wanted
        ]
    return report
