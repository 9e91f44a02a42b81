"""Answering a questionnaire through a personal link: opening it, checking the answers, keeping
them with the exact wording, and passing signals on to the tandem's coordinator.

Opening a link writes nothing (mail scanners open every link); only sending the answers does,
once: the invitation is locked and marked as answered in the transaction that keeps them.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n, personal_links
from shared.errors import ValidationFailed
from shared.i18n import N_
from shared.ids import new_id
from shared.models import Organization
from shared.questionnaires.models import (
    QuestionnaireAnswer,
    QuestionnaireInvitation,
    QuestionnaireResponse,
    QuestionnaireSettings,
    QuestionnaireVersion,
)
from shared.questionnaires.schemas import LONG_TEXT_MAX, SHORT_TEXT_MAX, Content, Question, SettingsOut
from shared.questionnaires.service import decode_content

DOMAIN = "questionnaires"
YES = ("yes", "true", "1", "ja")
NO = ("no", "false", "0", "nein")

# Message ids of answers a person must correct, shown next to the question in their language.
REQUIRED = N_("Please answer this question.")
SCALE = N_("Please choose a value from 1 to 5.")
CHOICE = N_("Please choose one of the options.")
YES_NO = N_("Please answer yes or no.")
NUMBER = N_("Please enter a number.")
NUMBER_RANGE = N_("Please enter a number from %(min)s to %(max)s.")
TOO_LONG = N_("Please write at most %(max)s characters.")
UNKNOWN = N_("This questionnaire has no such question.")


@dataclass
class Opened:
    invitation: QuestionnaireInvitation
    content: Content
    # The organisation's threshold for a low rating (read with the invitation: one round trip less
    # when answering).
    low_rating_threshold: int = SettingsOut().low_rating_threshold


@dataclass(frozen=True)
class Problem:
    message: str
    params: dict[str, Any]

    def say(self, lang: str) -> str:
        return i18n.gettext(lang, self.message, domain=DOMAIN, **self.params)


class Refused(Exception):
    """Answers that cannot be kept, with a problem per question key; nothing was written."""

    def __init__(self, problems: dict[str, Problem]) -> None:
        super().__init__(", ".join(problems))
        self.problems = problems

    def as_validation(self) -> ValidationFailed:
        key, problem = next(iter(self.problems.items()))
        return ValidationFailed(problem.message, field=f"answers.{key}", **problem.params)


@dataclass(frozen=True)
class Value:
    number: float | None = None
    choices: tuple[str, ...] = ()
    text: str | None = None


# Versions that someone was sent a link to never change (editing makes the next version), so
# their decoded content can be kept: answering a link then reads no JSON.
_CONTENTS: dict[uuid.UUID, Content] = {}
_CONTENTS_MAX = 512


async def find(
    session: AsyncSession, token: personal_links.LinkToken, now: datetime, *, lock: bool = False
) -> Opened | None:
    """The open invitation a link names, or None: unknown, revoked, answered and expired alike."""
    threshold = select(QuestionnaireSettings.low_rating_threshold).scalar_subquery()
    query = select(QuestionnaireInvitation, threshold).where(
        # Named although the scope already limits it: the row-level policy is no index condition,
        # and both token indexes lead with the organisation.
        QuestionnaireInvitation.organization_id == token.organization_id,
        or_(
            QuestionnaireInvitation.token_hash == token.digest,
            QuestionnaireInvitation.reminder_token_hash == token.digest,
        ),
    )
    if lock:
        query = query.with_for_update()
    found = (await session.execute(query)).one_or_none()
    invitation, low = found if found is not None else (None, None)
    if (
        invitation is None
        or invitation.revoked_at is not None
        or invitation.submitted_at is not None
        or invitation.skipped is not None
        or invitation.expires_at <= now
    ):
        return None
    content = _CONTENTS.get(invitation.version_id)
    if content is None:
        raw = (
            await session.execute(
                select(QuestionnaireVersion.content).where(QuestionnaireVersion.id == invitation.version_id)
            )
        ).scalar_one()
        content = decode_content(raw)
        if len(_CONTENTS) >= _CONTENTS_MAX:
            _CONTENTS.clear()
        _CONTENTS[invitation.version_id] = content
    if low is None:
        return Opened(invitation=invitation, content=content)
    return Opened(invitation=invitation, content=content, low_rating_threshold=low)


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, list) and not raw)


def _one(q: Question, raw: Any) -> Value | Problem:
    """One answer from a form field (text, or a list for several choices) or a JSON value."""
    if q.type == "scale":
        if isinstance(raw, bool):
            return Problem(SCALE, {})
        try:
            n = int(str(raw).strip())
        except ValueError:
            return Problem(SCALE, {})
        return Value(number=n) if 1 <= n <= 5 else Problem(SCALE, {})
    if q.type == "yes_no":
        if isinstance(raw, bool):
            return Value(choices=("yes" if raw else "no",))
        word = str(raw).strip().lower()
        if word in YES:
            return Value(choices=("yes",))
        if word in NO:
            return Value(choices=("no",))
        return Problem(YES_NO, {})
    if q.type in ("single", "multiple"):
        keys = {o.key for o in q.options}
        picked = raw if isinstance(raw, list) else [raw]
        if not all(isinstance(p, str) and p in keys for p in picked):
            return Problem(CHOICE, {})
        if q.type == "single" and len(picked) != 1:
            return Problem(CHOICE, {})
        return Value(choices=tuple(dict.fromkeys(picked)))
    if q.type == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            return Problem(NUMBER, {})
        try:
            amount = float(str(raw).strip().replace(",", "."))
        except ValueError:
            return Problem(NUMBER, {})
        if not math.isfinite(amount) or abs(amount) >= 1e10:
            return Problem(NUMBER, {})
        low = q.min if q.min is not None else -1e10
        high = q.max if q.max is not None else 1e10
        if not low <= amount <= high:
            return Problem(NUMBER_RANGE, {"min": _num(low), "max": _num(high)})
        return Value(number=amount)
    # short and long text
    if not isinstance(raw, str):
        return Problem(REQUIRED, {})
    limit = SHORT_TEXT_MAX if q.type == "short_text" else LONG_TEXT_MAX
    value = raw.replace("\r\n", "\n").strip()
    if len(value) > limit:
        return Problem(TOO_LONG, {"max": limit})
    if "\x00" in value:
        return Problem(REQUIRED, {})
    return Value(text=value)


def _num(value: float) -> int | float:
    return int(value) if value == int(value) else value


def check(content: Content, raw: dict[str, Any], *, strict: bool) -> dict[str, Value]:
    """Every answer checked against its question; :class:`Refused` names each one to correct.

    ``strict`` (the API) refuses keys the questionnaire does not have; a form simply has none.
    """
    problems: dict[str, Problem] = {}
    values: dict[str, Value] = {}
    known = {q.key for q in content.questions}
    if strict:
        for key in raw:
            if key not in known:
                problems[key] = Problem(UNKNOWN, {})
    for q in content.questions:
        given = raw.get(q.key)
        if _blank(given):
            if q.required:
                problems[q.key] = Problem(REQUIRED, {})
            continue
        result = _one(q, given)
        if isinstance(result, Problem):
            problems[q.key] = result
        elif result.text == "" and q.required:
            problems[q.key] = Problem(REQUIRED, {})
        elif result.text != "":
            values[q.key] = result
    if problems:
        raise Refused(problems)
    return values


def signals_of(content: Content, values: dict[str, Value], threshold: int) -> list[str]:
    found: list[str] = []
    for q in content.questions:
        v = values.get(q.key)
        if v is None or q.signal is None:
            continue
        if q.signal == "worry" and v.choices == ("yes",):
            found.append("worry")
        elif q.signal == "low_rating" and v.number is not None and v.number <= threshold:
            found.append("low_rating")
        elif q.signal == "would_not_continue" and v.choices == ("no",):
            found.append("would_not_continue")
    return list(dict.fromkeys(found))


def rating_of(content: Content, values: dict[str, Value]) -> int | None:
    for q in content.questions:
        v = values.get(q.key)
        if q.type == "scale" and q.signal == "low_rating" and v is not None and v.number is not None:
            return int(v.number)
    return None


def worry_text(content: Content, values: dict[str, Value]) -> str:
    """The confidential free text that goes with a signal (for the coordinator's task only)."""
    parts = [values[q.key].text or "" for q in content.questions if q.confidential and q.key in values]
    return "\n\n".join(p for p in parts if p)


@dataclass
class Submitted:
    response: QuestionnaireResponse
    signals: list[str]
    worry: str


async def submit(
    session: AsyncSession, opened: Opened, raw: dict[str, Any], lang: str, now: datetime, *, strict: bool
) -> Submitted:
    """Keep the answers of an open invitation (locked by :func:`find` with ``lock=True``)."""
    values = check(opened.content, raw, strict=strict)
    inv = opened.invitation
    signals = signals_of(opened.content, values, opened.low_rating_threshold)
    response = QuestionnaireResponse(
        organization_id=inv.organization_id,
        id=new_id(),
        invitation_id=inv.id,
        questionnaire_id=inv.questionnaire_id,
        version_id=inv.version_id,
        match_id=inv.match_id,
        contact_id=inv.contact_id,
        audience=inv.audience,
        phase=inv.phase,
        lang=lang,
        signals=signals,
        rating=rating_of(opened.content, values),
        submitted_at=now,
    )
    session.add(response)
    inv.submitted_at = now
    await session.flush()
    rows = [
        {
            "organization_id": inv.organization_id,
            "id": new_id(),
            "response_id": response.id,
            "question_key": q.key,
            "question_type": q.type,
            "wording": q.text.say(lang, inv.form_of_address),
            "number": values[q.key].number,
            "choices": list(values[q.key].choices),
            "text_value": values[q.key].text,
            "confidential": q.confidential,
        }
        for q in opened.content.questions
        if q.key in values
    ]
    if rows:
        # One statement for all answers (Core: the ORM's unit of work adds nothing here).
        await session.execute(insert(cast(Table, QuestionnaireAnswer.__table__)), rows)
    return Submitted(response=response, signals=signals, worry=worry_text(opened.content, values))


async def answer(
    session: AsyncSession,
    org: Organization | None,
    token: personal_links.LinkToken,
    raw: dict[str, Any],
    lang: str | None,
    now: datetime,
    *,
    strict: bool,
    public_url: str,
) -> Submitted | None:
    """Answer the questionnaire a link opens; None when the link is not (or no longer) open."""
    from shared.questionnaires import signals

    opened = await find(session, token, now, lock=True)
    if opened is None:
        return None
    submitted = await submit(session, opened, raw, lang or opened.invitation.lang, now, strict=strict)
    if submitted.signals:
        # Only a signal needs the organisation (for the link in the coordinator's message).
        org = org or await session.get(Organization, opened.invitation.organization_id)
        assert org is not None
        await signals.pass_on(session, org, opened, submitted, now, public_url)
    return submitted
