"""Figures of a questionnaire's scale answers, per question and version: how many answered, the
average and the distribution, the change from "before" to "after" for impact questions, and the
response rate. Counts of fewer than three people read "< 3", and an average over fewer than three
answers is not shown, as everywhere in reporting; free text never appears here.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.questionnaires.models import (
    QuestionnaireAnswer,
    QuestionnaireInvitation,
    QuestionnaireResponse,
    QuestionnaireVersion,
)
from shared.questionnaires.schemas import ReportOut, ScaleFigure, VersionFigures
from shared.questionnaires.service import decode_content, get
from shared.reporting.schemas import PEOPLE, suppress_value

MIN_COUNT = 3


def _count(n: int) -> int | str:
    value = suppress_value(n, PEOPLE)
    return value if isinstance(value, int | str) else n


def _mean(total: float, n: int) -> float | None:
    return round(total / n, 2) if n >= MIN_COUNT else None


async def report(session: AsyncSession, questionnaire_id: uuid.UUID, lang: str) -> ReportOut:
    q = await get(session, questionnaire_id, lang)
    versions = (
        await session.execute(
            select(QuestionnaireVersion)
            .where(QuestionnaireVersion.questionnaire_id == questionnaire_id)
            .order_by(QuestionnaireVersion.number)
        )
    ).scalars()
    invited = dict(
        (
            await session.execute(
                select(QuestionnaireInvitation.version_id, func.count())
                .where(
                    QuestionnaireInvitation.questionnaire_id == questionnaire_id,
                    QuestionnaireInvitation.skipped.is_(None),
                )
                .group_by(QuestionnaireInvitation.version_id)
            )
        ).all()
    )
    responded = dict(
        (
            await session.execute(
                select(QuestionnaireResponse.version_id, func.count())
                .where(QuestionnaireResponse.questionnaire_id == questionnaire_id)
                .group_by(QuestionnaireResponse.version_id)
            )
        ).all()
    )
    # (version, question, phase, value) -> answers
    rows = await session.execute(
        select(
            QuestionnaireResponse.version_id,
            QuestionnaireAnswer.question_key,
            QuestionnaireResponse.phase,
            QuestionnaireAnswer.number,
            func.count(),
        )
        .join(QuestionnaireResponse, QuestionnaireResponse.id == QuestionnaireAnswer.response_id)
        .where(
            QuestionnaireResponse.questionnaire_id == questionnaire_id,
            QuestionnaireAnswer.question_type == "scale",
        )
        .group_by(
            QuestionnaireResponse.version_id,
            QuestionnaireAnswer.question_key,
            QuestionnaireResponse.phase,
            QuestionnaireAnswer.number,
        )
    )
    counts: dict[tuple[uuid.UUID, str], dict[tuple[str | None, int], int]] = defaultdict(dict)
    for version_id, key, phase, number, n in rows.all():
        if number is not None:
            counts[(version_id, key)][(phase, int(number))] = int(n)
    out: list[VersionFigures] = []
    for v in versions:
        content = decode_content(v.content)
        figures: list[ScaleFigure] = []
        for question in content.questions:
            if question.type != "scale":
                continue
            by = counts.get((v.id, question.key), {})
            distribution = [sum(n for (_, value), n in by.items() if value == k) for k in range(1, 6)]
            n = sum(distribution)
            total = sum(value * c for (_, value), c in by.items())

            def phase_mean(phase: str, by: dict[tuple[str | None, int], int] = by) -> float | None:
                m = sum(c for (p, _), c in by.items() if p == phase)
                return _mean(sum(value * c for (p, value), c in by.items() if p == phase), m)

            before, after = phase_mean("before"), phase_mean("after")
            figures.append(
                ScaleFigure(
                    question_key=question.key,
                    question=question.text.say(lang),
                    answers=_count(n),
                    average=_mean(total, n),
                    distribution=[_count(c) for c in distribution],
                    before=before,
                    after=after,
                    change=round(after - before, 2) if before is not None and after is not None else None,
                )
            )
        sent = int(invited.get(v.id, 0))
        answered = int(responded.get(v.id, 0))
        out.append(
            VersionFigures(
                version=v.number,
                invited=_count(sent),
                responded=_count(answered),
                response_rate=round(answered / sent, 3)
                if sent >= MIN_COUNT and answered >= MIN_COUNT
                else None,
                questions=figures,
            )
        )
    return ReportOut(questionnaire_id=q.id, title=q.title, versions=out)
