"""Every page, rendered with data in every table, speaks the reader's language: labels, never keys.

The catalogue test proves every message id has a translation; this one proves the pages use
them. It walks the app's own route table (so a new page joins without a list to keep), renders
each page as an owner (who sees everything) in German and in English, and reads the text a
person sees. It fails on

- a stored key or snake_case id (``data_processing``, ``in_person``, ``status:ready``),
- a date, timestamp or month in ISO form (``2026-11-26``, a chart's ``2026-11``) instead of the
  reader's locale,
- on a German page, a text that is exactly an English message id with a German translation
  (a label someone forgot to pass through ``_()``), or an English sentence.

Literal input (``<code>``, form values, addresses) is not text to translate and is skipped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from babel.messages.pofile import read_po
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared import i18n
from shared.contacts.models import Contact, Export, Import
from shared.db import Database
from shared.intake.models import IntakeEvent, IntakeForm
from shared.matching.models import MatchField, MatchingRun, Meeting
from shared.questionnaires.models import Questionnaire, QuestionnaireSchedule, QuestionnaireVersion
from shared.tasks.models import Appointment, Task
from tests.conftest import REPO, Org
from tests.fixtures.tasks import add_member, sign_in
from tests.seeds import seed_every_tenant_table
from tests.web.test_pages import org_pages

# A path parameter and the seeded row it stands for.
ROWS: dict[str, Any] = {
    "export_id": Export.id,
    "import_id": Import.id,
    "event_id": IntakeEvent.id,
    "form_id": IntakeForm.id,
    # The seeded tandem that met (the questionnaires' seed adds one that did not).
    "match_id": Meeting.match_id,
    "run_id": MatchingRun.id,
    "task_id": Task.id,
    "appointment_id": Appointment.id,
    "field_id": MatchField.id,
    "questionnaire_id": Questionnaire.id,
    "schedule_id": QuestionnaireSchedule.id,
    # The first question of the seeded questionnaire (the seed has one).
    "question_key": QuestionnaireVersion.content["questions"][0]["key"].astext,
}
# Each contact page is rendered for people with different data: consents and a guardian (Mia),
# a tandem with check-ins (Max), preparation steps and an event (Paul).
PEOPLE = ("Mia", "Max", "Paul")

KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
PREFIXED_KEY = re.compile(
    r"\b(?:kind|status|gender|channel|consent|link|activity|purpose|field|day|daytime|type|import"
    r"|match-status|action|sort):[a-z_]+\b"
)
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b20\d{2}-(?:0[1-9]|1[0-2])\b")  # a day or a month
# A decimal point on a German page (1.5 instead of 1,5); dates (26.11.2026) do not match.
POINT = re.compile(r"(?<![\d.])\d+\.\d{1,2}(?![\d.])")
ENGLISH = re.compile(r"\b(?:the|may not|cannot|is not|must be|no such)\b")


class _Nodes(HTMLParser):
    """The text nodes a person reads (and the attributes a screen reader speaks)."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code", "template"):
            self._skip += 1
        self.nodes += [v for k, v in attrs if k in ("title", "aria-label", "placeholder", "alt") and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "template"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def nodes(html: str) -> list[str]:
    parser = _Nodes()
    parser.feed(html)
    return parser.nodes


def _translated_ids() -> set[str]:
    """English message ids whose German text differs: seen verbatim on a German page, a miss.

    Single words count only in lower case, as stored keys are written ("workshop", "ready"):
    a capitalised single word may be German too ("Programme") or a name ("Kind").
    """
    found: set[str] = set()
    for po in REPO.glob("**/locale/de/LC_MESSAGES/*.po"):
        if ".venv" in po.parts:
            continue
        with po.open("rb") as f:
            for message in read_po(f):
                text, german = message.id, message.string
                if not isinstance(text, str) or not german or german == text or "%(" in text:
                    continue
                if " " in text.strip() or text.islower():
                    found.add(text)
    return found


def problems(html: str, locale: str, english_ids: set[str]) -> Iterator[str]:
    for node in nodes(html):
        for pattern in (KEY, PREFIXED_KEY, ISO_DAY):
            if match := pattern.search(node):
                yield f"{match.group(0)!r} in {node[:80]!r}"
        if locale == "de":
            if match := POINT.search(node):
                yield f"decimal point {match.group(0)!r} in {node[:80]!r}"
            if node in english_ids and i18n.gettext("de", node) != node:
                yield f"English {node!r}"
            elif match := ENGLISH.search(node):
                yield f"English {match.group(0)!r} in {node[:80]!r}"


async def _ids(db: Database, org: Org) -> dict[str, list[uuid.UUID]]:
    ids: dict[str, list[uuid.UUID]] = {}
    async with db.tenant(org.id) as session:
        for name, column in ROWS.items():
            ids[name] = [(await session.execute(select(column).limit(1))).scalar_one()]
        people = await session.execute(select(Contact.id).where(Contact.first_name.in_(PEOPLE)))
        ids["contact_id"] = list(people.scalars())
    return ids


def _paths(app: Any, slug: str, ids: dict[str, list[uuid.UUID]]) -> Iterator[str]:
    for method, template in org_pages(app):
        if method != "GET":
            continue
        path = re.sub(r"\{slug(:\w+)?\}", slug, template)
        names = re.findall(r"\{(\w+)(?::\w+)?\}", path)
        assert all(n in ids for n in names), f"{template}: no seeded row for {names}"
        for i in range(max((len(ids[n]) for n in names), default=1)):
            chosen = {n: ids[n][i % len(ids[n])] for n in names}
            yield re.sub(r"\{(\w+)(:\w+)?\}", lambda m, c=chosen: str(c[m.group(1)]), path)


@pytest.mark.parametrize("locale", ["de", "en"])
async def test_every_page_shows_labels_and_dates_in_the_readers_language(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, locale: str
) -> None:
    await seed_every_tenant_table(db, org_a)
    ids = await _ids(db, org_a)
    await sign_in(browserless, await add_member(db, org_a, role="owner", locale=locale))
    english_ids = _translated_ids()
    found: dict[str, list[str]] = {}
    pages = 0
    for path in _paths(browserless.app, org_a.slug, ids):
        r = await browserless.get(path)
        if not r.headers.get("content-type", "").startswith("text/html"):
            continue
        pages += 1
        assert r.status_code < 500, path
        if wrong := sorted(set(problems(r.text, locale, english_ids))):
            found[path.replace(f"/o/{org_a.slug}", "")] = wrong
    assert pages >= 35
    # Counted things in the reader's grammar and numbers (the seeded tandem met once, 90 minutes).
    match = (await browserless.get(f"/o/{org_a.slug}/matches/{ids['match_id'][0]}")).text
    assert ("1 Treffen, 1,5 Stunden" if locale == "de" else "1 meeting, 1.5 hours") in match
    assert not found, "\n".join(f"{p}: {w}" for p, w in found.items())


def test_the_check_finds_keys_iso_dates_and_english_on_a_german_page() -> None:
    english_ids = _translated_ids()
    page = (
        "<table><tr><td>data_processing</td><td>2026-01-01</td><td>status:ready</td>"
        "<td>Back to the start page</td><td>the role coordinator may not do this</td></tr></table>"
    )
    assert len(list(problems(page, "de", english_ids))) == 6  # the prefixed key is an English id too
    assert list(problems("<ul><li>workshop</li><li>regulars</li></ul>", "de", english_ids)) == [
        "English 'workshop'",
        "English 'regulars'",
    ]
    fine = "<p>Datenverarbeitung · 01.01.2026 · bereit <code>data_processing</code></p><p>Kind</p>"
    assert list(problems(fine, "de", english_ids)) == []


def test_templates_translate_as_jinjas_own_gettext_does() -> None:
    """The pages' ``_()`` is a faster stand-in for Jinja's new-style gettext: same markup, same
    escaping of values, in both languages and in ``{% trans %}`` blocks."""
    from jinja2 import Environment

    from services.api.web import templating

    ours = templating.environment()
    stock = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    stock.install_gettext_callables(templating._gettext, templating._ngettext, newstyle=True)  # type: ignore[attr-defined]
    source = (
        '{{ _("Contacts") }}|{{ _("Contacts") }}|{{ _("status:ready") }}|<p title="{{ _("Name") }}">'
        '|{{ _("%(name)s & more", name="<b>Anna</b>") }}'
        '|{% trans who="<i>x</i>" %}Hello {{ who }}{% endtrans %}'
    )
    for locale in ("de", "en"):
        expected = stock.from_string(source).render(locale=locale)
        assert ours.from_string(source).render(locale=locale) == expected
        assert "Kontakte" in expected if locale == "de" else "Contacts" in expected
        assert "&lt;b&gt;Anna&lt;/b&gt;" in expected and "&lt;i&gt;" in expected
