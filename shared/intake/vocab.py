"""The fixed vocabularies of intake; the texts people read are message ids of its catalogue."""

from __future__ import annotations

import calendar
from datetime import date
from zoneinfo import ZoneInfo

from shared import i18n
from shared.clock import today as today
from shared.i18n import N_

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

# The name a new step of each kind starts with, as message ids of the intake catalogue.
STEP_LABELS = {
    "interview": N_("First interview"),
    "seminar": N_("Preparation seminar"),
    "certificate": N_("Extended criminal-record certificate"),
    "references": N_("References"),
    "agreement": N_("Signed agreement"),
    "other": N_("Further step"),
}

# Why a person is not ready yet, as message ids of the intake catalogue.
_REASONS = {
    "missing": N_("“%(step)s” (%(programme)s) is still missing"),
    "failed": N_("“%(step)s” (%(programme)s) was not passed"),
    "certificate_due": N_(
        "The extended criminal-record certificate must be inspected again (due since %(due)s)"
    ),
    "child_protection": N_("Not cleared for matching for child-protection reasons"),
    "unknown": N_("Contact not found"),
}


def language(locale: str | None) -> str:
    return "en" if (locale or "")[:2].lower() == "en" else "de"


def day_text(value: date, lang: str) -> str:
    """26.11.2026 in German, Nov 26, 2026 in English."""
    return i18n.day(language(lang), value)


def step_label(kind: str, lang: str) -> str:
    return i18n.gettext(language(lang), STEP_LABELS[kind], domain="intake")


def reason(key: str, lang: str, **params: str) -> str:
    return i18n.gettext(language(lang), _REASONS[key], domain="intake", **params)


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later (the last day of the month where that day does not exist)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
