"""A person's page shows, on their timeline, what their tandem said: each questionnaire answered in
it and each meeting the mentor logged. The worry's own words are for admins and the tandem's
coordinator only; a guardian's page shows only their own answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared import clock
from shared.db import Database
from shared.models import OutboxMessage
from tests.conftest import Org
from tests.fixtures.questionnaires import make_tandem
from tests.fixtures.tasks import add_member, sign_in

MEETING_LINK = re.compile(r"/meeting-log/[0-9a-f]{32}\.[A-Za-z0-9_-]{43}")
TITLE = "Fragebogen „Wie läuft Ihr Tandem?“"


async def test_answers_and_logged_meetings_are_on_the_timeline_of_each_person_in_the_tandem(
    db: Database, browserless: AsyncTestClient[Any], client: AsyncTestClient[Any], org_a: Org
) -> None:
    tandem = await make_tandem(db, org_a, started_on=(datetime.now(UTC) - timedelta(days=40)).date())
    base = f"/api/v1/orgs/{org_a.slug}"
    qid = (
        await client.post(
            f"{base}/questionnaires/from-template", json={"template": "checkin"}, headers=org_a.auth()
        )
    ).json()["id"]
    for audience, worried in (("mentor", True), ("guardian", False)):
        sent = await client.post(
            f"{base}/matches/{tandem.match_id}/questionnaires",
            json={"questionnaire_id": qid, "audience": audience},
            headers=org_a.auth(),
        )
        token = sent.json()["items"][0]["link"].rsplit("/", 1)[1]
        answers = {"satisfaction": 4 if worried else 2, "meetings": "few", "worry": worried}
        if worried:
            answers["worry_text"] = "Vertraulich Q"
        r = await client.post(f"/api/v1/q/{token}", json={"answers": answers})
        assert r.status_code == 201, r.text

    # The mentor logs a worrying meeting through their link.
    r = await client.post(f"{base}/matches/{tandem.match_id}/meeting-log/link", headers=org_a.auth())
    assert r.status_code == 201, r.text
    async with db.tenant(org_a.id) as session:
        bodies = (
            await session.execute(
                select(OutboxMessage.body_text).where(OutboxMessage.to_address == tandem.mentor_email)
            )
        ).scalars()
        [path] = [m.group(0) for b in bodies if (m := MEETING_LINK.search(b))]
    logged = await client.post(
        path,
        data={
            "on": (clock.today() - timedelta(days=1)).isoformat(),
            "duration_minutes": "45",
            "activities": ["learning"],
            "notes": "Hausaufgaben",
            "rating": "2",
            "worried": "yes",
            "worry_text": "Vertraulich M",
            "lang": "de",
        },
        follow_redirects=False,
    )
    assert logged.status_code == 303, logged.text

    # The tandem's coordinator sees both answers and the meeting on the mentor's and the mentee's page,
    # with the worry's words.
    await sign_in(browserless, tandem.coordinator)
    for person in (tandem.mentor_id, tandem.mentee_id):
        page = await browserless.get(f"/o/{org_a.slug}/contacts/{person}")
        assert page.status_code == 200
        timeline = page.text.split('id="timeline-entries"')[1].split("</ol>")[0]
        assert timeline.count(TITLE) == 2
        assert "Wie zufrieden bist du mit dem Tandem?</dt><dd>4</dd>" in timeline
        assert "How satisfied are you with the tandem?</dt><dd>2</dd>" in timeline
        assert "Treffen, eingetragen von der:dem Mentor:in" in timeline and "45 Minuten" in timeline
        assert "Hausaufgaben" in timeline and "Lernen, Hausaufgaben" in timeline
        assert "Vertraulich Q" in timeline and "Vertraulich M" in timeline
        # Newest first: today's answers before yesterday's meeting.
        assert timeline.index(TITLE) < timeline.index("Treffen, eingetragen")

    # The family's page shows their own answer only (they are not in the tandem themselves).
    page = await browserless.get(f"/o/{org_a.slug}/contacts/{tandem.guardian_id}")
    timeline = page.text.split('id="timeline-entries"')[1].split("</ol>")[0]
    assert timeline.count(TITLE) == 1 and "How satisfied are you" in timeline
    assert "Treffen, eingetragen" not in timeline

    # Another coordinator reads that there was a worry, not its words.
    other = await add_member(db, org_a)
    await sign_in(browserless, other)
    page = await browserless.get(f"/o/{org_a.slug}/contacts/{tandem.mentor_id}")
    assert page.status_code == 200
    timeline = page.text.split('id="timeline-entries"')[1].split("</ol>")[0]
    assert timeline.count(TITLE) == 2 and "Treffen, eingetragen" in timeline
    assert "Vertraulich Q" not in page.text and "Vertraulich M" not in page.text

    # The JSON timeline carries the same, under the same rule: another coordinator reads the worry
    # and the rating, not the words; an admin (the organisation's token) reads the words too.
    api = f"{base}/contacts/{tandem.mentor_id}/timeline"
    theirs = await browserless.get(api)
    assert theirs.status_code == 200, theirs.text
    body = theirs.json()
    assert [a["title"] for a in body["answers"]] == ["Wie läuft Ihr Tandem?"] * 2
    [meeting] = body["logged_meetings"]
    assert (meeting["duration_minutes"], meeting["rating"], meeting["worried"]) == (45, 2, True)
    assert meeting["notes"] == "Hausaufgaben" and meeting["worry_text"] is None
    assert "Vertraulich" not in theirs.text
    admins = (await client.get(api, headers=org_a.auth())).json()
    assert admins["logged_meetings"][0]["worry_text"] == "Vertraulich M"
    assert "Vertraulich Q" in str(admins["answers"])
    # The family's timeline has their own answer only, and no meeting.
    family = (await client.get(f"{base}/contacts/{tandem.guardian_id}/timeline", headers=org_a.auth())).json()
    assert len(family["answers"]) == 1 and family["logged_meetings"] == []
