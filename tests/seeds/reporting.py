"""Reporting: a match field and a prepared report export."""

from __future__ import annotations

from shared.db import Database
from shared.matching.models import MatchField
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
