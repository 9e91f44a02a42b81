"""Half past midnight in Berlin, while the server's UTC day is still the one before.

Between midnight in Berlin and midnight UTC the two calendar days differ. A sign-up confirmed
then carries a consent dated with the Berlin day, which a check against the UTC day refused as
"in the future" (a 422 instead of the confirmation page), and a check-in's follow-up task fell
due "yesterday". The clock is moved with time-machine, the database and mail server are real.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from services.worker.main import deliver_outbox
from shared.db import Database
from shared.settings import Settings
from shared.tasks import followups
from shared.tasks.models import Task
from tests.conftest import Mailbox, Org
from tests.fixtures.intake import IntakeApi
from tests.fixtures.matching import MatchingApi
from tests.fixtures.tasks import make_match
from tests.intake.test_public_forms import answers, link_in, make_form, stamp

# 00:30 in Berlin, 23:30 (winter, CET) or 22:30 (summer, CEST) UTC on the day before.
HALF_PAST_MIDNIGHT = [
    pytest.param(datetime(2026, 11, 26, 23, 30, tzinfo=UTC), date(2026, 11, 27), id="winter"),
    pytest.param(datetime(2026, 7, 14, 22, 30, tzinfo=UTC), date(2026, 7, 15), id="summer"),
]


@pytest.mark.parametrize(("instant", "berlin_day"), HALF_PAST_MIDNIGHT)
async def test_a_sign_up_confirmed_just_after_midnight_in_berlin_is_taken_with_that_days_consent(
    client: AsyncTestClient[Any],
    intake: IntakeApi,
    org_a: Org,
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    instant: datetime,
    berlin_day: date,
) -> None:
    assert instant.date() < berlin_day
    with time_machine.travel(instant, tick=True):
        form = await make_form(intake)
        email = f"mitternacht-{secrets.token_hex(3)}@example.org"
        path = f"/f/{org_a.slug}/mentoren"
        r = await client.post(path, data={**answers(email), "_stamp": stamp(settings, org_a, form)})
        assert r.status_code == 200 and "Fast geschafft" in r.text, r.text
        await deliver_outbox({"db": db, "settings": settings, "worker_name": "test"})
        [message] = await mailbox.wait_for(email)
        confirm_path = link_in(message).split("://", 1)[1].split("/", 1)[1]
        done = await client.post(f"/{confirm_path}", data={"lang": "de"})
        assert done.status_code == 200 and "Anmeldung ist bestätigt" in done.text, done.text
    [person] = (await intake.call("GET", "/contacts", params={"q": email}))["items"]
    consents = await intake.call("GET", f"/contacts/{person['id']}/consents")
    assert [(c["purpose"], c["status"], c["effective_on"]) for c in consents["records"]] == [
        ("data_processing", "given", berlin_day.isoformat())
    ]
    assert consents["missing"] == []


@pytest.mark.parametrize(("instant", "berlin_day"), HALF_PAST_MIDNIGHT)
async def test_a_check_in_just_after_midnight_in_berlin_is_of_that_day_and_its_follow_up_due_on_it(
    matching: MatchingApi, org_a: Org, db: Database, instant: datetime, berlin_day: date
) -> None:
    async with db.tenant(org_a.id) as session:
        match_id = (await make_match(session, org_a.id)).id
    with time_machine.travel(instant, tick=True):
        checkin = await matching.call(
            "POST",
            f"/matches/{match_id}/checkins",
            201,
            json={"channel": "phone", "rating": 2, "notes": "Mentee möchte wechseln", "follow_up": True},
        )
    assert checkin["on"] == berlin_day.isoformat()
    async with db.tenant(org_a.id) as session:
        [task] = (
            await session.execute(select(Task).where(Task.match_id == match_id, Task.rule == followups.RULE))
        ).scalars()
    assert task.due_date == berlin_day and task.status == "open"
