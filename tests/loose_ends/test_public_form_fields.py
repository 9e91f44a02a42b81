"""Public forms in Chromium: multiple choice as checkboxes, single choice as radio buttons, dates as
date inputs, the privacy policy linked next to the consent; no form goes live without legal pages."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from playwright.async_api import Page, expect
from sqlalchemy import select

from shared.db import Database
from shared.intake.models import IntakeSubmission
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member, csrf_of, sign_in
from tests.intake.test_public_forms import CONSENTS, make_form


async def custom_fields(intake: IntakeApi) -> None:
    for body in (
        {
            "key": "interessen",
            "label_de": "Interessen",
            "label_en": "Interests",
            "type": "multi_choice",
            "options": [
                {"value": "sport", "label_de": "Sport"},
                {"value": "musik", "label_de": "Musik"},
                {"value": "lesen", "label_de": "Lesen"},
            ],
        },
        {
            "key": "zeit",
            "label_de": "Bevorzugte Zeit",
            "label_en": "Preferred time",
            "type": "choice",
            "options": [
                {"value": "vormittags", "label_de": "Vormittags"},
                {"value": "nachmittags", "label_de": "Nachmittags"},
            ],
        },
        {"key": "start", "label_de": "Frühester Beginn", "label_en": "Earliest start", "type": "date"},
    ):
        await intake.call("POST", "/contacts/fields", json=body, expect=201)


@pytest.mark.slow
async def test_choices_dates_and_the_privacy_link_in_chromium(
    intake: IntakeApi, db: Database, org_a: Org, dev_server: str, chromium_page: Page
) -> None:
    await custom_fields(intake)
    fields = [
        {"key": "custom.interessen"},
        {"key": "custom.zeit"},
        {"key": "custom.start", "required": True},
    ]
    await make_form(intake, fields=fields)
    page = chromium_page
    await page.goto(f"{dev_server}/f/{org_a.slug}/mentoren")

    interests = page.locator('input[name="custom.interessen"]')
    assert await interests.count() == 3
    assert {await interests.nth(i).get_attribute("type") for i in range(3)} == {"checkbox"}
    times = page.locator('input[name="custom.zeit"]')
    assert await times.count() == 2 and await times.first.get_attribute("type") == "radio"
    await expect(page.locator('input[name="custom.start"]')).to_have_attribute("type", "date")
    consent = page.locator(".field", has=page.get_by_label(CONSENTS[0]["text_de"]))
    link = consent.get_by_role("link", name="Datenschutzerklärung")
    await expect(link).to_have_attribute("href", f"https://{org_a.slug}.example/datenschutz")
    await expect(page.get_by_role("link", name="Impressum")).to_have_attribute(
        "href", f"https://{org_a.slug}.example/impressum"
    )

    email = f"mia-{secrets.token_hex(3)}@example.org"
    await page.get_by_label("Vorname").fill("Mia")
    await page.get_by_label("Nachname").fill("Sommer")
    await page.get_by_label("E-Mail-Adresse").fill(email)
    await page.get_by_label("Sport").check()
    await page.get_by_label("Lesen").check()
    await page.get_by_label("Nachmittags").check()
    await page.get_by_label("Frühester Beginn").fill("2027-03-01")
    await page.get_by_label(CONSENTS[0]["text_de"]).check()
    await asyncio.sleep(3.2)  # a person takes a few seconds; faster counts as a bot
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Fast geschafft")
    async with db.tenant(org_a.id) as session:
        answers = (
            await session.execute(select(IntakeSubmission.answers).where(IntakeSubmission.email == email))
        ).scalar_one()
    assert answers["custom"] == {
        "interessen": ["sport", "lesen"],
        "zeit": "nachmittags",
        "start": "2027-03-01",
    }


async def test_a_form_goes_live_only_with_privacy_policy_and_imprint(
    client: AsyncTestClient[Any], org_b: Org
) -> None:
    bare = IntakeApi(client, org_b)  # no legal pages set
    programme = await bare.programme()
    body = {
        "slug": "mitmachen",
        "programme_id": programme,
        "audience": "mentor",
        "title_de": "Mitmachen",
        "title_en": "Join",
        "consents": CONSENTS,
    }
    refused = await bare.call("POST", "/forms", json=body, expect=422)
    assert refused["field"] == "active"
    draft = await bare.call("POST", "/forms", json={**body, "active": False}, expect=201)
    assert (await client.get(f"/f/{org_b.slug}/mitmachen")).status_code == 404

    r = await bare.call(
        "PUT", "/settings/legal", json={"privacy_url": "ftp://x", "imprint_url": ""}, expect=422
    )
    assert r["field"] == "privacy_url"
    legal = {
        "privacy_url": "https://verein.example/datenschutz",
        "imprint_url": "https://verein.example/impressum",
    }
    await bare.call("PUT", "/settings/legal", json=legal, role=Role.COORDINATOR, expect=403)
    await bare.call("PUT", "/settings/legal", json=legal)
    await bare.call("PATCH", f"/forms/{draft['id']}", json={"active": True})
    page = await client.get(f"/f/{org_b.slug}/mitmachen")
    assert page.status_code == 200 and "https://verein.example/datenschutz" in page.text


async def test_an_admin_sets_the_legal_pages_once_in_the_settings(
    browserless: AsyncTestClient[Any], db: Database, org_b: Org
) -> None:
    admin = await add_member(db, org_b, role="admin")
    await sign_in(browserless, admin)
    page = await browserless.get(f"/o/{org_b.slug}/settings")
    assert "Datenschutzerklärung und Impressum" in page.text
    form = await browserless.get(f"/o/{org_b.slug}/settings/legal")
    assert form.status_code == 200 and "Adresse der Datenschutzerklärung" in form.text
    sent = {
        "_csrf": csrf_of(form.text),
        "privacy_url": "https://verein.example/datenschutz",
        "imprint_url": "keine-adresse",
    }
    bad = await browserless.post(f"/o/{org_b.slug}/settings/legal", data=sent)
    assert bad.status_code == 422 and "mit https:// beginnt" in bad.text
    sent["imprint_url"] = "https://verein.example/impressum"
    r = await browserless.post(f"/o/{org_b.slug}/settings/legal", data=sent, follow_redirects=True)
    assert r.status_code == 200 and "Gespeichert" in r.text
    assert 'value="https://verein.example/impressum"' in r.text
