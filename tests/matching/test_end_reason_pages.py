"""Why tandems end, worded by the organisation on a settings page instead of through the API."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.matching import MatchingApi
from tests.fixtures.tasks import add_member, csrf_of, sign_in


async def reasons(matching: MatchingApi, org: Org, **params: Any) -> list[dict[str, Any]]:
    r = await matching.client.get(
        f"/api/v1/orgs/{org.slug}/matching/end-reasons", params=params, headers=org.auth()
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def test_an_admin_adds_rewords_and_archives_an_end_reason(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, matching: MatchingApi
) -> None:
    await sign_in(browserless, await add_member(db, org_a, role="admin"))
    url = f"/o/{org_a.slug}/matching/end-reasons"
    page = await browserless.get(url)
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    r = await browserless.post(url, data={"_csrf": csrf, "label_de": "  ", "early": "yes"})
    assert r.status_code == 422 and 'id="new-label_de-error"' in r.text
    r = await browserless.post(
        url, data={"_csrf": csrf, "label_de": "Umzug der Familie", "label_en": "", "early": "yes"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    [moved] = [x for x in await reasons(matching, org_a) if x["label_de"] == "Umzug der Familie"]
    assert (moved["key"], moved["label_en"], moved["early"]) == (
        "umzug_der_familie",
        "Umzug der Familie",
        True,
    )

    r = await browserless.post(
        f"{url}/{moved['id']}",
        data={"_csrf": csrf, "label_de": "Umzug", "label_en": "Moved away"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    [changed] = [x for x in await reasons(matching, org_a) if x["id"] == moved["id"]]
    assert (changed["label_de"], changed["label_en"], changed["early"]) == ("Umzug", "Moved away", False)

    page = await browserless.get(url)
    assert "„Umzug“ steht beim Beenden eines Tandems nicht mehr zur Wahl" in page.text
    r = await browserless.post(f"{url}/{moved['id']}/archive", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert moved["id"] not in {x["id"] for x in await reasons(matching, org_a)}
    assert moved["id"] in {x["id"] for x in await reasons(matching, org_a, include_archived="true")}


async def test_coordinators_see_the_reasons_but_do_not_change_them(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, matching: MatchingApi
) -> None:
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/matching/end-reasons"
    page = await browserless.get(url)
    assert page.status_code == 200 and "Grund hinzufügen" not in page.text
    before = await reasons(matching, org_a)
    assert before, "the usual reasons are listed"
    r = await browserless.post(f"{url}/{before[0]['id']}/archive", data={"_csrf": csrf_of(page.text)})
    assert r.status_code == 403
    assert await reasons(matching, org_a) == before


async def test_an_admin_sets_a_programmes_rules_weights_and_check_in_interval(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, matching: MatchingApi
) -> None:
    created = await matching.client.post(
        f"/api/v1/orgs/{org_a.slug}/contacts/programmes", json={"name": "Lesepaten"}, headers=org_a.auth()
    )
    programme = created.json()["id"]
    await sign_in(browserless, await add_member(db, org_a, role="admin"))
    url = f"/o/{org_a.slug}/matching/settings?programme={programme}"
    page = await browserless.get(url)
    assert "nutzt die Einstellungen der Organisation" in page.text and 'value="25"' in page.text
    form = {
        "_csrf": csrf_of(page.text), "rules.common_language": "yes", "rules.capacity": "yes",
        "rules.max_distance_km": "15", "weights.languages": "30", "weights.interests": "25",
        "weights.availability": "25", "weights.distance": "20", "weights.age_gap": "0",
        "weights.waiting_time": "10", "weights.support_kinds": "5", "distance_scale_km": "30",
        "waiting_scale_days": "180", "checkin_interval_days": "14",
    }  # fmt: skip
    r = await browserless.post(url, data={**form, "weights.languages": "viel"})
    assert r.status_code == 422 and 'id="weights-languages-error"' in r.text and "von 0 bis 1000" in r.text
    assert 'value="viel"' in r.text, "what was typed is shown again"
    r = await browserless.post(url, data=form, follow_redirects=False)
    assert r.status_code == 303
    stored = await matching.client.get(
        f"/api/v1/orgs/{org_a.slug}/matching/settings",
        params={"programme_id": programme},
        headers=org_a.auth(),
    )
    body = stored.json()
    assert body["own"] is True and body["checkin_interval_days"] == 14
    assert body["config"]["weights"]["languages"] == 30 and body["config"]["rules"]["max_distance_km"] == 15
    assert body["config"]["rules"]["preferences"] is False, "an unticked rule is switched off"

    await sign_in(browserless, await add_member(db, org_a))
    page = await browserless.get(url)
    assert "Einstellungen speichern" not in page.text
    r = await browserless.post(url, data={**form, "_csrf": csrf_of(page.text)})
    assert r.status_code == 403
