"""`codo org sync --file`: idempotent provisioning of many organisations, never deleting."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from shared import organizations, orgsync, outbox
from shared.db import Database
from shared.errors import ValidationFailed
from shared.identity.models import IdentityProvider
from shared.settings import Settings
from tests.conftest import Mailbox, settings_env


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "organizations.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _sync(settings: Settings, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "org", "sync", "--file", str(path)],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_sync_creates_renames_is_idempotent_and_never_deletes(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    tag = secrets.token_hex(3)
    slugs = [f"sync-{tag}-{i}" for i in range(3)]
    body = "version: 1\norganizations:\n" + "".join(
        f"  - slug: {s}\n    name: Lesepaten {i}\n    ownerEmail: owner{i}@{s}.example\n"
        for i, s in enumerate(slugs)
    )
    path = _file(tmp_path, body)
    first = _sync(settings, path)
    assert first.returncode == 0, first.stderr
    assert [line for line in first.stdout.splitlines() if line.startswith("created")] == [
        f"created: {s}" for s in slugs
    ]
    second = _sync(settings, path)
    assert second.returncode == 0
    assert not any(line.startswith("created") for line in second.stdout.splitlines())
    assert [f"unchanged: {s}" for s in slugs] == [
        line for line in second.stdout.splitlines() if line.startswith("unchanged")
    ]

    # Drop one entry and rename another: the dropped one is reported and kept.
    path = _file(
        tmp_path,
        body.replace(
            f"  - slug: {slugs[0]}\n    name: Lesepaten 0\n    ownerEmail: owner0@{slugs[0]}.example\n", ""
        ).replace("Lesepaten 1", "Lesepaten Eins"),
    )
    third = _sync(settings, path)
    assert third.returncode == 0
    assert f"renamed: {slugs[1]}" in third.stdout
    assert f"in the database but not in the file (kept, not deleted): {slugs[0]}" in third.stdout
    async with db.platform() as session:
        kept = await organizations.get_by_slug(session, slugs[0])
        renamed = await organizations.get_by_slug(session, slugs[1])
    assert kept is not None
    assert renamed is not None and renamed.name == "Lesepaten Eins"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("organizations:\n  - name: Ohne Slug\n", "slug"),
        ("organizations:\n  - slug: Bad Slug\n    name: x\n", "organizations[0].slug"),
        ("organizations:\n  - slug: twice\n    name: a\n  - slug: twice\n    name: b\n", "appears twice"),
        ("organizations:\n  - slug: ok-slug\n    name: x\n    colour: red\n", "colour"),
        ("version: 2\norganizations: []\n", "version 2"),
        ("organizations: [\n", "YAML"),
    ],
)
def test_a_bad_file_is_refused_with_the_entry_named(body: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=re.escape(message)):
        orgsync.parse(body)


def test_a_bad_file_changes_nothing_and_exits_non_zero(settings: Settings, tmp_path: Path) -> None:
    slug = f"never-{secrets.token_hex(3)}"
    path = _file(tmp_path, f"organizations:\n  - slug: {slug}\n    name: x\n  - slug: {slug}\n    name: y\n")
    r = _sync(settings, path)
    assert r.returncode != 0 and "appears twice" in r.stderr
    assert (
        slug
        not in subprocess.run(
            [sys.executable, "-m", "services.cli", "org", "list"],
            env=settings_env(settings),
            capture_output=True,
            text=True,
        ).stdout
    )


async def test_sync_invites_the_first_owner_once_and_configures_sign_in(
    settings: Settings, db: Database, mailbox: Mailbox, tmp_path: Path
) -> None:
    slug = f"sso-{secrets.token_hex(3)}"
    owner = f"vorstand@{slug}.example"
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("s3cret-one\n")
    body = (
        f"version: 1\norganizations:\n  - slug: {slug}\n    name: Jobpaten\n    ownerEmail: {owner}\n"
        f"    oidc:\n      issuer: https://login.{slug}.example\n      clientId: codo\n"
        f"      clientSecretFile: {secret_file}\n      allowedDomains: [{slug}.example]\n"
    )
    path = _file(tmp_path, body)
    first = _sync(settings, path)
    assert first.returncode == 0, first.stderr
    assert f"owner invited: {slug}" in first.stdout
    assert f"sign-in provider configured: {slug}" in first.stdout
    second = _sync(settings, path)
    assert second.returncode == 0, second.stderr
    assert "owner invited" not in second.stdout and "sign-in provider configured" not in second.stdout
    await outbox.deliver_due(db, settings, worker="test")
    [invitation] = await mailbox.wait_for(owner)
    assert "Jobpaten" in invitation.as_string() or "Jobpaten" in str(invitation["Subject"])
    await asyncio.sleep(0.3)
    assert len(mailbox.to(owner)) == 1, "a second sync must not send a second invitation"

    async with db.platform() as session:
        org = await organizations.get_by_slug(session, slug)
    assert org is not None
    async with db.tenant(org.id) as session:
        row = (await session.execute(select(IdentityProvider))).scalar_one()
    assert row.issuer == f"https://login.{slug}.example" and row.allowed_domains == [f"{slug}.example"]
    assert b"s3cret-one" not in row.client_secret_encrypted, "the client secret is stored encrypted"

    secret_file.write_text("s3cret-two\n")
    third = _sync(settings, path)
    assert f"sign-in provider configured: {slug}" in third.stdout, "a rotated secret is applied"


def test_a_missing_client_secret_refuses_the_whole_file(settings: Settings, tmp_path: Path) -> None:
    slug = f"nosecret-{secrets.token_hex(3)}"
    body = (
        f"organizations:\n  - slug: {slug}-a\n    name: A\n  - slug: {slug}\n    name: B\n"
        f"    oidc:\n      issuer: https://idp.example\n      clientId: codo\n"
        f"      clientSecretFile: {tmp_path / 'missing'}\n"
    )
    r = _sync(settings, _file(tmp_path, body))
    assert r.returncode != 0 and "organizations[1].oidc" in r.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "services.cli", "org", "list"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
    ).stdout
    assert f"{slug}-a" not in listed, "nothing is created when the file cannot be applied as a whole"
