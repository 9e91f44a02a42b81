"""A person's page reads as German, not as stored values: dates as 01.09.2016, languages by name,
a choice field by its option's label, and a link to the person in grammatical German."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.tasks import add_member, sign_in
from tests.web.page_text import visible_text


async def test_the_person_page_shows_labels_and_german_dates(
    client: AsyncTestClient[Any], browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    api = f"/api/v1/orgs/{org_a.slug}/contacts"
    field = {
        "key": "schule",
        "label_de": "Schule",
        "label_en": "School",
        "type": "choice",
        "options": [{"value": "kgs_nippes", "label_de": "KGS Nippes", "label_en": "KGS Nippes school"}],
    }
    assert (await client.post(f"{api}/fields", json=field, headers=org_a.auth())).status_code == 201
    body = {
        "kinds": ["mentee"],
        "first_name": "Leon",
        "last_name": "Bauer",
        "birth_date": "2016-09-01",
        "languages": ["ar", "de"],
        "custom": {"schule": "kgs_nippes"},
    }
    r = await client.post(api, json=body, headers=org_a.auth())
    assert r.status_code == 201, r.text
    leon = r.json()["id"]
    school = {"kinds": ["partner"], "first_name": "Frank", "last_name": "Wagner"}
    frank = (await client.post(api, json=school, headers=org_a.auth())).json()["id"]
    r = await client.post(
        f"{api}/{frank}/links", json={"related_id": leon, "kind": "contact_person_of"}, headers=org_a.auth()
    )
    assert r.status_code == 201, r.text

    await sign_in(browserless, await add_member(db, org_a))
    text = visible_text((await browserless.get(f"/o/{org_a.slug}/contacts/{leon}")).text)
    assert "01.09.2016" in text and "2016-09-01" not in text
    assert "Arabisch, Deutsch" in text
    assert "KGS Nippes" in text and "kgs_nippes" not in text
    assert "Frank Wagner Ansprechperson dieser Person" in text
