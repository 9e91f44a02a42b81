"""Signals in answers (a worry, a low rating, "would not go on") reach the tandem's coordinator
through matching's one door for them, in the transaction that keeps the answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared import i18n
from shared.actor import Actor
from shared.i18n import N_
from shared.matching.concerns import raise_concern
from shared.models import Organization
from shared.questionnaires.answers import Opened, Submitted
from shared.questionnaires.sending import local_day

SOURCE = "questionnaire"
DOMAIN = "questionnaires"
_LABELS = {
    "worry": N_("something worries them"),
    "low_rating": N_("low rating"),
    "would_not_continue": N_("would not take part again"),
}
_AUDIENCE = {"mentor": N_("mentor"), "mentee": N_("mentee"), "guardian": N_("guardian")}
_SUMMARY = N_("Questionnaire “%(title)s” (%(who)s): %(signals)s")


def summary(opened: Opened, signals: list[str], lang: str = "de") -> str:
    def t(message: str, **params: object) -> str:
        return i18n.gettext(lang, message, domain=DOMAIN, **params)

    text = t(
        _SUMMARY,
        title=opened.content.title.say(lang),
        who=t(_AUDIENCE[opened.invitation.audience]),
        signals=", ".join(t(_LABELS[s]) for s in signals),
    )
    return text[:300]


async def pass_on(
    session: AsyncSession,
    org: Organization,
    opened: Opened,
    submitted: Submitted,
    now: datetime,
    public_url: str,
) -> None:
    if not submitted.signals:
        return
    actor = Actor.system("questionnaire answer", org_id=org.id, slug=org.slug, public_url=public_url)
    await raise_concern(
        session,
        match_id=opened.invitation.match_id,
        source=SOURCE,
        summary=summary(opened, submitted.signals),
        confidential_text=submitted.worry or None,
        actor=actor,
        today=local_day(now),
    )
