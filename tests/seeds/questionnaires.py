"""Questionnaires: settings, a questionnaire with a version and a schedule, an invitation to a
tandem's mentor with a response and an answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared import personal_links
from shared.contacts.models import Contact
from shared.contacts.service import derive
from shared.db import Database
from shared.matching.models import Match
from shared.questionnaires.models import (
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnaireInvitation,
    QuestionnaireResponse,
    QuestionnaireSchedule,
    QuestionnaireSettings,
    QuestionnaireVersion,
)
from shared.questionnaires.service import encode_content
from shared.questionnaires.templates import CHECKIN
from tests.conftest import Org


async def seed(db: Database, org: Org) -> None:
    o = org.id
    now = datetime.now(UTC)
    async with db.tenant(o) as session:
        mentor = Contact(organization_id=o, kinds=["mentor"], first_name="Quinn", last_name="Frage")
        mentee = Contact(organization_id=o, kinds=["mentee"], first_name="Rita", last_name="Frage")
        for c in (mentor, mentee):
            derive(c)
        session.add_all([mentor, mentee, QuestionnaireSettings(organization_id=o)])
        await session.flush()
        match = Match(
            organization_id=o, mentor_id=mentor.id, mentee_id=mentee.id, status="active",
            started_on=date(2026, 3, 1),
        )  # fmt: skip
        q = Questionnaire(organization_id=o, kind="checkin", template="checkin")
        session.add_all([match, q])
        await session.flush()
        v = QuestionnaireVersion(
            organization_id=o, questionnaire_id=q.id, number=1, content=encode_content(CHECKIN)
        )
        s = QuestionnaireSchedule(
            organization_id=o, questionnaire_id=q.id, audience="mentor", trigger="during", after_days=30,
            every_days=60,
        )  # fmt: skip
        session.add_all([v, s])
        await session.flush()
        _, digest = personal_links.issue(o)
        i = QuestionnaireInvitation(
            organization_id=o, questionnaire_id=q.id, version_id=v.id, schedule_id=s.id, match_id=match.id,
            contact_id=mentor.id, audience="mentor", token_hash=digest, expires_at=now + timedelta(days=21),
            sent_at=now, submitted_at=now,
        )  # fmt: skip
        session.add(i)
        await session.flush()
        r = QuestionnaireResponse(
            organization_id=o, invitation_id=i.id, questionnaire_id=q.id, version_id=v.id, match_id=match.id,
            contact_id=mentor.id, audience="mentor", lang="de", rating=4,
        )  # fmt: skip
        session.add(r)
        await session.flush()
        session.add(
            QuestionnaireAnswer(
                organization_id=o, response_id=r.id, question_key="satisfaction", question_type="scale",
                wording="Wie zufrieden bist du mit dem Tandem?", number=4,
            )
        )  # fmt: skip
