"""Reporting: a match field, a prepared report export, the dashboard's charts of a day and a change
to a tandem made after them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from shared.db import Database
from shared.matching.models import CheckIn, Match, MatchField
from shared.reporting import dashboard
from shared.reporting.models import ReportExport
from tests.conftest import Org


async def seed(db: Database, org: Org) -> None:
    async with db.tenant(org.id) as session:
        session.add(
            MatchField(
                organization_id=org.id, key="funder", label_de="Förderer", label_en="Funder", type="choice",
                options=[{"value": "stadt", "label_de": "Stadt", "label_en": "City"}],
            )
        )  # fmt: skip
        session.add(ReportExport(organization_id=org.id, format="xlsx", status="done", content=b"PK"))
    # Storing the charts forgets the changes they saw: the check-in after them is one they did not.
    async with db.tenant(org.id) as session:
        await dashboard.charts(session, date(2026, 6, 1), suppressed=False)
    async with db.tenant(org.id) as session:
        match = (await session.execute(select(Match.id).limit(1))).scalar_one()
        session.add(
            CheckIn(
                organization_id=org.id,
                match_id=match,
                occurred_on=date(2026, 5, 2),
                channel="phone",
                rating=4,
            )
        )
