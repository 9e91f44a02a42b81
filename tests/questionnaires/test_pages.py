"""The coordinators' pages: copying a template, adding a schedule, sending by hand and revoking,
and the match page showing the answers on the timeline with the latest rating of each side."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared.db import Database
from shared.history.models import HistoryEntry
from shared.questionnaires.models import Questionnaire, QuestionnaireInvitation, QuestionnaireSchedule
from tests.conftest import Org
from tests.fixtures.questionnaires import make_tandem
from tests.fixtures.tasks import add_member, csrf_of, sign_in


async def test_admin_copies_a_template_adds_a_schedule_and_a_coordinator_sends_and_revokes(
    db: Database, browserless: AsyncTestClient[Any], client: AsyncTestClient[Any], org_a: Org
) -> None:
    admin = await add_member(db, org_a, role="admin")
    tandem = await make_tandem(
        db, org_a, started_on=(datetime.now(UTC) - timedelta(days=40)).date(), coordinator=admin
    )
    await sign_in(browserless, admin)
    page = await browserless.get(f"/o/{org_a.slug}/questionnaires")
    assert page.status_code == 200 and "Vorlagen" in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/questionnaires/from-template",
        data={"_csrf": csrf_of(page.text), "template": "closing"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = await browserless.get(f"/o/{org_a.slug}/questionnaires")
    assert "Rückblick auf Ihr Tandem" in page.text
    async with db.tenant(org_a.id) as session:
        qid = (await session.execute(select(Questionnaire.id))).scalar_one()
    # A bad number names the problem on the page; nothing is written.
    bad = await browserless.post(
        f"/o/{org_a.slug}/questionnaires/schedules",
        data={
            "_csrf": csrf_of(page.text),
            "questionnaire_id": str(qid),
            "audience": "mentor",
            "trigger": "end",
            "after_days": "x",
        },
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    r = await browserless.post(
        f"/o/{org_a.slug}/questionnaires/schedules",
        data={
            "_csrf": csrf_of(page.text),
            "questionnaire_id": str(qid),
            "audience": "mentor",
            "trigger": "end",
            "after_days": "0",
            "every_days": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    async with db.tenant(org_a.id) as session:
        [schedule] = (await session.execute(select(QuestionnaireSchedule))).scalars().all()
    assert (schedule.trigger, schedule.after_days, schedule.every_days) == ("end", 0, None)

    # Sending by hand from the tandem's page.
    tandem_page = await browserless.get(f"/o/{org_a.slug}/matches/{tandem.match_id}/questionnaires")
    assert tandem_page.status_code == 200
    sent = await browserless.post(
        f"/o/{org_a.slug}/matches/{tandem.match_id}/questionnaires",
        data={"_csrf": csrf_of(tandem_page.text), "questionnaire_id": str(qid), "audience": "guardian"},
    )
    assert sent.status_code == 200 and "Gesendet an Grace" in sent.text
    async with db.tenant(org_a.id) as session:
        [invitation] = (await session.execute(select(QuestionnaireInvitation))).scalars().all()
    revoke = re.search(r'action="(/o/[^"]+/revoke)"', sent.text)
    assert revoke and "data-confirm" in sent.text
    r = await browserless.post(revoke.group(1), data={"_csrf": csrf_of(sent.text)}, follow_redirects=False)
    assert r.status_code == 303
    after = await browserless.get(f"/o/{org_a.slug}/matches/{tandem.match_id}/questionnaires")
    assert "widerrufen" in after.text
    async with db.tenant(org_a.id) as session:
        revoked = await session.get(QuestionnaireInvitation, (org_a.id, invitation.id))
        assert revoked is not None and revoked.revoked_at is not None
        # Sending and revoking by hand are in the tandem's change history, by the admin.
        logged = (
            await session.execute(
                select(HistoryEntry.action, HistoryEntry.actor)
                .where(
                    HistoryEntry.entity == "questionnaire_invitation",
                    HistoryEntry.match_id == tandem.match_id,
                )
                .order_by(HistoryEntry.id)
            )
        ).all()
    assert [a for a, _ in logged] == ["sent", "revoked"] and all(who for _, who in logged)
    match_page = await browserless.get(f"/o/{org_a.slug}/matches/{tandem.match_id}")
    assert "Persönlicher Fragebogen-Link" in match_page.text


async def test_the_match_page_shows_answers_on_the_timeline_and_the_latest_rating_of_each_side(
    db: Database, browserless: AsyncTestClient[Any], client: AsyncTestClient[Any], org_a: Org
) -> None:
    coordinator = await add_member(db, org_a)
    tandem = await make_tandem(
        db, org_a, started_on=(datetime.now(UTC) - timedelta(days=40)).date(), coordinator=coordinator
    )
    base = f"/api/v1/orgs/{org_a.slug}"
    qid = (
        await client.post(
            f"{base}/questionnaires/from-template", json={"template": "checkin"}, headers=org_a.auth()
        )
    ).json()["id"]
    for audience, rating in (("mentor", 4), ("guardian", 2)):
        sent = await client.post(
            f"{base}/matches/{tandem.match_id}/questionnaires",
            json={"questionnaire_id": qid, "audience": audience},
            headers=org_a.auth(),
        )
        token = sent.json()["items"][0]["link"].rsplit("/", 1)[1]
        r = await client.post(
            f"/api/v1/q/{token}",
            json={
                "answers": {
                    "satisfaction": rating,
                    "meetings": "few",
                    "worry": audience == "guardian",
                    "worry_text": "Sorge X",
                }
            },
        )
        assert r.status_code == 201, r.text
    await sign_in(browserless, coordinator)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{tandem.match_id}")
    assert page.status_code == 200
    ratings = re.search(r'<dd id="latest-ratings">(.*?)</dd>', page.text, re.S)
    assert ratings and "4/5" in ratings.group(1) and "2/5" in ratings.group(1)
    # Two entries on the timeline (the worry is also listed among the tandem's signals).
    assert page.text.count("<summary>Fragebogen „Wie läuft Ihr Tandem?“") == 2
    # Each answer keeps the wording its person saw: the mentor's "du", the family's English.
    assert "<dt>Wie zufrieden bist du mit dem Tandem?</dt><dd>4</dd>" in page.text
    assert "<dt>How satisfied are you with the tandem?</dt><dd>2</dd>" in page.text
    # The coordinator of the tandem reads the worry's words; a viewer does not.
    assert "Sorge X" in page.text
    viewer = await add_member(db, org_a, role="viewer")
    await sign_in(browserless, viewer)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{tandem.match_id}")
    assert page.status_code == 200 and "Sorge X" not in page.text and "4/5" in page.text


async def test_a_reports_only_member_sees_the_figures_but_no_questions_or_settings(
    db: Database, browserless: AsyncTestClient[Any], client: AsyncTestClient[Any], org_a: Org
) -> None:
    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/questionnaires/from-template",
        json={"template": "impact"},
        headers=org_a.auth(),
    )
    qid = r.json()["id"]
    reporter = await add_member(db, org_a, role="reporter")
    await sign_in(browserless, reporter)
    listing = await browserless.get(f"/o/{org_a.slug}/questionnaires")
    assert listing.status_code == 200 and "Wie geht es Ihnen?" in listing.text
    assert "Zeitpläne" not in listing.text and "Vorlagen" not in listing.text
    figures = await browserless.get(f"/o/{org_a.slug}/questionnaires/{qid}")
    assert figures.status_code == 200 and "Kennzahlen" in figures.text
    assert "Ich traue mir zu, Neues auszuprobieren." in figures.text  # the question's row in the figures
    assert 'id="questions-title"' not in figures.text
    assert (await browserless.get(f"/o/{org_a.slug}/matches")).status_code == 403
