"""The person's data as a document to hand over (GDPR Art. 15): readable, labelled, localised.

The JSON export stays the machine-readable copy (Art. 20); the page and the PDF are built from
it and must read like a letter, not like a database dump.
"""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import select

from shared.contacts.models import Contact
from shared.db import Database
from tests.conftest import Org
from tests.fixtures.tasks import add_member, sign_in
from tests.seeds import seed_every_tenant_table
from tests.web.page_text import visible_text

# What a raw dump shows and a document must not: stored keys, codo's ids, machine timestamps.
DUMP = re.compile(
    r"data_processing|owner_membership_id|_id\b|\['|\d{4}-\d{2}-\d{2}T|\d{2}:\d{2}:\d{2}\.\d+"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


async def _person(db: Database, org: Org, first_name: str) -> uuid.UUID:
    async with db.tenant(org.id) as session:
        found = await session.execute(select(Contact.id).where(Contact.first_name == first_name).limit(1))
        return found.scalar_one()


async def test_the_persons_data_reads_as_a_document_in_german_and_english(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    await seed_every_tenant_table(db, org_a)
    mia = await _person(db, org_a, "Mia")  # consent, a guardian, a note, an import
    max_ = await _person(db, org_a, "Max")  # a tandem with a check-in and a meeting
    await sign_in(browserless, await add_member(db, org_a, role="admin"))

    page = await browserless.get(f"/o/{org_a.slug}/contacts/{mia}/export")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = visible_text(page.text)
    assert "Gespeicherte Daten zu Mia Kind" in text
    assert "Einwilligungen" in text and "Datenverarbeitung" in text and "01.01.2026" in text
    assert "Eva Kind" in text and "erziehungsberechtigt für diese Person" in text
    assert "Rolle" in text and "Mentee" in text and "bereit" in text
    assert not DUMP.search(text), DUMP.search(text)

    tandem = visible_text((await browserless.get(f"/o/{org_a.slug}/contacts/{max_}/export")).text)
    assert "Tandems" in tandem and "beendet" in tandem and "Mentor:in" in tandem
    assert "02.02.2026" in tandem and "Telefon" in tandem and "90" in tandem
    assert not DUMP.search(tandem), DUMP.search(tandem)

    pdf = await browserless.get(f"/o/{org_a.slug}/contacts/{mia}/export", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Gespeicherte Daten zu Mia Kind" in words and "Datenverarbeitung" in words
    assert "01.01.2026" in words and not DUMP.search(words)

    machine = await browserless.get(f"/o/{org_a.slug}/contacts/{mia}/export", params={"format": "json"})
    assert machine.json()["consents"][0]["purpose"] == "data_processing"
    assert "attachment" in machine.headers["content-disposition"]

    browserless.cookies.clear()
    await sign_in(browserless, await add_member(db, org_a, role="admin", locale="en"))
    english = visible_text((await browserless.get(f"/o/{org_a.slug}/contacts/{mia}/export")).text)
    assert "Data stored about Mia Kind" in english and "Data processing" in english
    assert "Jan 1, 2026" in english and "guardian of this person" in english
    assert not DUMP.search(english), DUMP.search(english)


async def test_the_api_hands_out_the_same_document(
    client: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    await seed_every_tenant_table(db, org_a)
    mia = await _person(db, org_a, "Mia")
    base = f"/api/v1/orgs/{org_a.slug}/contacts/{mia}/export"
    html = await client.get(base, params={"format": "html", "lang": "en"}, headers=org_a.auth())
    assert html.status_code == 200 and "Data processing" in html.text and "Jan 1, 2026" in html.text
    pdf = await client.get(base, params={"format": "pdf"}, headers=org_a.auth())
    words = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Datenverarbeitung" in words
    bad = await client.get(base, params={"format": "doc"}, headers=org_a.auth())
    assert bad.status_code == 422 and bad.json()["field"] == "format"
