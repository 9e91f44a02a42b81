"""Answers where they are needed: a tandem's answers for its timeline, and the latest rating of
each side for the match page. Confidential answers (a worry in the person's own words) are shown
to admins and the tandem's coordinator only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor
from shared.errors import NotFound
from shared.i18n import N_
from shared.matching.concerns import may_read_confidential, responsible_coordinator
from shared.matching.models import Match
from shared.questionnaires.models import QuestionnaireAnswer, QuestionnaireResponse, QuestionnaireVersion
from shared.questionnaires.schemas import AnswerOut, ResponseOut
from shared.questionnaires.service import decode_content


async def _match(session: AsyncSession, match_id: uuid.UUID) -> Match:
    found = (await session.execute(select(Match).where(Match.id == match_id))).scalar_one_or_none()
    if found is None:
        raise NotFound(N_("no such match"))
    return found


def _value(a: QuestionnaireAnswer) -> object:
    if a.question_type in ("scale", "number"):
        n = a.number
        return int(n) if n is not None and n == int(n) else n
    if a.question_type in ("single", "yes_no"):
        return a.choices[0] if a.choices else None
    if a.question_type == "multiple":
        return list(a.choices)
    return a.text_value


async def for_match(session: AsyncSession, match_id: uuid.UUID, actor: Actor, lang: str) -> list[ResponseOut]:
    match = await _match(session, match_id)
    readable = may_read_confidential(actor, await responsible_coordinator(session, match))
    return await _responses(session, QuestionnaireResponse.match_id == match_id, lambda _: readable, lang)


async def for_contact(
    session: AsyncSession, contact_id: uuid.UUID, actor: Actor, lang: str
) -> list[ResponseOut]:
    """The answers given in every tandem the person is (or was) in, by anyone in it, newest first:
    a person's page shows what their tandem said. Confidential answers as on the match page."""
    own = select(QuestionnaireResponse.match_id).where(QuestionnaireResponse.contact_id == contact_id)
    tandems = (
        await session.execute(
            select(Match).where(
                (Match.mentor_id == contact_id) | (Match.mentee_id == contact_id) | Match.id.in_(own)
            )
        )
    ).scalars()
    readable = {}
    for m in tandems:
        readable[m.id] = may_read_confidential(actor, await responsible_coordinator(session, m))
    # A guardian answers for a mentee's tandem without being in it: only their own answers show.
    where = (
        QuestionnaireResponse.match_id.in_(
            select(Match.id).where((Match.mentor_id == contact_id) | (Match.mentee_id == contact_id))
        )
    ) | (QuestionnaireResponse.contact_id == contact_id)
    return await _responses(session, where, lambda m: readable.get(m, False), lang, limit=200)


async def _responses(
    session: AsyncSession,
    where: ColumnElement[bool],
    readable: Callable[[uuid.UUID], bool],
    lang: str,
    *,
    limit: int | None = None,
) -> list[ResponseOut]:
    query = (
        select(QuestionnaireResponse, QuestionnaireVersion)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == QuestionnaireResponse.version_id)
        .where(where)
        .order_by(QuestionnaireResponse.submitted_at.desc(), QuestionnaireResponse.id)
    )
    if limit is not None:
        query = query.limit(limit)
    responses = (await session.execute(query)).all()
    ids = [r.id for r, _ in responses]
    by_response: dict[uuid.UUID, list[QuestionnaireAnswer]] = {}
    if ids:
        for a in (
            await session.execute(
                select(QuestionnaireAnswer)
                .where(QuestionnaireAnswer.response_id.in_(ids))
                .order_by(QuestionnaireAnswer.response_id, QuestionnaireAnswer.id)
            )
        ).scalars():
            by_response.setdefault(a.response_id, []).append(a)
    out = []
    for r, v in responses:
        content = decode_content(v.content)
        answers = [
            AnswerOut(
                key=a.question_key,
                type=a.question_type,
                question=a.wording,
                value=_value(a),
                confidential=a.confidential,
            )
            for a in by_response.get(r.id, [])
            if not a.confidential or readable(r.match_id)
        ]
        out.append(
            ResponseOut(
                id=r.id,
                questionnaire_id=r.questionnaire_id,
                version=v.number,
                title=content.title.say(lang),
                match_id=r.match_id,
                audience=r.audience,
                phase=r.phase,
                submitted_at=r.submitted_at,
                signals=list(r.signals),
                answers=answers,
            )
        )
    return out


@dataclass(frozen=True)
class Rating:
    side: str  # mentor | mentee (a mentee's guardian speaks for the mentee's side)
    value: int
    submitted_at: datetime


async def latest_ratings(session: AsyncSession, match_id: uuid.UUID) -> dict[str, Rating]:
    rows = await session.execute(
        select(
            QuestionnaireResponse.audience, QuestionnaireResponse.rating, QuestionnaireResponse.submitted_at
        )
        .where(QuestionnaireResponse.match_id == match_id, QuestionnaireResponse.rating.is_not(None))
        .order_by(QuestionnaireResponse.submitted_at.desc())
    )
    out: dict[str, Rating] = {}
    for audience, rating, at in rows.all():
        side = "mentor" if audience == "mentor" else "mentee"
        if side not in out and rating is not None:
            out[side] = Rating(side=side, value=int(rating), submitted_at=at)
    return out
