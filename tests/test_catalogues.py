"""One translation pipeline: every message id in every catalogue, domain errors in the person's language."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from shared import i18n
from shared.db import Database
from tests.conftest import REPO, Org
from tests.fixtures.tasks import add_member, sign_in


def _catalogues() -> Any:
    spec = importlib.util.spec_from_file_location("catalogues", REPO / "infra" / "scripts" / "catalogues.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["catalogues"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_every_message_id_of_pages_mails_and_errors_is_in_every_catalogue() -> None:
    catalogues = _catalogues()
    found = list(catalogues.extract())
    paths = {m.path for m in found}
    # Pages, e-mails and domain errors are all extracted, not just one of them.
    assert any(p.endswith(".html") for p in paths)
    assert "shared/tasks/messages.py" in paths and "shared/intake/mail.py" in paths
    assert "shared/matching/matches.py" in paths
    assert len({m.key for m in found}) > 800
    assert catalogues.problems() == []


def test_a_message_id_missing_from_a_catalogue_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    catalogues = _catalogues()
    extracted = list(catalogues.extract())
    new = catalogues.Message("the moon is %(phase)s", None, "shared/matching/matches.py")
    monkeypatch.setattr(catalogues, "extract", lambda: iter([*extracted, new]))
    assert catalogues.problems() == [
        "de: missing 'the moon is %(phase)s' (shared/matching/matches.py)",
        "en: missing 'the moon is %(phase)s' (shared/matching/matches.py)",
    ]


def test_the_worker_finds_every_email_text_without_the_web_catalogues() -> None:
    """E-mails are built in the worker, which never imports the web layer's catalogues."""
    catalogues = _catalogues()
    german = catalogues.known("de", shared_only=True)
    for message in ("Reminder: %(title)s is due on %(due)s", "Open", "Tasks", "Hello,"):
        assert german[(None, message)], message


async def test_a_permission_refusal_reads_in_the_persons_language(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    await sign_in(browserless, await add_member(db, org_a, role="coordinator"))
    page = await browserless.get(f"/o/{org_a.slug}/contacts/settings")
    assert page.status_code == 403
    assert "Mit der Rolle „Koordination“ ist das nicht erlaubt (nötig: Einstellungen verwalten)" in page.text
    assert "may not do this" not in page.text and "settings:manage" not in page.text

    browserless.cookies.clear()
    await sign_in(browserless, await add_member(db, org_a, role="coordinator", locale="en"))
    page = await browserless.get(f"/o/{org_a.slug}/contacts/settings")
    assert page.status_code == 403
    assert "may not do this (manage settings)" in page.text


async def test_the_api_keeps_its_english_detail_and_adds_the_message_id(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    r = await client.get(f"/api/v1/orgs/{org_a.slug}/matches/{org_a.id}", headers=org_a.auth())
    assert r.status_code == 404
    assert r.json()["detail"] == "no such match" and r.json()["message_id"] == "no such match"
    r = await client.get(
        f"/api/v1/orgs/{org_a.slug}/matches", params={"status": "married"}, headers=org_a.auth()
    )
    problem = r.json()
    assert r.status_code == 422 and problem["field"] == "status"
    assert problem["detail"] == "'married' is not one of proposed, introduced, active, paused, ended"
    assert problem["message_id"] == "%(s)r is not one of %(match_statuses)s"
    assert problem["params"] == {
        "s": "married",
        "match_statuses": "proposed, introduced, active, paused, ended",
    }


def test_dates_and_numbers_in_a_german_error_follow_the_locale() -> None:
    from datetime import date

    from shared.errors import ValidationFailed

    late = ValidationFailed(
        "cannot be before the pair was introduced (%(start)s)", field="on", start=date(2026, 11, 26)
    )
    assert late.detail == "cannot be before the pair was introduced (2026-11-26)"
    assert i18n.message("de", late).endswith("(26.11.2026).")
    # Numbers on pages too: the pages' catalogues join the same translator.
    from services.api.web import i18n as web_i18n

    text = "%(n)s meetings, %(hours)s hours, %(volunteer)s volunteer hours"
    german = web_i18n.gettext("de", text, n=3, hours=1234.5, volunteer=2.0)
    assert german.startswith("3 Treffen, 1.234,5 Stunden")
    assert web_i18n.gettext("en", text, n=3, hours=1234.5, volunteer=2.0) == (
        "3 meetings, 1,234.5 hours, 2 volunteer hours"
    )


def test_a_list_of_allowed_keys_reads_as_labels_on_a_page_and_as_keys_in_the_api() -> None:
    from services.api.web import i18n as web_i18n
    from shared.errors import ValidationFailed
    from shared.intake import vocab

    wrong_kind = ValidationFailed(
        "kind must be one of %(event_kinds)s", field="kind", event_kinds=", ".join(vocab.EVENT_KINDS)
    )
    assert wrong_kind.detail == "kind must be one of workshop, regulars, outing, training"
    german = web_i18n.message("de", wrong_kind)
    assert "Workshop, Stammtisch, Ausflug oder Schulung" in german
    assert "regulars" not in german and "outing" not in german


def test_every_stored_key_has_a_label_in_english_too() -> None:
    """An English page shows "in person", never ``in_person``: a key's English label is not its id."""
    import re

    from babel.messages.pofile import read_po

    from services.api.web import i18n as web_i18n

    key = re.compile(r"^(?:[a-z-]+:)?[a-z0-9]+(?:[_.][a-z0-9]+)*$")
    keys = set()
    for po in REPO.glob("**/locale/de/LC_MESSAGES/*.po"):
        if ".venv" in po.parts:
            continue
        with po.open("rb") as f:
            keys |= {
                m.id
                for m in read_po(f)
                if isinstance(m.id, str) and key.match(m.id) and any(c in m.id for c in "_:.")
            }
    assert len(keys) > 100
    unlabelled = sorted(k for k in keys if web_i18n.gettext("en", k) == k)
    assert unlabelled == []
