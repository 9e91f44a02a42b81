"""The contact pages, signed in through the development sign-in: list, edit, timeline, wizard, fields."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.api.app import create_app
from services.worker.jobs.contacts import run_import
from shared import clock
from shared.db import Database
from tests.conftest import Org, Servers, make_settings
from tests.contacts.test_imports import XLSX, messy_workbook
from tests.fixtures.identity import add_person
from tests.web.test_shell import csrf_of, dev_sign_in


@pytest.fixture(scope="module")
def dev_app(servers: Servers, smtp_port: int) -> Any:
    return create_app(make_settings(servers, smtp_port, env="development", dev_signin=True))


@pytest.fixture
async def browser(dev_app: Any, org_a: Org) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=dev_app) as client:
        await dev_sign_in(client, org_a, f"owner@{org_a.slug}.example")
        yield client


async def test_create_find_edit_and_log_a_contact_in_the_pages(
    browser: AsyncTestClient[Any], org_a: Org
) -> None:
    base = f"/o/{org_a.slug}/contacts"
    page = await browser.get(base)
    assert page.status_code == 200 and "Keine Kontakte gefunden." in page.text
    csrf = csrf_of(page.text)
    form = {
        "_csrf": csrf,
        "kinds": ["mentee"],
        "first_name": "Jürgen",
        "last_name": "Müller",
        "email": "jm@example.de",
        "languages": "de, ar",
        "availability": ["tue-evening", "sat-morning"],
        "status": "ready",
        "capacity": "1",
    }
    r = await browser.post(f"{base}/new", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    detail_url = r.headers["location"]
    detail = await browser.get(detail_url)
    assert "Jürgen Müller" in detail.text and "Di abends" in detail.text and "Einwilligung" in detail.text

    bad = await browser.post(f"{base}/new", data={**form, "email": "kaputt"})
    assert bad.status_code == 422 and "E-Mail" in bad.text and 'value="Müller"' in bad.text

    found = await browser.get(base, params={"q": "mueller"}, headers={"HX-Request": "true"})
    assert found.status_code == 200 and "<html" not in found.text and "Jürgen Müller" in found.text
    none = await browser.get(base, params={"q": "niemand"}, headers={"HX-Request": "true"})
    assert "Keine Kontakte gefunden." in none.text

    contact_id = detail_url.rsplit("/", 1)[-1]
    r = await browser.post(
        f"{base}/{contact_id}/timeline",
        data={"kind": "call", "body": "Mutter angerufen"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and r.text.lstrip().startswith("<li") and "Anruf" in r.text
    edit = await browser.get(f"{base}/{contact_id}/edit")
    assert 'value="tue-evening"' in edit.text and re.search(r'value="tue-evening"[^>]*checked', edit.text)
    r = await browser.post(
        f"{base}/{contact_id}/edit", data={**form, "last_name": "Müller-Weiß"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "Müller-Weiß" in (await browser.get(detail_url)).text


async def test_the_import_wizard_from_upload_to_undo(
    browser: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    base = f"/o/{org_a.slug}/contacts"
    start = await browser.get(f"{base}/import")
    csrf = csrf_of(start.text)
    r = await browser.post(
        f"{base}/import",
        data={"_csrf": csrf, "atomicity": "batch"},
        files={"file": ("liste.xlsx", messy_workbook(), XLSX)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    review = await browser.get(r.headers["location"])
    assert "Probelauf: 6 neu, 0 aktualisiert, 0 unverändert, 2 abgelehnt" in review.text
    assert "doppelt mit Zeile 2 (gleiche E-Mail)" in review.text
    import_id = r.headers["location"].rsplit("/", 1)[-1]
    remapped = await browser.post(
        f"{base}/import/{import_id}/mapping",
        data={"_csrf": csrf, "map:Rolle": "", "save_as": "Schulliste"},
        follow_redirects=True,
    )
    assert "Probelauf: 0 neu" in remapped.text, "without the Rolle column no row has a kind"
    await browser.post(f"{base}/import/{import_id}/mapping", data={"_csrf": csrf, "map:Rolle": "kinds"})
    r = await browser.post(f"{base}/import/{import_id}/commit", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    progress = await browser.get(f"{base}/import/{import_id}/progress")
    assert 'hx-trigger="every 1s"' in progress.text
    assert await run_import({"db": db}, str(org_a.id), import_id) == "done"
    done = await browser.get(f"{base}/import/{import_id}/progress")
    assert (
        "fertig" in done.text
        and "6 neu, 0 aktualisiert, 2 abgelehnt" in done.text
        and "every 1s" not in done.text
    )
    errors = await browser.get(f"{base}/import/{import_id}/errors.csv")
    assert errors.status_code == 200 and len(errors.content.decode("utf-8-sig").strip().splitlines()) == 4
    listed = await browser.get(base)
    assert "Özlem Şahin" in listed.text
    await browser.post(f"{base}/import/{import_id}/undo", data={"_csrf": csrf})
    assert "Özlem" not in (await browser.get(base)).text


async def test_field_settings_and_what_a_viewer_may_not_do(
    browser: AsyncTestClient[Any], dev_app: Any, db: Database, org_a: Org
) -> None:
    base = f"/o/{org_a.slug}/contacts"
    page = await browser.get(f"{base}/fields")
    csrf = csrf_of(page.text)
    r = await browser.post(
        f"{base}/fields",
        data={
            "_csrf": csrf,
            "label_de": "Schulform",
            "label_en": "School",
            "key": "schulform",
            "type": "choice",
            "options": "gs=Grundschule\ngym=Gymnasium",
            "required_for": ["mentee"],
        },
        follow_redirects=True,
    )
    assert "Schulform" in r.text and "Grundschule, Gymnasium" in r.text
    form = await browser.get(f"{base}/new")
    assert "Grundschule" in form.text

    viewer = f"vera-{uuid.uuid4().hex[:6]}@{org_a.slug}.example"
    await add_person(db, org_a.id, viewer, "viewer")
    async with AsyncTestClient(app=dev_app) as other:
        await dev_sign_in(other, org_a, viewer)
        listed = await other.get(base)
        assert listed.status_code == 200 and "Neuer Kontakt" not in listed.text
        csrf = csrf_of(listed.text)
        for path in ("new", "fields", "import"):
            r = await other.post(
                f"{base}/{path}", data={"_csrf": csrf, "last_name": "X"}, follow_redirects=False
            )
            assert r.status_code == 403, path
        assert (await other.get(f"{base}/fields")).status_code == 403


async def test_a_large_list_export_is_prepared_by_the_worker(
    browser: AsyncTestClient[Any], db: Database, org_a: Org, monkeypatch: Any
) -> None:
    from services.worker.jobs.contacts import run_export
    from shared.contacts import exports

    base = f"/o/{org_a.slug}/contacts"
    csrf = csrf_of((await browser.get(base)).text)
    for name in ("Abel", "Berg"):
        await browser.post(f"{base}/new", data={"_csrf": csrf, "kinds": ["mentor"], "last_name": name})
    small = await browser.post(
        f"{base}/export", data={"_csrf": csrf, "format": "csv", "columns": ["last_name"]}
    )
    assert small.status_code == 200 and small.content.decode("utf-8-sig").split() == [
        "Nachname",
        "Abel",
        "Berg",
    ]

    monkeypatch.setattr(exports, "INLINE_LIMIT", 1)
    r = await browser.post(
        f"{base}/export",
        data={"_csrf": csrf, "format": "xlsx", "columns": ["last_name"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    status = await browser.get(r.headers["location"])
    assert "wird erstellt" in status.text and "every 2s" in status.text
    export_id = r.headers["location"].rsplit("/", 1)[-1]
    assert await run_export({"db": db}, str(org_a.id), export_id) == "done"
    ready = await browser.get(r.headers["location"], headers={"HX-Request": "true"})
    assert "ist fertig" in ready.text and "every 2s" not in ready.text
    download = await browser.get(f"{r.headers['location']}/download")
    assert download.status_code == 200 and download.content[:2] == b"PK"


async def test_programmes_consents_and_the_retention_preview_page(
    browser: AsyncTestClient[Any], db: Database, org_a: Org
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from shared.contacts.models import Contact

    base = f"/o/{org_a.slug}/contacts"
    page = await browser.get(f"{base}/settings")
    assert page.status_code == 200 and "Zurzeit niemand." not in page.text, "no rule, no preview"
    csrf = csrf_of(page.text)
    r = await browser.post(
        f"{base}/programmes", data={"_csrf": csrf, "name": "Lesepaten"}, follow_redirects=True
    )
    assert "Lesepaten" in r.text
    await browser.post(
        f"{base}/new", data={"_csrf": csrf, "kinds": ["mentor"], "last_name": "Ehemalig", "status": "alumni"}
    )
    async with db.tenant(org_a.id) as session:
        await session.execute(update(Contact).values(last_match_ended_on=clock.today() - timedelta(days=400)))
    bad = await browser.post(f"{base}/settings", data={"_csrf": csrf, "retention_months": "viele"})
    assert bad.status_code == 422
    r = await browser.post(
        f"{base}/settings",
        data={
            "_csrf": csrf,
            "required_consents": "data_processing, photos",
            "retention_months": "12",
            "retention_statuses": ["alumni"],
        },
        follow_redirects=True,
    )
    assert 'value="data_processing, photos"' in r.text and "Ehemalig" in r.text
    r = await browser.post(f"{base}/settings/retention", data={"_csrf": csrf})
    assert "1 Kontakte gelöscht." in r.text and "Zurzeit niemand." in r.text
