"""The questionnaire editor in a real browser with JavaScript switched off, on a phone (390 by
844): an admin starts a blank questionnaire, adds a choice question, moves it up and changes a
schedule, with plain forms and server round trips only."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright, expect
from sqlalchemy import select

from shared.db import Database
from shared.questionnaires.models import Questionnaire, QuestionnaireSchedule, QuestionnaireVersion
from shared.questionnaires.service import decode_content
from tests.conftest import Org
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.identity import add_person
from tests.web.test_every_page import OVERFLOW

pytestmark = pytest.mark.slow


async def test_an_admin_writes_a_questionnaire_on_a_phone_without_javascript(
    dev_server: str, db: Database, org_a: Org
) -> None:
    admin = await add_person(db, org_a.id, f"editor@{org_a.slug}.example", "admin")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, locale="de-DE", java_script_enabled=False
            )
            tab = await context.new_page()
            await tab.goto(f"{dev_server}/o/{org_a.slug}/signin")
            await tab.select_option("#dev-member", str(admin))
            await tab.locator("form[action='/auth/dev'] [type=submit]").click()

            await tab.goto(f"{dev_server}/o/{org_a.slug}/questionnaires")
            await tab.get_by_role("button", name="Neuer Fragebogen").click()
            title = tab.get_by_role("group", name="Titel *")
            await title.get_by_label("Deutsch (Sie)").fill("Wie war das Jahr?")
            await title.get_by_label("Deutsch (du), wo es anders lautet").fill("Wie war dein Jahr?")
            await title.get_by_label("Englisch").fill("How was the year?")
            first = tab.get_by_role("group", name="Frage *")
            await first.get_by_label("Deutsch (Sie)").fill("Würden Sie weitermachen?")
            await tab.select_option("#f-type", "yes_no")
            await tab.get_by_role("button", name="Fragebogen speichern").click()
            await expect(tab.locator("#done")).to_contain_text("Der Fragebogen ist gespeichert.")

            await tab.get_by_role("button", name="Frage hinzufügen").click()
            await tab.select_option("#f-type", "single")
            await tab.get_by_role("group", name="Frage *").get_by_label("Deutsch (Sie)").fill("Wie oft?")
            # Without script the options stand open under their own heading, whatever kind is chosen.
            await expect(tab.locator("#f-opt0_de")).to_be_visible()
            await tab.locator("#f-opt0_de").fill("oft")
            await tab.get_by_role("button", name="Frage speichern").click()
            # One option is not a choice: the error stands at the options, the form keeps what was typed.
            await expect(tab.locator("#err-options")).to_contain_text("mindestens zwei")
            await expect(tab.locator("#f-opt0_de")).to_have_value("oft")
            await tab.locator("#f-opt1_de").fill("selten")
            await tab.get_by_role("button", name="Frage speichern").click()
            await expect(tab.locator("#done")).to_contain_text("Die Änderung ist gespeichert.")
            await tab.get_by_role("button", name="Nach oben: Wie oft?").click()
            await expect(tab.locator("#question-list > li").first).to_contain_text("Wie oft?")
            wide = await tab.evaluate(OVERFLOW)
            assert wide is None, wide
        finally:
            await browser.close()

    async with db.tenant(org_a.id) as session:
        [version] = (await session.execute(select(QuestionnaireVersion))).scalars().all()
        [questionnaire] = (await session.execute(select(Questionnaire))).scalars().all()
    content = decode_content(version.content)
    assert content.title.de_du == "Wie war dein Jahr?" and content.title.en == "How was the year?"
    assert [q.type for q in content.questions] == ["single", "yes_no"]
    assert [o.label.de for o in content.questions[0].options] == ["oft", "selten"]
    assert questionnaire.kind == "custom"
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(select(QuestionnaireSchedule))).first() is None


async def test_with_javascript_the_blank_form_opens_the_sections_of_the_chosen_kind(
    dev_server: str, db: Database, org_a: Org
) -> None:
    admin = await add_person(db, org_a.id, f"editor-js@{org_a.slug}.example", "admin")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="de-DE")
            tab = await context.new_page()
            await tab.goto(f"{dev_server}/o/{org_a.slug}/signin")
            await tab.select_option("#dev-member", str(admin))
            await tab.locator("form[action='/auth/dev'] [type=submit]").click()

            await tab.goto(f"{dev_server}/o/{org_a.slug}/questionnaires/new")
            # A scale question first: its words are open, the options folded away.
            await expect(tab.locator("#f-scale1_de")).to_be_visible()
            await expect(tab.locator("#f-opt0_de")).to_be_hidden()
            await tab.select_option("#f-type", "single")
            await expect(tab.locator("#f-opt0_de")).to_be_visible()
            await expect(tab.locator("#f-scale1_de")).to_be_hidden()
            await tab.get_by_role("group", name="Titel *").get_by_label("Deutsch (Sie)").fill("Treffen")
            await tab.get_by_role("group", name="Frage *").get_by_label("Deutsch (Sie)").fill("Wie oft?")
            await tab.locator("#f-opt0_de").fill("oft")
            await tab.locator("#f-opt1_de").fill("selten")
            await tab.get_by_role("button", name="Fragebogen speichern").click()
            await expect(tab.locator("#done")).to_contain_text("Der Fragebogen ist gespeichert.")
        finally:
            await browser.close()

    async with db.tenant(org_a.id) as session:
        [version] = (await session.execute(select(QuestionnaireVersion))).scalars().all()
    [question] = decode_content(version.content).questions
    assert question.type == "single" and [o.label.de for o in question.options] == ["oft", "selten"]
