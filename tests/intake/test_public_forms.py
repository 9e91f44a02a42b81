"""Public sign-up forms over HTTP: double opt-in, spam protection, purge, and tenancy."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from services.worker.main import deliver_outbox
from shared.db import Database
from shared.intake import forms
from shared.intake.models import IntakeSubmission
from shared.permissions import Role
from shared.settings import Settings
from tests.conftest import Mailbox, Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.tasks import add_member

CONSENTS = [
    {
        "purpose": "data_processing",
        "version": "2026-11",
        "text_de": "Ich willige ein, dass der Verein meine Angaben zur Vermittlung speichert.",
        "text_en": "I agree that the association keeps my details to find a match.",
    },
    {
        "purpose": "photos",
        "version": "1",
        "text_de": "Fotos von Ausflügen dürfen gezeigt werden.",
        "text_en": "Photos from outings may be shown.",
        "required": False,
    },
]


async def make_form(
    intake: IntakeApi, *, audience: str = "mentor", slug: str = "mentoren", **extra: Any
) -> dict[str, Any]:
    members = await intake.call("GET", "/members")
    owner = members["items"][0]["id"]
    programme = await intake.programme(f"Patenschaften {secrets.token_hex(2)}")
    body = {
        "slug": slug,
        "programme_id": programme,
        "audience": audience,
        "title_de": "Pate oder Patin werden",
        "title_en": "Become a mentor",
        "fields": [{"key": "phone", "required": True}, {"key": "city"}],
        "consents": CONSENTS,
        "coordinator_id": owner,
        **extra,
    }
    made: dict[str, Any] = await intake.call("POST", "/forms", json=body, expect=201)
    return made


def stamp(settings: Settings, org: Org, form: dict[str, Any], seconds_ago: float = 10) -> str:
    return forms.form_stamp(settings.secret, org.id, uuid.UUID(form["id"]), time.time() - seconds_ago)


def answers(email: str, **extra: str) -> dict[str, str]:
    return {
        "first_name": "Lena",
        "last_name": "Vogel",
        "email": email,
        "phone": "+49 30 1234567",
        "city": "Leipzig",
        "form_of_address": "du",
        "consent.data_processing": "yes",
        "lang": "de",
        **extra,
    }


async def submissions(db: Database, org: Org) -> int:
    async with db.tenant(org.id) as session:
        return int((await session.execute(select(func.count()).select_from(IntakeSubmission))).scalar_one())


def link_in(message: Any) -> str:
    body = message.get_payload(decode=True).decode()
    found = re.search(r"http://\S+/confirm/\S+", body)
    assert found, body
    return found.group(0)


async def test_a_sign_up_counts_once_the_e_mail_address_is_confirmed(
    client: AsyncTestClient[Any],
    intake: IntakeApi,
    org_a: Org,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    form = await make_form(intake)
    path = f"/f/{org_a.slug}/mentoren"
    assert form["url"].endswith(path) and f'src="{form["url"]}?embed=1"' in form["embed_html"]
    page = await client.get(path)
    assert page.status_code == 200
    assert "Pate oder Patin werden" in page.text and 'name="website"' in page.text
    assert "Ich willige ein, dass der Verein meine Angaben zur Vermittlung speichert." in page.text
    assert (await client.get(path, params={"lang": "en"})).text.count("Become a mentor") >= 1

    email = f"lena-{secrets.token_hex(3)}@example.org"
    r = await client.post(path, data={**answers(email), "_stamp": stamp(settings, org_a, form), "photos": ""})
    assert r.status_code == 200, r.text
    assert "Fast geschafft" in r.text
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
    [message] = await mailbox.wait_for(email)
    assert (
        str(make_header(decode_header(message["Subject"])))
        == "Bitte bestätige deine Anmeldung: Pate oder Patin werden"
    )
    body = message.get_payload(decode=True).decode()
    assert body.startswith("Hallo Lena,") and "nach 48 Stunden" in body
    link = link_in(message)
    # Nothing exists until the link is followed.
    found = await intake.call("GET", "/contacts", params={"q": email})
    assert found["items"] == []

    confirm_path = link.split("://", 1)[1].split("/", 1)[1]
    # Switching the form off takes no new sign-ups but keeps the links already sent working.
    await intake.call("PATCH", f"/forms/{form['id']}", json={"active": False})
    r = await client.post(path, data={**answers(f"x-{email}"), "_stamp": stamp(settings, org_a, form)})
    assert r.status_code == 404
    page = await client.get(f"/{confirm_path}")
    assert page.status_code == 200 and "Anmeldung bestätigen" in page.text
    assert (await intake.call("GET", "/contacts", params={"q": email}))["items"] == []
    done = await client.post(f"/{confirm_path}", data={"lang": "de"})
    assert done.status_code == 200 and "Anmeldung ist bestätigt" in done.text
    again = await client.post(f"/{confirm_path}", data={"lang": "de"})
    assert again.status_code == 200 and "Anmeldung ist bestätigt" in again.text

    [contact] = (await intake.call("GET", "/contacts", params={"q": email}))["items"]
    assert (
        contact["kinds"] == ["mentor"]
        and contact["phone"] == "+49 30 1234567"
        and contact["city"] == "Leipzig"
    )
    assert [p["id"] for p in contact["programmes"]] == [form["programme_id"]]
    checklist = await intake.call("GET", f"/screening/people/{contact['id']}")
    assert checklist["intake_status"] == "new" and checklist["form_of_address"] == "du"
    consents = await intake.call("GET", f"/contacts/{contact['id']}/consents")
    [record] = consents["records"]
    assert record["purpose"] == "data_processing" and record["status"] == "given"
    assert "Version 2026-11" in record["evidence"]
    assert "Ich willige ein, dass der Verein meine Angaben zur Vermittlung speichert." in record["evidence"]
    owner = form["coordinator_id"]
    tasks = await intake.call("GET", "/tasks", params={"assignee_id": owner})
    assert [t["title"] for t in tasks["items"]] == ["Neue Anmeldung: Lena Vogel"]
    assert f"/intake/people/{contact['id']}" in tasks["items"][0]["description"]
    assert tasks["items"][0]["contact_id"] == contact["id"]
    listed = await intake.call("GET", f"/forms/{form['id']}")
    assert (listed["pending"], listed["confirmed"]) == (0, 1)


async def test_a_guardian_signs_up_a_child(
    client: AsyncTestClient[Any],
    intake: IntakeApi,
    org_a: Org,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    form = await make_form(intake, audience="mentee", slug="kinder", fields=[])
    path = f"/f/{org_a.slug}/kinder"
    email = f"eltern-{secrets.token_hex(3)}@example.org"
    body = {**answers(email), "for_child": "yes", "_stamp": stamp(settings, org_a, form)}
    r = await client.post(path, data=body)
    assert r.status_code == 422 and 'id="f-child_first_name-error"' in r.text
    r = await client.post(path, data={**body, "child_first_name": "Ben", "form_of_address": "sie"})
    assert r.status_code == 200, r.text
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
    [message] = await mailbox.wait_for(email)
    assert message.get_payload(decode=True).decode().startswith("Guten Tag Lena Vogel,")
    confirm_path = "/" + link_in(message).split("://", 1)[1].split("/", 1)[1]
    assert (await client.post(confirm_path, data={})).status_code == 200
    [guardian] = (await intake.call("GET", "/contacts", params={"q": email}))["items"]
    assert guardian["kinds"] == ["guardian"] and guardian["programmes"] == []
    links = await intake.call("GET", f"/contacts/{guardian['id']}/links")
    [link] = links if isinstance(links, list) else links["items"]
    assert link["kind"] == "guardian_of"
    child = await intake.call("GET", f"/contacts/{link['related_id']}")
    assert (child["first_name"], child["last_name"], child["kinds"]) == ("Ben", "Vogel", ["mentee"])
    assert [p["id"] for p in child["programmes"]] == [form["programme_id"]]
    assert (await intake.call("GET", f"/screening/people/{child['id']}"))["intake_status"] == "new"
    tasks = await intake.call("GET", "/tasks", params={"assignee_id": form["coordinator_id"]})
    assert [t["title"] for t in tasks["items"]] == ["Neue Anmeldung: Ben Vogel"]
    assert "Angemeldet von: Lena Vogel" in tasks["items"][0]["description"]


async def test_spam_is_refused_honeypot_speed_and_rate_per_address(
    client: AsyncTestClient[Any], intake: IntakeApi, org_a: Org, db: Database, settings: Settings
) -> None:
    form = await make_form(intake)
    path = f"/f/{org_a.slug}/mentoren"
    email = f"spam-{secrets.token_hex(3)}@example.org"
    good = {**answers(email), "_stamp": stamp(settings, org_a, form)}

    r = await client.post(path, data={**good, "website": "http://cheap.example"})
    assert r.status_code == 400 and "nicht geklappt" in r.text
    r = await client.post(path, data={**good, "_stamp": stamp(settings, org_a, form, seconds_ago=0.5)})
    assert r.status_code == 400 and "sehr schnell" in r.text
    r = await client.post(path, data={**good, "_stamp": "1700000000.forged"})
    assert r.status_code == 400
    r = await client.post(path, data={**good, "_stamp": stamp(settings, org_a, form, seconds_ago=2 * 86400)})
    assert r.status_code == 400 and "zu lange offen" in r.text
    assert await submissions(db, org_a) == 0

    missing = {k: v for k, v in good.items() if k not in ("phone", "consent.data_processing")}
    r = await client.post(path, data={**missing, "email": "not-an-address"})
    assert r.status_code == 422
    assert 'id="f-phone-error"' in r.text and 'id="f-email-error"' in r.text
    assert 'id="f-consent-data_processing-error"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="Lena"' in r.text, "what was typed is kept"
    assert await submissions(db, org_a) == 0

    assert (await client.post(path, data=good)).status_code == 200
    # The page's stamp is spent: replaying the same submission sends no second e-mail.
    r = await client.post(path, data={**good, "email": f"replay-{secrets.token_hex(3)}@example.org"})
    assert r.status_code == 400 and "schon gesendet" in r.text
    assert await submissions(db, org_a) == 1

    def fresh(**extra: str) -> dict[str, str]:
        return {**good, "_stamp": stamp(settings, org_a, form), **extra}

    for _ in range(forms.PER_EMAIL_PER_HOUR - 1):
        assert (await client.post(path, data=fresh())).status_code == 200
    r = await client.post(path, data=fresh())
    assert r.status_code == 429 and "später noch einmal" in r.text
    other = fresh(email=f"other-{secrets.token_hex(3)}@example.org")
    assert (await client.post(path, data=other)).status_code == 200, "another address is not held back"
    assert await submissions(db, org_a) == forms.PER_EMAIL_PER_HOUR + 1


async def test_unconfirmed_sign_ups_are_purged_after_the_configured_time(
    client: AsyncTestClient[Any],
    intake: IntakeApi,
    org_a: Org,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    form = await make_form(intake, confirm_within_hours=6)
    path = f"/f/{org_a.slug}/mentoren"
    old, fresh = (f"{n}-{secrets.token_hex(3)}@example.org" for n in ("old", "fresh"))
    for email in (old, fresh):
        r = await client.post(path, data={**answers(email), "_stamp": stamp(settings, org_a, form)})
        assert r.status_code == 200
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
    [message] = await mailbox.wait_for(old)
    async with db.tenant(org_a.id) as session:
        await session.execute(
            update(IntakeSubmission)
            .where(IntakeSubmission.email == old)
            .values(created_at=datetime.now(UTC) - timedelta(hours=6, minutes=1))
        )
    confirm_path = "/" + link_in(message).split("://", 1)[1].split("/", 1)[1]
    assert (await client.get(confirm_path)).status_code == 404, "a link that ran out confirms nothing"

    now = datetime.now(UTC)
    assert org_a.id in await forms.organisations_with_expired_submissions(db, now)
    assert await forms.purge_unconfirmed(db, org_a.id, now) == 1
    assert await forms.purge_unconfirmed(db, org_a.id, now) == 0
    async with db.tenant(org_a.id) as session:
        left = (await session.execute(select(IntakeSubmission.email))).scalars().all()
    assert left == [fresh]
    assert org_a.id not in await forms.organisations_with_expired_submissions(db, now)


async def test_a_form_of_one_organisation_never_writes_into_another(
    client: AsyncTestClient[Any],
    intake: IntakeApi,
    intake_b: IntakeApi,
    org_a: Org,
    org_b: Org,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    form_a = await make_form(intake, slug="nur-a")
    await make_form(intake_b, slug="mentoren")
    email = f"cross-{secrets.token_hex(3)}@example.org"
    body = {**answers(email), "_stamp": stamp(settings, org_a, form_a)}
    # A's form under B's address: B has no such form, and A's stamp does not fit B's form.
    unknown_form = await client.post(f"/f/{org_b.slug}/nur-a", data=body)
    unknown_org = await client.post("/f/no-such-org/nur-a", data=body)
    assert unknown_form.status_code == unknown_org.status_code == 404
    assert unknown_form.text == unknown_org.text and org_b.slug not in unknown_form.text
    assert (await client.get(f"/f/{org_b.slug}/nur-a")).text == (await client.get("/f/nobody/nur-a")).text
    r = await client.post(f"/f/{org_b.slug}/mentoren", data=body)
    assert r.status_code == 400, "a stamp of A's form is worthless on B's"
    assert await submissions(db, org_b) == 0

    assert (await client.post(f"/f/{org_a.slug}/nur-a", data=body)).status_code == 200
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
    [message] = await mailbox.wait_for(email)
    token = link_in(message).rsplit("/", 1)[1]
    for path in (f"/f/{org_b.slug}/mentoren/confirm/{token}", f"/f/{org_b.slug}/nur-a/confirm/{token}"):
        assert (await client.get(path)).status_code == 404
        assert (await client.post(path, data={})).status_code == 404
    assert (await intake_b.call("GET", "/contacts"))["items"] == []
    assert (await intake.call("GET", "/contacts", params={"q": email}))["items"] == []

    # The admin API keeps forms apart like every other resource.
    await intake_b.call("GET", f"/forms/{form_a['id']}", expect=404)
    await intake_b.call("PATCH", f"/forms/{form_a['id']}", json={"active": False}, expect=404)
    r = await intake_b.call("POST", "/forms", json={**_form_body(form_a), "slug": "x"}, expect=422)
    assert r["field"] == "programme_id"


def _form_body(form: dict[str, Any]) -> dict[str, Any]:
    keep = ("slug", "programme_id", "audience", "title_de", "title_en", "fields", "consents")
    return {k: form[k] for k in keep}


async def test_form_settings_are_checked_and_name_the_field(intake: IntakeApi) -> None:
    form = await make_form(intake)
    body = _form_body(form)
    await intake.call("POST", "/forms", json={**body, "slug": "andere"}, role=Role.COORDINATOR, expect=403)
    for bad, field in (
        ({**body}, "slug"),
        ({**body, "slug": "Mit Leerzeichen"}, "slug"),
        ({**body, "slug": "a2", "audience": "donor"}, "audience"),
        ({**body, "slug": "a3", "fields": [{"key": "passport"}]}, "fields[0].key"),
        ({**body, "slug": "a4", "fields": [{"key": "custom.nothing"}]}, "fields[0].key"),
        ({**body, "slug": "a5", "consents": [{**CONSENTS[0], "purpose": "Daten!"}]}, "consents[0].purpose"),
        ({**body, "slug": "a6", "consents": [{**CONSENTS[0], "text_de": " "}]}, "consents[0].text_de"),
        ({**body, "slug": "a7", "title_de": ""}, "title_de"),
        ({**body, "slug": "a8", "confirm_within_hours": 0}, "confirm_within_hours"),
        ({**body, "slug": "a9", "coordinator_id": str(uuid.uuid4())}, "coordinator_id"),
    ):
        r = await intake.call("POST", "/forms", json=bad, expect=None)
        assert r.status_code in (409, 422) and r.json()["field"] == field, (bad, r.text)
    assert len((await intake.call("GET", "/forms"))["items"]) == 1
    changed = await intake.call("PATCH", f"/forms/{form['id']}", json={"active": False})
    assert changed["active"] is False
    assert (await intake.client.get(f"/f/{intake.org.slug}/mentoren")).status_code == 404


async def test_the_embed_snippet_escapes_the_form_title(intake: IntakeApi) -> None:
    from html.parser import HTMLParser

    title = 'Mitmachen" onload="alert(document.cookie)" x="<script>'
    form = await make_form(intake, slug="einbetten", title_de=title)
    found: list[tuple[str, dict[str, str | None]]] = []

    class Snippet(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Snippet().feed(form["embed_html"])
    # What the organisation pastes into its website is one iframe whose title is the text typed.
    assert [tag for tag, _ in found] == ["iframe"]
    attrs = found[0][1]
    assert set(attrs) == {"src", "title", "loading", "style"}
    assert attrs["title"] == title and attrs["src"] == f"{form['url']}?embed=1"


async def test_an_english_speaking_coordinator_gets_the_sign_up_task_in_english(
    client: AsyncTestClient[Any],
    intake: IntakeApi,
    org_a: Org,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
) -> None:
    coordinator = await add_member(db, org_a, locale="en")
    form = await make_form(intake, coordinator_id=str(coordinator.id))
    email = f"lena-{secrets.token_hex(3)}@example.org"
    r = await client.post(
        f"/f/{org_a.slug}/mentoren",
        data={**answers(email), "_stamp": stamp(settings, org_a, form)},
    )
    assert r.status_code == 200, r.text
    await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
    [message] = await mailbox.wait_for(email)
    assert (await client.post("/" + link_in(message).split("://", 1)[1].split("/", 1)[1])).status_code == 200
    tasks = await intake.call("GET", "/tasks", params={"assignee_id": str(coordinator.id)})
    [task] = tasks["items"]
    assert task["title"] == "New sign-up: Lena Vogel"
    assert f"Form: Become a mentor\nE-mail: {email}" in task["description"]
