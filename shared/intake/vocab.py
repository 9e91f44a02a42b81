"""The fixed vocabularies of intake and the texts people read, in German and English."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

from shared import i18n

STEP_KINDS = ("interview", "seminar", "certificate", "references", "agreement", "other")
OUTCOMES = ("passed", "failed")
APPLIES_TO = ("mentor", "mentee", "guardian")
INTAKE_STATUSES = ("new", "declined_child_protection")
FORMS_OF_ADDRESS = ("du", "sie")
EVENT_KINDS = ("workshop", "regulars", "outing", "training")
ATTENDANCE = ("invited", "confirmed", "present", "absent")
AUDIENCES = ("mentor", "mentee")
LOCALES = ("de", "en")

# The usual interval after which an extended certificate is inspected again (five years).
DEFAULT_CERTIFICATE_MONTHS = 60
# A re-inspection reminder is created this many days before the certificate runs out.
REMINDER_LEAD_DAYS = 28

ZONE = ZoneInfo("Europe/Berlin")

STEP_LABELS = {
    "interview": ("Erstgespräch", "First interview"),
    "seminar": ("Vorbereitungsseminar", "Preparation seminar"),
    "certificate": ("Erweitertes Führungszeugnis", "Extended criminal-record certificate"),
    "references": ("Referenzen", "References"),
    "agreement": ("Unterschriebene Vereinbarung", "Signed agreement"),
    "other": ("Weiterer Schritt", "Further step"),
}

_REASONS = {
    "missing": ("„{step}“ ({programme}) fehlt noch", "“{step}” ({programme}) is still missing"),
    "failed": ("„{step}“ ({programme}) nicht bestanden", "“{step}” ({programme}) was not passed"),
    "certificate_due": (
        "Das erweiterte Führungszeugnis muss erneut eingesehen werden (fällig seit {due})",
        "The extended criminal-record certificate must be inspected again (due since {due})",
    ),
    "child_protection": (
        "Aus Gründen des Kinderschutzes nicht für die Vermittlung freigegeben",
        "Not cleared for matching for child-protection reasons",
    ),
    "unknown": ("Kontakt nicht gefunden", "Contact not found"),
}


def language(locale: str | None) -> str:
    return "en" if (locale or "")[:2].lower() == "en" else "de"


def day_text(value: date, lang: str) -> str:
    """26.11.2026 in German, Nov 26, 2026 in English."""
    return i18n.day(language(lang), value)


def reason(key: str, lang: str, **params: str) -> str:
    de, en = _REASONS[key]
    return (en if lang == "en" else de).format(**params)


def today() -> date:
    return datetime.now(ZONE).date()


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later (the last day of the month where that day does not exist)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
