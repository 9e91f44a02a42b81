"""Reading values as people write them: dates, languages, names, lists."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from shared import clock
from shared.contacts.vocab import LANGUAGE_NAMES, LANGUAGES
from shared.errors import InvalidValue

_EXCEL_EPOCH = date(1899, 12, 30)
_GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_date(value: Any, *, lenient: bool = True) -> date:
    """ISO dates always; leniently also 01.02.2010, 1.2.10, 01/02/2010 (day first) and Excel serials."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if lenient and isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:
            return _EXCEL_EPOCH + timedelta(days=int(value))
        raise InvalidValue("%(value)r is not a date", value=value)
    if not isinstance(value, str):
        raise InvalidValue("a date YYYY-MM-DD is expected")
    text = value.strip()
    try:
        if match := _ISO_DATE.match(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if lenient:
            if match := _GERMAN_DATE.match(text):
                year = int(match[3])
                if year < 100:
                    # Two-digit years: a birth date is never in the future.
                    year += 2000 if year <= clock.today().year % 100 else 1900
                return date(year, int(match[2]), int(match[1]))
            if match := _SLASH_DATE.match(text):
                return date(int(match[3]), int(match[2]), int(match[1]))
            if re.fullmatch(r"\d{5}(\.0+)?", text):
                return _EXCEL_EPOCH + timedelta(days=int(float(text)))
    except ValueError:
        raise InvalidValue("%(value)r is not a valid date", value=value) from None
    if lenient:
        raise InvalidValue("%(value)r is not a date (YYYY-MM-DD or DD.MM.YYYY)", value=value)
    raise InvalidValue("%(value)r is not a date (YYYY-MM-DD)", value=value)


def split_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in re.split(r"[;,/|]| und | and ", str(value)) if p.strip()]


def parse_language(value: str) -> str:
    """An ISO 639-1 code from a code or a language's German or English name."""
    lowered = value.strip().lower()
    if lowered in LANGUAGES:
        return lowered
    if lowered in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[lowered]
    raise InvalidValue("%(value)r is not a language (ISO 639-1 code such as de, ar, uk)", value=value)


def split_name(full: str) -> tuple[str, str]:
    """'Nachname, Vorname' or 'Vorname Nachname' (the last word is the family name)."""
    text = " ".join(full.split())
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip(), last.strip()
    if " " not in text:
        return "", text
    first, _, last = text.rpartition(" ")
    return first, last
