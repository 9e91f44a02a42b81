"""Words a coordinator reads: language names, times of the week, the reasons behind a score.

German first, English second. Reasons are built from facts, never from scores, so the
same pair reads the same in both languages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Locale = Literal["de", "en"]

# ISO 639-1 codes common in German mentoring programmes.
LANGUAGES: dict[str, tuple[str, str]] = {
    "de": ("Deutsch", "German"),
    "en": ("Englisch", "English"),
    "ar": ("Arabisch", "Arabic"),
    "tr": ("Türkisch", "Turkish"),
    "fa": ("Persisch", "Persian"),
    "ps": ("Paschtu", "Pashto"),
    "ku": ("Kurdisch", "Kurdish"),
    "ru": ("Russisch", "Russian"),
    "uk": ("Ukrainisch", "Ukrainian"),
    "pl": ("Polnisch", "Polish"),
    "ro": ("Rumänisch", "Romanian"),
    "bg": ("Bulgarisch", "Bulgarian"),
    "sr": ("Serbisch", "Serbian"),
    "hr": ("Kroatisch", "Croatian"),
    "bs": ("Bosnisch", "Bosnian"),
    "sq": ("Albanisch", "Albanian"),
    "mk": ("Mazedonisch", "Macedonian"),
    "el": ("Griechisch", "Greek"),
    "fr": ("Französisch", "French"),
    "es": ("Spanisch", "Spanish"),
    "it": ("Italienisch", "Italian"),
    "pt": ("Portugiesisch", "Portuguese"),
    "nl": ("Niederländisch", "Dutch"),
    "ti": ("Tigrinya", "Tigrinya"),
    "am": ("Amharisch", "Amharic"),
    "so": ("Somali", "Somali"),
    "sw": ("Suaheli", "Swahili"),
    "ha": ("Hausa", "Hausa"),
    "yo": ("Yoruba", "Yoruba"),
    "ur": ("Urdu", "Urdu"),
    "hi": ("Hindi", "Hindi"),
    "bn": ("Bengalisch", "Bengali"),
    "pa": ("Panjabi", "Punjabi"),
    "ta": ("Tamil", "Tamil"),
    "vi": ("Vietnamesisch", "Vietnamese"),
    "zh": ("Chinesisch", "Chinese"),
    "ja": ("Japanisch", "Japanese"),
    "ko": ("Koreanisch", "Korean"),
    "th": ("Thailändisch", "Thai"),
    "hy": ("Armenisch", "Armenian"),
    "ka": ("Georgisch", "Georgian"),
    "az": ("Aserbaidschanisch", "Azerbaijani"),
    "ce": ("Tschetschenisch", "Chechen"),
    "he": ("Hebräisch", "Hebrew"),
    "hu": ("Ungarisch", "Hungarian"),
    "cs": ("Tschechisch", "Czech"),
    "sk": ("Slowakisch", "Slovak"),
    "sl": ("Slowenisch", "Slovenian"),
    "lt": ("Litauisch", "Lithuanian"),
    "lv": ("Lettisch", "Latvian"),
    "et": ("Estnisch", "Estonian"),
    "fi": ("Finnisch", "Finnish"),
    "sv": ("Schwedisch", "Swedish"),
    "da": ("Dänisch", "Danish"),
    "no": ("Norwegisch", "Norwegian"),
    "sgn": ("Gebärdensprache", "sign language"),
}

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIMES = ("morning", "afternoon", "evening")
SLOTS = tuple(f"{d}-{t}" for d in DAYS for t in TIMES)
WEEKEND = frozenset(s for s in SLOTS if s.startswith(("sat", "sun")))

_DAY_NAMES = {
    "de": dict(zip(DAYS, ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"), strict=True)),
    "en": dict(zip(DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True)),
}
_TIME_NAMES = {
    "de": {"morning": "vormittags", "afternoon": "nachmittags", "evening": "abends"},
    "en": {"morning": "morning", "afternoon": "afternoon", "evening": "evening"},
}

GENDERS: dict[str, tuple[str, str]] = {
    "female": ("weiblich", "female"),
    "male": ("männlich", "male"),
    "diverse": ("divers", "diverse"),
}


def language_name(code: str, locale: Locale) -> str:
    names = LANGUAGES.get(code.lower())
    return names[0 if locale == "de" else 1] if names else code


def slot_name(slot: str, locale: Locale) -> str:
    day, _, time = slot.partition("-")
    return f"{_DAY_NAMES[locale].get(day, day)} {_TIME_NAMES[locale].get(time, time)}"


def gender_name(gender: str, locale: Locale) -> str:
    names = GENDERS.get(gender)
    return names[0 if locale == "de" else 1] if names else gender


def join(items: Iterable[str], locale: Locale, *, limit: int = 4) -> str:
    """'A, B und C' / 'A, B and C', shortened with 'und 2 weitere' past ``limit``."""
    values = list(items)
    conj = " und " if locale == "de" else " and "
    if len(values) > limit:
        rest = len(values) - (limit - 1)
        more = f"{rest} weitere" if locale == "de" else f"{rest} more"
        return ", ".join(values[: limit - 1]) + conj + more
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + conj + values[-1]


def km(value: float, locale: Locale) -> str:
    if value < 1:
        return "weniger als 1 km" if locale == "de" else "less than 1 km"
    return f"{round(value):d} km"


# Role words as coordinators say them.
ROLE = {
    "de": {"mentor": "Mentor:in", "mentee": "Mentee"},
    "en": {"mentor": "the mentor", "mentee": "the mentee"},
}
