"""The worker's questionnaire scan and cross-organisation sending: many organisations per
transaction, each gets exactly its own invitations; an organisation with nothing new is not
joined with its tandems again until a day passes or what its schedules depend on changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from shared import personal_links
from shared.contacts.models import Contact, ContactLink
from shared.contacts.service import derive
from shared.db import Database
from shared.models import OutboxMessage
from shared.questionnaires import sending
from shared.questionnaires.models import QuestionnaireInvitation, QuestionnaireScan
from shared.settings import Settings
from tests.conftest import Org, create_org
from tests.fixtures.questionnaires import Tandem, link_in, make_tandem
from tests.questionnaires.test_flow import setup_checkin

# A day of its own, far from the other tests' tandems (which share the database).
NOW = datetime(2032, 6, 15, 9, 0, tzinfo=UTC)
STARTED = date(2032, 5, 18)  # 28 days before: the first check-in is due


async def _invitations(db: Database, org: Org) -> list[QuestionnaireInvitation]:
    async with db.tenant(org.id) as session:
        return list((await session.execute(select(QuestionnaireInvitation))).scalars())


async def _mails(db: Database, org: Org) -> list[OutboxMessage]:
    async with db.tenant(org.id) as session:
        rows = await session.execute(select(OutboxMessage).where(OutboxMessage.kind == "questionnaire"))
        return list(rows.scalars())


async def test_one_sweep_over_many_organisations_invites_each_exactly_its_own_people(
    db: Database, client: AsyncTestClient[Any], settings: Settings
) -> None:
    orgs = [await create_org(db) for _ in range(5)]
    tandems: dict[Any, list[Tandem]] = {}
    for n, org in enumerate(orgs):
        await setup_checkin(client, org, "mentor", "guardian")
        tandems[org.id] = [await make_tandem(db, org, started_on=STARTED) for _ in range(n + 1)]

    found = await sending.scan(db, NOW)
    assert {o.id for o in orgs} <= set(found.invitations)
    mine = [o for o in found.invitations if o in tandems]
    # Two organisations per transaction and batches of three: batches end inside an organisation
    # and span two; two senders run at once, as two workers would.
    second = Database.from_settings(settings)
    try:
        reports = await asyncio.gather(
            sending.send_invitations(db, mine, NOW, settings.public_url, chunk=2, batch=3),
            sending.send_invitations(second, mine, NOW, settings.public_url, chunk=2, batch=3),
        )
    finally:
        await second.dispose()
    assert sum(r.invited for r in reports) == sum(2 * len(t) for t in tandems.values())

    for org in orgs:
        people = {t.mentor_email: t.mentor_id for t in tandems[org.id]} | {
            t.guardian_email: t.guardian_id for t in tandems[org.id]
        }
        invited = await _invitations(db, org)
        assert sorted(i.contact_id for i in invited) == sorted(people.values()), "each person once"
        mails = await _mails(db, org)
        assert sorted(m.to_address for m in mails) == sorted(people), "nobody of another organisation"
        for mail in mails:
            parsed = personal_links.parse(link_in(mail.body_text))
            assert parsed is not None and parsed.organization_id == org.id
            # The link opens this organisation's invitation of exactly this person.
            [mine_] = [i for i in invited if i.token_hash == parsed.digest]
            assert mine_.contact_id == people[mail.to_address]
            assert f"Verein {org.slug}" in mail.body_text

    # Everything due is written: the next scan joins none of these organisations' tandems again.
    again = await sending.scan(db, NOW + timedelta(minutes=1))
    assert not {o.id for o in orgs} & set(again.invitations)
    assert (await _send(db, orgs, NOW + timedelta(minutes=2), settings)).invited == 0


async def _send(db: Database, orgs: list[Org], now: datetime, settings: Settings) -> sending.Report:
    """What the worker's tick does, for these organisations only (other tests' tandems share the
    database and may be due on the same day)."""
    found = await sending.scan(db, now)
    ids = {o.id for o in orgs}
    return await sending.send_invitations(
        db, [o for o in found.invitations if o in ids], now, settings.public_url
    )


async def test_the_quiet_scan_wakes_up_for_a_new_tandem_a_new_guardian_and_the_next_day(
    db: Database, client: AsyncTestClient[Any], settings: Settings
) -> None:
    quiet, busy = await create_org(db), await create_org(db)
    for org in (quiet, busy):
        await setup_checkin(client, org, "mentor", "guardian")
        await make_tandem(db, org, started_on=STARTED)
    assert (await _send(db, [quiet, busy], NOW, settings)).invited == 4
    assert not {quiet.id, busy.id} & set((await sending.scan(db, NOW)).invitations)

    # A tandem that started four weeks ago is entered today: only its organisation is due again.
    late = await make_tandem(db, busy, started_on=STARTED)
    found = await sending.scan(db, NOW)
    assert busy.id in found.invitations and quiet.id not in found.invitations
    assert (await _send(db, [quiet, busy], NOW, settings)).invited == 2
    assert {i.contact_id for i in await _invitations(db, busy)} >= {late.mentor_id, late.guardian_id}

    # A second guardian of a quiet organisation's mentee: the organisation is scanned again and
    # the new guardian (only) is asked.
    mentee = await _only_mentee(db, quiet)
    async with db.tenant(quiet.id) as session:
        other = Contact(
            organization_id=quiet.id, kinds=["guardian"], first_name="Gus", last_name="Zweit",
            email="gus-zweit@people.example", languages=["de"], status="matched",
        )  # fmt: skip
        derive(other)
        session.add(other)
        await session.flush()
        session.add(
            ContactLink(organization_id=quiet.id, contact_id=other.id, related_id=mentee, kind="guardian_of")
        )
    assert quiet.id in (await sending.scan(db, NOW)).invitations
    before = len(await _invitations(db, quiet))
    # No consent to e-mail recorded for the new guardian: the occurrence is written as skipped.
    report = await _send(db, [quiet, busy], NOW, settings)
    assert (report.invited, report.skipped) == (0, 1)
    after = await _invitations(db, quiet)
    assert len(after) == before + 1 and other.id in {i.contact_id for i in after}

    # A new day: every organisation with a schedule is looked at once more (nothing is due then).
    tomorrow = NOW + timedelta(days=1)
    assert not {quiet.id, busy.id} & set((await sending.scan(db, tomorrow)).invitations)
    for org in (quiet, busy):
        async with db.tenant(org.id) as session:
            checked = (await session.execute(select(QuestionnaireScan.checked_on))).scalar_one()
        assert checked == sending.local_day(tomorrow)
    assert (await _send(db, [quiet, busy], tomorrow, settings)).invited == 0


async def _only_mentee(db: Database, org: Org) -> Any:
    from shared.matching.models import Match

    async with db.tenant(org.id) as session:
        return (await session.execute(select(Match.mentee_id))).scalar_one()
