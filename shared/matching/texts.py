"""Words a coordinator reads: language names, times of the week, the reasons behind a score.

Every word comes from the matching catalogue (German first, English second) or, for language
names, from babel. Reasons are built from facts, never from scores, so the same pair reads the
same in both languages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from babel import Locale as BabelLocale

from shared import i18n
from shared.i18n import N_

Locale = Literal["de", "en"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIMES = ("morning", "afternoon", "evening")
SLOTS = tuple(f"{d}-{t}" for d in DAYS for t in TIMES)
WEEKEND = frozenset(s for s in SLOTS if s.startswith(("sat", "sun")))

# The names of days, times of day and genders are message ids of the matching catalogue (the
# worker writes reasons too, without the pages' catalogues); language names come from babel.
_DAY_IDS = {
    "mon": N_("day:mon"),
    "tue": N_("day:tue"),
    "wed": N_("day:wed"),
    "thu": N_("day:thu"),
    "fri": N_("day:fri"),
    "sat": N_("day:sat"),
    "sun": N_("day:sun"),
}
_TIME_IDS = {
    "morning": N_("daytime:morning"),
    "afternoon": N_("daytime:afternoon"),
    "evening": N_("daytime:evening"),
}
GENDERS = {"female": N_("gender:female"), "male": N_("gender:male"), "diverse": N_("gender:diverse")}
# Languages babel has no name for.
_LANGUAGE_IDS = {"sgn": N_("sign language")}


def _t(locale: Locale, message: str, **params: Any) -> str:
    return i18n.gettext(locale, message, domain="matching", **params)


def language_name(code: str, locale: Locale) -> str:
    code = code.lower()
    if code in _LANGUAGE_IDS:
        return _t(locale, _LANGUAGE_IDS[code])
    return str(BabelLocale.parse(locale).languages.get(code, code))


def slot_name(slot: str, locale: Locale) -> str:
    day, _sep, time = slot.partition("-")
    day_name = _t(locale, _DAY_IDS[day]) if day in _DAY_IDS else day
    time_name = _t(locale, _TIME_IDS[time]) if time in _TIME_IDS else time
    return f"{day_name} {time_name}"


def gender_name(gender: str, locale: Locale) -> str:
    return _t(locale, GENDERS[gender]) if gender in GENDERS else gender


def join(items: Iterable[str], locale: Locale, *, limit: int = 4) -> str:
    """'A, B und C' / 'A, B and C', shortened with 'und 2 weitere' past ``limit``."""
    values = list(items)
    if len(values) > limit:
        rest = len(values) - (limit - 1)
        values = [*values[: limit - 1], _t(locale, "%(count)s more", count=rest)]
    if len(values) <= 1:
        return "".join(values)
    return _t(locale, "%(items)s and %(last)s", items=", ".join(values[:-1]), last=values[-1])


def km(value: float, locale: Locale) -> str:
    if value < 1:
        return _t(locale, "less than 1 km")
    return f"{round(value):d} km"


# Role words as coordinators say them ("Mentor:in" in German).
ROLE = {"mentor": N_("the mentor"), "mentee": N_("the mentee")}


def role_word(role: str, locale: Locale) -> str:
    return _t(locale, ROLE[role]) if role in ROLE else role
