"""The mentors' meeting log: a link when the tandem starts, a page that writes only when sent,
the same meetings and hours as the match page, signals to the coordinator, and links that stop."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from shared import clock
from shared.contacts.models import Consent
from shared.contacts.vocab import EMAIL_CONSENT
from shared.db import Database
from shared.intake.models import IntakeProfile
from shared.matching.models import Match, MatchConcern, Meeting, MeetingLogEntry, MeetingLogLink
from shared.permissions import Role
from shared.settings import Settings
from shared.tasks.models import Task
from tests.conftest import Mailbox, Org
from tests.fixtures.mail import deliver_all
from tests.fixtures.matching import MatchingApi
from tests.fixtures.tasks import Member, add_member, csrf_of, make_contact, sign_in

TODAY = clock.today()
LINK = re.compile(r"https?://\S+(/meeting-log/[0-9a-f]{32}\.[A-Za-z0-9_-]{43})")


@dataclass
class Tandem:
    match_id: uuid.UUID
    mentor_id: uuid.UUID
    mentor_email: str
    coordinator: Member


async def tandem(
    db: Database, org: Org, *, consent: bool = True, address: str = "sie", introduced: int = 30
) -> Tandem:
    """An introduced tandem whose mentor can be written to; the mentee's owner coordinates it."""
    coordinator = await add_member(db, org)
    email = f"mentor-{secrets.token_hex(3)}@example.org"
    async with db.tenant(org.id) as session:
        mentor = await make_contact(session, org.id, kind="mentor", status="matched")
        mentor.email = email
        mentor.first_name = "Greta"
        mentee = await make_contact(session, org.id, kind="mentee", status="matched", owner=coordinator.id)
        mentee.first_name = "Yusuf"
        if consent:
            session.add(
                Consent(
                    organization_id=org.id,
                    contact_id=mentor.id,
                    purpose=EMAIL_CONSENT,
                    status="given",
                    effective_on=TODAY - timedelta(days=40),
                )
            )
        session.add(IntakeProfile(organization_id=org.id, contact_id=mentor.id, form_of_address=address))
        match = Match(
            organization_id=org.id,
            mentor_id=mentor.id,
            mentee_id=mentee.id,
            status="introduced",
            proposed_on=TODAY - timedelta(days=introduced + 5),
            introduced_on=TODAY - timedelta(days=introduced),
        )
        session.add(match)
        await session.flush()
        return Tandem(match.id, mentor.id, email, coordinator)


async def link_from_mail(db: Database, settings: Settings, mailbox: Mailbox, email: str, n: int = 1) -> str:
    await deliver_all(db, settings)
    message = (await mailbox.wait_for(email, n))[n - 1]
    body = message.get_payload(decode=True).decode()
    found = LINK.search(body)
    assert found, body
    return found.group(1)


async def counts(db: Database, org: Org, match_id: uuid.UUID) -> tuple[int, int, int]:
    async with db.tenant(org.id) as session:
        meetings = (
            await session.execute(
                select(func.count()).select_from(Meeting).where(Meeting.match_id == match_id)
            )
        ).scalar_one()
        concerns = (
            await session.execute(
                select(func.count()).select_from(MatchConcern).where(MatchConcern.match_id == match_id)
            )
        ).scalar_one()
        used = (
            await session.execute(
                select(func.count())
                .select_from(MeetingLogLink)
                .where(MeetingLogLink.match_id == match_id, MeetingLogLink.last_used_at.is_not(None))
            )
        ).scalar_one()
    return meetings, concerns, used


def form(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "on": (TODAY - timedelta(days=2)).isoformat(),
        "duration_minutes": "90",
        "activities": ["learning", "outdoors"],
        "notes": "Mathe geübt, dann Eis gegessen",
        "rating": "4",
        "worried": "no",
        "worry_text": "",
        "lang": "de",
    }
    values.update(changes)
    return values


async def test_a_started_tandem_sends_the_link_and_a_logged_meeting_counts_on_the_match_page(
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    matching: MatchingApi,
    client: AsyncTestClient[Any],
    org_a: Org,
) -> None:
    t = await tandem(db, org_a, address="du")
    await matching.move(str(t.match_id), to="active", on=(TODAY - timedelta(days=20)).isoformat())
    path = await link_from_mail(db, settings, mailbox, t.mentor_email)
    [mail] = mailbox.to(t.mentor_email)
    body = mail.get_payload(decode=True).decode()
    assert body.startswith("Hallo Greta,") and "dein Tandem mit Yusuf hat begonnen" in body
    # A pause and a return are not a new start: no second link.
    await matching.move(str(t.match_id), to="paused", on=(TODAY - timedelta(days=10)).isoformat())
    await matching.move(str(t.match_id), to="active", on=(TODAY - timedelta(days=5)).isoformat())
    await deliver_all(db, settings)
    assert len(mailbox.to(t.mentor_email)) == 1

    # Opening the page (as a mail scanner would) shows the form and writes nothing.
    page = await client.get(path)
    assert page.status_code == 200
    assert "Treffen eintragen" in page.text and "Mein Tandem mit Yusuf" in page.text
    assert 'name="duration_minutes"' in page.text and "<script" not in page.text
    assert await counts(db, org_a, t.match_id) == (0, 0, 0)

    # Bad input: every problem next to its field, in German with "du" like the mentor's letters,
    # and nothing written.
    bad = await client.post(
        path,
        data=form(on=(TODAY + timedelta(days=1)).isoformat(), duration_minutes="0", rating="", worried="yes"),
    )
    assert bad.status_code == 422
    for field, words in (
        ("on", "nicht in der Zukunft"),
        ("duration_minutes", "ganze Zahl von 1 bis 1440"),
        ("rating", "Bitte wähl aus, wie es war"),
        ("worry_text", "was dir Sorgen macht"),
    ):
        assert re.search(rf'id="f-{field}-error">[^<]*{words}', bad.text), field
    assert "Bitte prüfe deine Angaben" in bad.text and "Ihnen" not in bad.text
    assert 'aria-invalid="true" aria-describedby="f-duration_minutes-error"' in bad.text
    assert "Mathe geübt, dann Eis gegessen" in bad.text
    long = await client.post(path, data=form(notes="x" * 2001, activities=["flying"]))
    assert long.status_code == 422 and "höchstens 2000 Zeichen" in long.text
    assert await counts(db, org_a, t.match_id) == (0, 0, 0)

    sent = await client.post(path, data=form(), follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].endswith("?saved=1&lang=de")
    thanks = await client.get(sent.headers["location"])
    assert "Danke! Das Treffen ist eingetragen." in thanks.text
    assert await counts(db, org_a, t.match_id) == (1, 0, 1)

    # The match page's figures count it like any meeting, reported by the mentor.
    match = await matching.call("GET", f"/matches/{t.match_id}")
    assert (match["meetings"], match["meeting_hours"], match["volunteer_hours"]) == (1, 1.5, 1.5)
    [meeting] = await matching.call("GET", f"/matches/{t.match_id}/meetings")
    assert (meeting["reported_by"], meeting["on"], meeting["notes"]) == (
        "mentor",
        (TODAY - timedelta(days=2)).isoformat(),
        "Mathe geübt, dann Eis gegessen",
    )
    async with db.tenant(org_a.id) as session:
        [entry] = (await session.execute(select(MeetingLogEntry))).scalars().all()
    assert (entry.rating, entry.activities, entry.worried) == (4, ["learning", "outdoors"], False)
    # No signal for a good meeting.
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(select(Task).where(Task.match_id == t.match_id))).first() is None


async def test_a_worry_reaches_the_coordinator_once_and_only_they_read_it(
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    matching: MatchingApi,
    client: AsyncTestClient[Any],
    browserless: AsyncTestClient[Any],
    org_a: Org,
) -> None:
    t = await tandem(db, org_a)
    await matching.move(str(t.match_id), to="active")
    path = await link_from_mail(db, settings, mailbox, t.mentor_email)
    worry = "Yusuf erzählt von Streit zu Hause"
    r = await client.post(
        path, data=form(rating="2", worried="yes", worry_text=worry), follow_redirects=False
    )
    assert r.status_code == 303
    # A second low rating while the task is open joins it.
    r = await client.post(path, data=form(rating="1"), follow_redirects=False)
    assert r.status_code == 303
    async with db.tenant(org_a.id) as session:
        tasks = (await session.execute(select(Task).where(Task.match_id == t.match_id))).scalars().all()
        flagged = (
            await session.execute(select(Match.follow_up_since).where(Match.id == t.match_id))
        ).scalar()
    assert [(x.assignee_id, x.rule, x.status) for x in tasks] == [(t.coordinator.id, "concern", "open")]
    assert "macht sich Sorgen" in tasks[0].title and worry not in tasks[0].title
    assert flagged is not None
    await deliver_all(db, settings)
    [note] = await mailbox.wait_for(t.coordinator.email)
    assert worry not in note.get_payload(decode=True).decode()

    # The coordinator reads the words on the match page; a colleague sees that there are some.
    await sign_in(browserless, t.coordinator)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{t.match_id}")
    assert page.status_code == 200
    assert worry in page.text and "Zum Nachfassen markiert" in page.text
    assert "von der:dem Mentor:in gemeldet" in page.text and "wie es war: 2 von 5 (nicht so gut)" in page.text
    assert "Lernen, Hausaufgaben" in page.text
    colleague = await add_member(db, org_a)
    await sign_in(browserless, colleague)
    other = await browserless.get(f"/o/{org_a.slug}/matches/{t.match_id}")
    assert other.status_code == 200 and worry not in other.text
    assert "Treffen-Logbuch: Der:die Mentor:in macht sich Sorgen" in other.text

    # Clearing the mark once followed up.
    await sign_in(browserless, t.coordinator)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{t.match_id}")
    r = await browserless.post(
        f"/o/{org_a.slug}/matches/{t.match_id}/follow-up/clear",
        data={"_csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = await browserless.get(f"/o/{org_a.slug}/matches/{t.match_id}")
    assert "Zum Nachfassen markiert" not in page.text


async def test_unknown_revoked_foreign_and_ended_links_show_one_page_and_write_nothing(
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    client: AsyncTestClient[Any],
    browserless: AsyncTestClient[Any],
    org_a: Org,
    org_b: Org,
) -> None:
    a = await tandem(db, org_a)
    b = await tandem(db, org_b)
    for org, t in ((org_a, a), (org_b, b)):
        await MatchingApi(client, org).move(str(t.match_id), to="active")
    path_a = await link_from_mail(db, settings, mailbox, a.mentor_email)
    path_b = await link_from_mail(db, settings, mailbox, b.mentor_email)
    token_b = path_b.rsplit("/", 1)[1]
    secret_b = token_b.split(".", 1)[1]

    # Renewing on the match page: a new link by e-mail, the old one stops.
    await sign_in(browserless, a.coordinator)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{a.match_id}")
    assert "Der:dem Mentor:in einen neuen Link schicken" in page.text
    assert 'data-confirm="Der bisherige Link der:des Mentor:in funktioniert dann nicht mehr."' in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/matches/{a.match_id}/meeting-log/link",
        data={"_csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    renewed = await link_from_mail(db, settings, mailbox, a.mentor_email, 2)
    assert renewed != path_a
    assert (await client.get(renewed)).status_code == 200

    nothing = await client.get("/meeting-log/nothing")
    assert nothing.status_code == 404 and "Dieser Link funktioniert nicht (mehr)" in nothing.text
    unknown = f"/meeting-log/{org_a.id.hex}.{secrets.token_urlsafe(32)}"
    # B's secret under A's organisation: looked up in A only, where it does not exist.
    foreign = f"/meeting-log/{org_a.id.hex}.{secret_b}"
    for path in (path_a, unknown, foreign, "/meeting-log/x.y"):
        shown = await client.get(path)
        assert (shown.status_code, shown.text) == (nothing.status_code, nothing.text), path
        sent = await client.post(path, data=form(), follow_redirects=False)
        assert (sent.status_code, sent.text) == (nothing.status_code, nothing.text), path

    # Revoked by the coordinator, and a tandem that ended: the same page.
    page = await browserless.get(f"/o/{org_a.slug}/matches/{a.match_id}")
    r = await browserless.post(
        f"/o/{org_a.slug}/matches/{a.match_id}/meeting-log/revoke",
        data={"_csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    await MatchingApi(client, org_b).move(str(b.match_id), to="ended", reason="moved_away")
    for path in (renewed, path_b):
        shown = await client.get(path)
        assert (shown.status_code, shown.text) == (nothing.status_code, nothing.text), path
        sent = await client.post(path, data=form(), follow_redirects=False)
        assert sent.status_code == 404
    assert await counts(db, org_a, a.match_id) == (0, 0, 0)
    assert await counts(db, org_b, b.match_id) == (0, 0, 0)


async def test_a_mentor_without_consent_gets_no_mail_and_the_page_says_so(
    db: Database, matching: MatchingApi, browserless: AsyncTestClient[Any], org_a: Org
) -> None:
    t = await tandem(db, org_a, consent=False)
    await matching.move(str(t.match_id), to="active")
    async with db.tenant(org_a.id) as session:
        links = (
            await session.execute(select(MeetingLogLink).where(MeetingLogLink.match_id == t.match_id))
        ).all()
    assert [link.sent for (link,) in links] == [False]
    await sign_in(browserless, t.coordinator)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{t.match_id}")
    assert "nicht eingewilligt, per E-Mail angeschrieben zu werden" in page.text
    assert "einen neuen Link schicken" not in page.text


async def test_the_person_export_holds_the_log_and_erasure_closes_it(
    db: Database,
    settings: Settings,
    mailbox: Mailbox,
    matching: MatchingApi,
    client: AsyncTestClient[Any],
    org_a: Org,
) -> None:
    t = await tandem(db, org_a)
    await matching.move(str(t.match_id), to="active")
    path = await link_from_mail(db, settings, mailbox, t.mentor_email)
    worry = "Er schläft im Unterricht ein"
    r = await client.post(
        path, data=form(rating="3", worried="yes", worry_text=worry), follow_redirects=False
    )
    assert r.status_code == 303

    exported = await matching.call("GET", f"/contacts/{t.mentor_id}/export", role=Role.ADMIN)
    mine = exported["domains"]["matching"]
    assert [(e["rating"], e["activities"], e["worried"]) for e in mine["meeting_log"]] == [
        (3, ["learning", "outdoors"], True)
    ]
    assert [c["text"] for c in mine["concerns"]] == [worry]
    assert len(mine["meeting_log_links"]) == 1 and "token" not in str(mine["meeting_log_links"])

    await matching.call("POST", f"/contacts/{t.mentor_id}/erase", role=Role.ADMIN)
    assert (await client.get(path)).status_code == 404
    async with db.tenant(org_a.id) as session:
        words = (await session.execute(select(MatchConcern.confidential_text))).scalars().all()
    assert worry not in words


async def test_the_match_page_actions_answer_404_for_another_organisations_tandem(
    db: Database, browserless: AsyncTestClient[Any], org_a: Org, org_b: Org
) -> None:
    b = await tandem(db, org_b)
    a = await tandem(db, org_a)
    viewer = await add_member(db, org_a, role="viewer")
    await sign_in(browserless, a.coordinator)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{a.match_id}")
    token = csrf_of(page.text)
    for action in ("meeting-log/link", "meeting-log/revoke", "follow-up/clear"):
        r = await browserless.post(
            f"/o/{org_a.slug}/matches/{b.match_id}/{action}", data={"_csrf": token}, follow_redirects=False
        )
        assert r.status_code == 404, action
    await sign_in(browserless, viewer)
    page = await browserless.get(f"/o/{org_a.slug}/matches/{a.match_id}")
    assert page.status_code == 200 and "Treffen-Logbuch der:des Mentor:in" not in page.text
    r = await browserless.post(
        f"/o/{org_a.slug}/matches/{a.match_id}/meeting-log/link",
        data={"_csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 403
    async with db.tenant(org_b.id) as session:
        assert (await session.execute(select(MeetingLogLink))).first() is None
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(select(MeetingLogLink))).first() is None


async def test_the_api_sends_revokes_and_reads_signals_within_one_organisation(
    db: Database, settings: Settings, mailbox: Mailbox, client: AsyncTestClient[Any], org_a: Org, org_b: Org
) -> None:
    t = await tandem(db, org_a)
    a, b = MatchingApi(client, org_a), MatchingApi(client, org_b)
    base = f"/matches/{t.match_id}"
    assert (await a.call("POST", f"{base}/meeting-log/link", 201)) == {"sent": True}
    path = await link_from_mail(db, settings, mailbox, t.mentor_email)
    status = await a.call("GET", f"{base}/meeting-log", role=Role.VIEWER)
    assert (status["active"], status["sent"], status["unreachable"]) == (True, True, None)
    r = await client.post(path, data=form(worried="yes", worry_text="Nur für die Koordination"))
    assert r.status_code == 200  # followed to the thank-you page

    [signal] = await a.call("GET", f"{base}/concerns", role=Role.ADMIN)
    assert signal["confidential_text"] == "Nur für die Koordination"
    [hidden] = await a.call("GET", f"{base}/concerns", role=Role.COORDINATOR)
    assert hidden["confidential_text"] is None and hidden["summary"] == signal["summary"]
    await a.call("GET", f"{base}/concerns", 403, role=Role.REPORTER)

    # Organisation B knows nothing of A's tandem; a viewer of A may look but not act.
    for method, suffix in (
        ("GET", "/meeting-log"),
        ("POST", "/meeting-log/link"),
        ("DELETE", "/meeting-log/link"),
        ("GET", "/concerns"),
        ("DELETE", "/follow-up"),
    ):
        await b.call(method, f"{base}{suffix}", 404, role=Role.ADMIN)
    await a.call("POST", f"{base}/meeting-log/link", 403, role=Role.VIEWER)
    await a.call("DELETE", f"{base}/follow-up", 403, role=Role.VIEWER)

    flag = select(Match.follow_up_since).where(Match.id == t.match_id)
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(flag)).scalar() is not None
    await a.call("DELETE", f"{base}/follow-up", 204)
    async with db.tenant(org_a.id) as session:
        assert (await session.execute(flag)).scalar() is None
    await a.call("DELETE", f"{base}/meeting-log/link", 204)
    assert (await a.call("GET", f"{base}/meeting-log"))["active"] is False
    assert (await client.get(path)).status_code == 404
