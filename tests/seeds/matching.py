"""Matching: one row of each matching table, between a mentor and a mentee of the organisation."""

from __future__ import annotations

import secrets
from datetime import date

from shared.contacts.models import Contact
from shared.contacts.service import derive
from shared.db import Database
from shared.matching.models import (
    CheckIn,
    EndReason,
    Match,
    MatchConcern,
    MatchEvent,
    MatchingRun,
    MatchingRunPair,
    MatchingSettings,
    Meeting,
    MeetingLogEntry,
    MeetingLogLink,
)
from tests.conftest import Org


async def seed(db: Database, org: Org) -> None:
    async with db.tenant(org.id) as session:
        o = org.id
        mentor = Contact(
            organization_id=o, kinds=["mentor"], first_name="Max", last_name="Pate", status="ready"
        )
        mentee = Contact(
            organization_id=o, kinds=["mentee"], first_name="Ali", last_name="Kind", status="ready"
        )
        for c in (mentor, mentee):
            derive(c)
            session.add(c)
        session.add(MatchingSettings(organization_id=o, config={}, checkin_interval_days=14))
        reason = EndReason(
            organization_id=o, key="goal_reached", label_de="Ziel erreicht", label_en="Goal", early=False
        )
        run = MatchingRun(organization_id=o, status="done", mentee_ids=[], mentor_ids=[])
        session.add_all([reason, run])
        await session.flush()
        match = Match(
            organization_id=o,
            mentor_id=mentor.id,
            mentee_id=mentee.id,
            status="ended",
            proposed_on=date(2026, 1, 1),
            introduced_on=date(2026, 1, 5),
            started_on=date(2026, 1, 10),
            ended_on=date(2026, 6, 1),
            end_reason_id=reason.id,
            ended_early=False,
        )
        session.add(match)
        await session.flush()
        meeting = Meeting(
            organization_id=o,
            match_id=match.id,
            occurred_on=date(2026, 2, 2),
            duration_minutes=90,
            volunteer_minutes=120,
        )
        concern = MatchConcern(
            organization_id=o,
            match_id=match.id,
            source="meeting_log",
            summary="Etwas macht der Mentorin Sorgen",
            confidential_text="Seed words",
        )
        link = MeetingLogLink(organization_id=o, match_id=match.id, token_hash=secrets.token_bytes(32))
        session.add_all(
            [
                MatchingRunPair(
                    organization_id=o,
                    run_id=run.id,
                    mentee_id=mentee.id,
                    mentor_id=mentor.id,
                    score=1.0,
                    match_id=match.id,
                ),
                MatchEvent(
                    organization_id=o, match_id=match.id, to_status="proposed", occurred_on=date(2026, 1, 1)
                ),
                CheckIn(
                    organization_id=o,
                    match_id=match.id,
                    occurred_on=date(2026, 2, 1),
                    channel="phone",
                    rating=4,
                ),
                meeting,
                concern,
                link,
            ]
        )
        await session.flush()
        session.add(
            MeetingLogEntry(
                organization_id=o,
                meeting_id=meeting.id,
                match_id=match.id,
                link_id=link.id,
                rating=2,
                activities=["talk"],
                worried=True,
                concern_id=concern.id,
            )
        )
