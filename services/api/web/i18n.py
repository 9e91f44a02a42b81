"""The web layer's side of the one translator (:mod:`shared.i18n`).

The pages' catalogues live beside the web code: ``web/locale/`` for the shell and
``<domain>/locale/`` in each domain's home under ``services/api``. Importing this module adds
them to the translator, so pages, e-mails and domain errors share one lookup.
"""

from __future__ import annotations

from pathlib import Path

from shared.i18n import (
    DEFAULT_LOCALE,
    LANGUAGE_NAMES,
    LOCALES,
    add_catalogue_roots,
    clock,
    day,
    gettext,
    label,
    language_name,
    message,
    moment,
    ngettext,
    number,
    pgettext,
    pick,
    translations,
    translator,
)

WEB_ROOT = Path(__file__).resolve().parent
LOCALE_DIR = WEB_ROOT / "locale"
# Each domain's home under services/api may keep its own catalogues in ``<domain>/locale/``.
API_ROOT = WEB_ROOT.parent

add_catalogue_roots([WEB_ROOT, *sorted(p for p in API_ROOT.iterdir() if (p / "locale").is_dir())])


def _(message: str) -> str:
    """Marks a message for extraction where it is translated later (with :func:`gettext`)."""
    return message


__all__ = [
    "DEFAULT_LOCALE",
    "LANGUAGE_NAMES",
    "LOCALES",
    "LOCALE_DIR",
    "clock",
    "day",
    "gettext",
    "label",
    "language_name",
    "message",
    "moment",
    "ngettext",
    "number",
    "pgettext",
    "pick",
    "translations",
    "translator",
]
