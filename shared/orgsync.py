"""`codo org sync --file`: provision organisations from a declarative list (the Helm values).

Idempotent: running it twice changes nothing the second time. It never deletes: an
organisation in the database but not in the file is only reported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import yaml

from shared import organizations
from shared.db import Database
from shared.errors import ValidationFailed
from shared.models import Organization


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
    not_in_file: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"created: {slug}" for slug in self.created]
        out += [f"renamed: {slug}" for slug in self.renamed]
        out += [f"unchanged: {slug}" for slug in self.unchanged]
        out += [f"owner invited: {slug}" for slug in self.invited]
        out += [
            f"in the database but not in the file (kept, not deleted): {slug}" for slug in self.not_in_file
        ]
        return out


def parse(text: str) -> SyncFile:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"not valid YAML or JSON: {exc}", field="file") from None
    try:
        spec = msgspec.convert(raw, SyncFile)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"organisations file: {exc}", field="file") from None
    if spec.version != 1:
        raise ValidationFailed(
            f"organisations file version {spec.version} is not known (1 is)", field="version"
        )
    seen: set[str] = set()
    for i, org in enumerate(spec.organizations):
        where = f"organizations[{i}]"
        try:
            organizations.validate_slug(org.slug)
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"{where}.slug {org.slug!r}: {exc.detail}", field=f"{where}.slug"
            ) from None
        if org.slug in seen:
            raise ValidationFailed(f"{where}.slug {org.slug!r} appears twice", field=f"{where}.slug")
        seen.add(org.slug)
        if not org.name.strip():
            raise ValidationFailed(f"{where}.name is empty", field=f"{where}.name")
    return spec


def read(path: str | Path) -> SyncFile:
    return parse(Path(path).read_text(encoding="utf-8"))


OwnerInviter = Callable[[Database, Organization, str], Awaitable[bool]]


async def sync(db: Database, spec: SyncFile, *, invite_owner: OwnerInviter | None = None) -> SyncReport:
    """Bring the organisations in line with ``spec``.

    ``invite_owner`` returns True if it sent an invitation (and False if one was already due).
    """
    report = SyncReport()
    wanted = {o.slug for o in spec.organizations}
    for entry in spec.organizations:
        async with db.platform() as session:
            org = await organizations.get_by_slug(session, entry.slug)
            if org is None:
                org = await organizations.create_organization(session, entry.slug, entry.name)
                report.created.append(entry.slug)
            elif org.name != entry.name.strip():
                org.name = entry.name.strip()
                report.renamed.append(entry.slug)
            else:
                report.unchanged.append(entry.slug)
        if entry.owner_email and invite_owner is not None and await invite_owner(db, org, entry.owner_email):
            report.invited.append(entry.slug)
    async with db.platform() as session:
        report.not_in_file = [
            o.slug for o in await organizations.list_organizations(session) if o.slug not in wanted
        ]
    return report
