"""Identity tables: an organisation's own provider, an invitation and an audit entry."""

from __future__ import annotations

from sqlalchemy import select

from shared.actor import Actor
from shared.db import Database
from shared.identity import members, providers
from shared.identity.providers import ProviderIn
from shared.models import Organization
from shared.settings import Settings
from tests.conftest import Org


async def seed(db: Database, org: Org) -> None:
    settings = Settings(env="test", public_url="https://codo.test")
    actor = Actor.system("seed")
    async with db.tenant(org.id) as session:
        organisation = (
            await session.execute(select(Organization).where(Organization.id == org.id))
        ).scalar_one()
        await providers.put_settings(
            session,
            settings,
            org.id,
            actor,
            ProviderIn(issuer="https://idp.example", client_id="seed", client_secret="seed-secret"),
        )
        await members.invite(
            session, settings, organisation, actor, email=f"seed@{org.slug}.example", role="viewer"
        )
