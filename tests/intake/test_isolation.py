"""Every intake endpoint, called as organisation A with organisation B's real ids, finds nothing."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from shared import clock
from shared.permissions import Role
from tests.conftest import Org
from tests.fixtures.intake import IntakeApi
from tests.intake.test_public_forms import make_form

PREFIXES = (
    "/api/v1/orgs/{slug:str}/screening",
    "/api/v1/orgs/{slug:str}/events",
    "/api/v1/orgs/{slug:str}/forms",
)


def intake_routes(client: AsyncTestClient[Any]) -> list[tuple[str, str]]:
    found = []
    for route in client.app.routes:
        if route.path.startswith(PREFIXES):
            for method in sorted(getattr(route, "methods", [])):
                if method not in ("HEAD", "OPTIONS"):
                    found.append((method, route.path))
    return found


async def test_a_s_token_never_reaches_b_s_screening_events_or_forms(
    client: AsyncTestClient[Any], intake: IntakeApi, intake_b: IntakeApi, org_a: Org, org_b: Org
) -> None:
    programme = await intake_b.programme("Geheimprogramm")
    steps = await intake_b.steps(programme)
    person = await intake_b.person("mentor", "Bettina", programme, email="bettina@b.example")
    passed = {"contact_id": person, "step_id": steps["interview"], "outcome": "passed"}
    record = await intake_b.call("POST", "/screening/records", json=passed, expect=201)
    certificate = {"contact_id": person, "seen": True, "issued_on": clock.today().isoformat()}
    await intake_b.call(
        "POST", "/screening/certificates", json={**certificate, "has_relevant_entries": False}, expect=201
    )
    training = {"kind": "training", "title": "B-Schulung", "starts_at": "2026-12-01T10:00:00Z"}
    event = await intake_b.call("POST", "/events", json=training, expect=201)
    await intake_b.call("POST", f"/events/{event['id']}/invitations", json={"contact_ids": [person]})
    form = await make_form(intake_b, slug="b-form")
    ids = {
        "step_id": steps["interview"],
        "record_id": record["id"],
        "contact_id": person,
        "event_id": event["id"],
        "form_id": form["id"],
    }
    before = await intake_b.call("GET", f"/screening/people/{person}")

    # Bodies that are valid but for B's ids, so only the organisation can refuse them.
    bodies: dict[str, Any] = {
        "/invitations": {"contact_ids": [person]},
        "/attendance": {"items": [{"contact_id": person, "status": "present"}]},
        "/screening/steps": {"programme_id": programme, "kind": "other", "key": "x"},
        "/steps/defaults": {"programme_id": programme},
        "/screening/records": passed,
        "/screening/certificates": {**certificate, "has_relevant_entries": True},
        "/events": {**training, "programme_id": programme},
        "/forms": {k: form[k] for k in ("programme_id", "audience", "title_de", "title_en")}
        | {"slug": "a-form"},
    }
    routes = intake_routes(client)
    assert len(routes) >= 25, routes
    secrets_of_b = ["Geheimprogramm", "Bettina", "B-Schulung", "b-form", *ids.values()]
    for method, template in routes:
        path = re.sub(r"\{slug(:\w+)?\}", org_a.slug, template)
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: ids[m.group(1)], path)
        body: Any = None
        if method == "PATCH":
            body = {}
        elif method == "POST":
            body = next((b for suffix, b in bodies.items() if template.endswith(suffix)), {})
        r = await client.request(
            method, path, json=body, params={"contact_id": person}, headers=org_a.auth(Role.OWNER)
        )
        if "{" in template.replace("{slug:str}", ""):
            assert r.status_code == 404, (method, template, r.status_code, r.text)
        elif method == "POST":
            assert r.status_code == 422, (method, template, r.status_code, r.text)
        else:
            assert r.status_code in (200, 422), (method, template, r.status_code, r.text)
        text = r.text.replace(path, "")
        if template.endswith("/readiness"):
            # It answers for the ids it was asked about: that echo is no leak, "not found" is the point.
            assert r.json()["items"][0]["reasons"] == ["Kontakt nicht gefunden"]
            text = text.replace(person, "")
        for secret in secrets_of_b:
            assert secret not in text, (method, template, secret, r.text)

    # B's records are untouched.
    assert await intake_b.call("GET", f"/screening/people/{person}") == before
    detail = await intake_b.call("GET", f"/events/{event['id']}")
    assert [a["status"] for a in detail["attendees"]] == ["invited"]
    assert (await intake_b.call("GET", f"/forms/{form['id']}"))["active"] is True
