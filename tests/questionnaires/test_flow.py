"""From a tandem's start to the coordinator's task, on a controllable clock: the schedule sends
personal links in each person's language and form of address, opening a link writes nothing,
the answers land on the tandem, a worry makes exactly one task for the right coordinator, and a
used, revoked, expired or foreign link shows the same page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared import clock
from shared.db import Database
from shared.matching.models import Match, MatchConcern
from shared.models import OutboxMessage
from shared.permissions import Role
from shared.questionnaires import sending
from shared.questionnaires.models import QuestionnaireInvitation, QuestionnaireResponse
from shared.settings import Settings
from shared.tasks.models import Notification, Task
from tests.conftest import Org
from tests.fixtures.questionnaires import link_in, make_tandem

GONE = "This link does not work (any more)"
GONE_DE = "Dieser Link funktioniert nicht (mehr)"


async def setup_checkin(client: AsyncTestClient[Any], org: Org, *audiences: str) -> str:
    base = f"/api/v1/orgs/{org.slug}/questionnaires"
    r = await client.post(f"{base}/from-template", json={"template": "checkin"}, headers=org.auth())
    assert r.status_code == 201, r.text
    qid: str = r.json()["id"]
    for audience in audiences:
        r = await client.post(
            f"{base}/schedules",
            json={
                "questionnaire_id": qid,
                "audience": audience,
                "trigger": "during",
                "after_days": 28,
                "every_days": 60,
            },
            headers=org.auth(),
        )
        assert r.status_code == 201, r.text
    return qid


async def mails_to(db: Database, org: Org, address: str) -> list[OutboxMessage]:
    async with db.tenant(org.id) as session:
        rows = await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.to_address == address)
            .order_by(OutboxMessage.created_at)
        )
        return list(rows.scalars())


async def test_scheduled_links_answers_signal_and_timeline(
    db: Database, client: AsyncTestClient[Any], settings: Settings, org_a: Org
) -> None:
    today = datetime.now(UTC)
    tandem = await make_tandem(db, org_a, started_on=clock.today() - timedelta(days=29))
    await setup_checkin(client, org_a, "mentor", "guardian")

    # Before day 28 nothing is due; on day 28 the mentor (German, du) and the family (English) are asked.
    assert org_a.id not in await sending.organisations_due(db, today - timedelta(days=2))
    assert org_a.id in await sending.organisations_due(db, today)
    early = await sending.send_due(db, org_a.id, today - timedelta(days=2), settings.public_url)
    assert early.invited == 0
    report = await sending.send_due(db, org_a.id, today, settings.public_url)
    assert report.invited == 2
    [to_mentor] = await mails_to(db, org_a, tandem.mentor_email)
    [to_family] = await mails_to(db, org_a, tandem.guardian_email)
    assert "Hallo Mara" in to_mentor.body_text and "deinem Tandem" in to_mentor.subject
    assert "Dear Grace" in to_family.body_text and "your tandem" in to_family.subject
    # The schedule is a ledger: running again (a second worker, a retry) sends nothing more.
    assert (await sending.send_due(db, org_a.id, today, settings.public_url)).invited == 0

    mentor_token = link_in(to_mentor.body_text)
    family_token = link_in(to_family.body_text)

    # Opening shows the form in the person's language and form of address, and writes nothing.
    page = await client.get(f"/q/{mentor_token}")
    assert page.status_code == 200
    assert "Wie zufrieden bist du mit dem Tandem?" in page.text
    assert "Koordinator:innen" in page.text  # who reads the answers
    page = await client.get(f"/q/{family_token}")
    assert "How satisfied are you with the tandem?" in page.text
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(select(QuestionnaireResponse))).first() is None

    # A missing required answer: the error stands next to the question, in German with "du" like
    # the questions; nothing is kept. The family, addressed with "Sie", reads it so in German.
    bad = await client.post(f"/q/{mentor_token}", data={"lang": "de", "worry": "no", "meetings": "once"})
    assert bad.status_code == 422
    assert 'id="q-satisfaction-error"' in bad.text and "Bitte beantworte diese Frage." in bad.text
    assert "Bitte prüfe deine Antworten" in bad.text and "Sie " not in bad.text.split("<main")[1]
    bad = await client.post(f"/q/{family_token}", data={"lang": "de", "worry": "no", "meetings": "once"})
    assert bad.status_code == 422 and "Bitte beantworten Sie diese Frage." in bad.text
    assert "Bitte prüfen Sie Ihre Antworten" in bad.text

    sent = await client.post(
        f"/q/{mentor_token}",
        data={
            "lang": "de",
            "satisfaction": "2",
            "meetings": "once",
            "activities[]": ["learning", "talk"],
            "worry": "yes",
            "worry_text": "Kemal wirkt seit Wochen bedrückt.",
        },
    )
    assert sent.status_code == 200, sent.text
    assert "Danke für Ihre Antworten" in sent.text or "Vielen Dank" in sent.text

    # The family answers over the JSON API, in English, without any signal.
    r = await client.post(
        f"/api/v1/q/{family_token}",
        json={"answers": {"satisfaction": 5, "meetings": "weekly", "worry": False}, "lang": "en"},
    )
    assert r.status_code == 201, r.text

    # A used link: the same friendly page, and nothing written.
    again = await client.post(
        f"/q/{mentor_token}", data={"lang": "en", "satisfaction": "1", "meetings": "once", "worry": "yes"}
    )
    assert again.status_code == 404 and GONE in again.text

    async with db.tenant(org_a.id) as session:
        tasks = (await session.execute(select(Task).where(Task.match_id == tandem.match_id))).scalars().all()
        concerns = (await session.execute(select(MatchConcern))).scalars().all()
        match = (await session.execute(select(Match).where(Match.id == tandem.match_id))).scalar_one()
        notes = (
            (
                await session.execute(
                    select(Notification).where(Notification.membership_id == tandem.coordinator.id)
                )
            )
            .scalars()
            .all()
        )
        responses = (await session.execute(select(QuestionnaireResponse))).scalars().all()
    assert len(responses) == 2
    assert [t.assignee_id for t in tasks] == [tandem.coordinator.id]
    assert [c.confidential_text for c in concerns] == ["Kemal wirkt seit Wochen bedrückt."]
    assert match.follow_up_since is not None
    assert len(notes) == 1
    assert len(await mails_to(db, org_a, tandem.coordinator.email)) == 1

    # The tandem's answers: the worry's words for an admin, not for a viewer.
    url = f"/api/v1/orgs/{org_a.slug}/matches/{tandem.match_id}/questionnaire-answers"
    admin = (await client.get(url, headers=org_a.auth(Role.ADMIN))).json()["items"]
    viewer = (await client.get(url, headers=org_a.auth(Role.VIEWER))).json()["items"]
    words = [a["value"] for item in admin for a in item["answers"] if a["key"] == "worry_text"]
    assert words == ["Kemal wirkt seit Wochen bedrückt."]
    assert not [a for item in viewer for a in item["answers"] if a["key"] == "worry_text"]
    assert sorted(item["audience"] for item in admin) == ["guardian", "mentor"]


async def test_revoked_expired_unknown_and_foreign_links_show_the_same_page(
    db: Database, client: AsyncTestClient[Any], settings: Settings, org_a: Org, org_b: Org
) -> None:
    today = datetime.now(UTC)
    tandem = await make_tandem(db, org_a, started_on=(today - timedelta(days=28)).date())
    qid = await setup_checkin(client, org_a)
    sent = await client.post(
        f"/api/v1/orgs/{org_a.slug}/matches/{tandem.match_id}/questionnaires",
        json={"questionnaire_id": qid, "audience": "mentor"},
        headers=org_a.auth(Role.COORDINATOR),
    )
    assert sent.status_code == 201, sent.text
    [item] = sent.json()["items"]
    token = item["link"].rsplit("/", 1)[1]
    assert (await client.get(f"/q/{token}")).status_code == 200

    # Organisation B cannot revoke A's invitation, nor see A's tandem.
    foreign = await client.post(
        f"/api/v1/orgs/{org_b.slug}/questionnaire-invitations/{item['id']}/revoke", headers=org_b.auth()
    )
    assert foreign.status_code == 404
    # A's token with B's organisation id in front opens nothing, in B or anywhere.
    forged = org_b.id.hex + token[32:]
    body = {"lang": "de", "satisfaction": "5", "meetings": "once", "worry": "no"}
    for t in (forged, "x" * 10, org_a.id.hex + "." + "A" * 43):
        page = await client.get(f"/q/{t}")
        assert page.status_code == 404 and GONE_DE in page.text
        assert (await client.post(f"/q/{t}", data=body)).status_code == 404
        assert (await client.post(f"/api/v1/q/{t}", json={"answers": {}})).status_code == 404

    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/questionnaire-invitations/{item['id']}/revoke", headers=org_a.auth()
    )
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert (await client.get(f"/q/{token}")).status_code == 404
    assert (await client.post(f"/q/{token}", data=body)).status_code == 404

    # An expired link: the same page.
    async with db.tenant(org_a.id) as session:
        second = await client.post(
            f"/api/v1/orgs/{org_a.slug}/matches/{tandem.match_id}/questionnaires",
            json={"questionnaire_id": qid, "audience": "mentor"},
            headers=org_a.auth(),
        )
        token2 = second.json()["items"][0]["link"].rsplit("/", 1)[1]
        inv = (
            await session.execute(
                select(QuestionnaireInvitation).where(
                    QuestionnaireInvitation.id == second.json()["items"][0]["id"]
                )
            )
        ).scalar_one()
        inv.expires_at = today - timedelta(minutes=1)
    assert (await client.get(f"/q/{token2}")).status_code == 404
    assert (await client.post(f"/q/{token2}", data=body)).status_code == 404
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(select(QuestionnaireResponse))).first() is None
    async with db.tenant(org_b.id) as session:
        assert (await session.execute(select(QuestionnaireResponse))).first() is None


async def test_reminder_once_and_none_after_the_tandem_ended(
    db: Database, client: AsyncTestClient[Any], settings: Settings, org_a: Org
) -> None:
    today = datetime.now(UTC)
    running = await make_tandem(db, org_a, started_on=(today - timedelta(days=28)).date())
    ending = await make_tandem(db, org_a, started_on=(today - timedelta(days=28)).date())
    await setup_checkin(client, org_a, "mentor")
    assert (await sending.send_due(db, org_a.id, today, settings.public_url)).invited == 2
    async with db.tenant(org_a.id) as session:
        match = (await session.execute(select(Match).where(Match.id == ending.match_id))).scalar_one()
        match.status, match.ended_on = "ended", (today + timedelta(days=3)).date()

    later = today + timedelta(days=8)
    assert (await sending.send_due(db, org_a.id, later, settings.public_url)).reminded == 1
    assert (
        await sending.send_due(db, org_a.id, later + timedelta(days=1), settings.public_url)
    ).reminded == 0
    running_mails = await mails_to(db, org_a, running.mentor_email)
    assert len(running_mails) == 2 and "Erinnerung" in running_mails[1].subject
    assert len(await mails_to(db, org_a, ending.mentor_email)) == 1
    # Both links of the reminded person open the same questionnaire.
    first, reminder = link_in(running_mails[0].body_text), link_in(running_mails[1].body_text)
    assert first != reminder
    assert (await client.get(f"/q/{first}")).status_code == 200
    assert (await client.get(f"/q/{reminder}")).status_code == 200


async def test_impact_questionnaire_at_the_start_and_at_the_end(
    db: Database, client: AsyncTestClient[Any], settings: Settings, org_a: Org
) -> None:
    today = datetime.now(UTC)
    tandem = await make_tandem(db, org_a, started_on=today.date())
    base = f"/api/v1/orgs/{org_a.slug}/questionnaires"
    qid = (
        await client.post(f"{base}/from-template", json={"template": "impact"}, headers=org_a.auth())
    ).json()["id"]
    for trigger, phase in (("start", "before"), ("end", "after")):
        r = await client.post(
            f"{base}/schedules",
            json={"questionnaire_id": qid, "audience": "mentee", "trigger": trigger, "phase": phase},
            headers=org_a.auth(),
        )
        assert r.status_code == 201, r.text
    assert (await sending.send_due(db, org_a.id, today, settings.public_url)).invited == 1
    async with db.tenant(org_a.id) as session:
        match = (await session.execute(select(Match).where(Match.id == tandem.match_id))).scalar_one()
        match.status, match.ended_on = "ended", (today + timedelta(days=200)).date()
    # Nothing during the tandem; on the day it ended, the "after" questionnaire.
    assert (
        await sending.send_due(db, org_a.id, today + timedelta(days=100), settings.public_url)
    ).invited == 0
    assert (
        await sending.send_due(db, org_a.id, today + timedelta(days=200), settings.public_url)
    ).invited == 1
    assert (
        await sending.send_due(db, org_a.id, today + timedelta(days=201), settings.public_url)
    ).invited == 0
    async with db.tenant(org_a.id) as session:
        phases = (
            (
                await session.execute(
                    select(QuestionnaireInvitation.phase)
                    .where(QuestionnaireInvitation.match_id == tandem.match_id)
                    .order_by(QuestionnaireInvitation.sent_at)
                )
            )
            .scalars()
            .all()
        )
    assert phases == ["before", "after"]
    assert len(await mails_to(db, org_a, tandem.mentee_email)) == 2
