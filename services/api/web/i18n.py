"""Message catalogs: German first, English second.

The catalogs are the ``.po`` files under ``locale/<language>/LC_MESSAGES/``: ``messages.po``
for the shell and one file per domain (``tasks.po``, ``contacts.po``, ...) that its pages add.
They are compiled in memory on first use, so a fresh clone needs no build step. Message ids are
English; the English catalogs only override where wording differs.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Each domain's home under services/api may keep its own catalogues in ``<domain>/locale/``.
API_ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("de", "en")
DEFAULT_LOCALE = "de"
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}


@cache
def translations(locale: str) -> Translations:
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    files = sorted(folder.glob("*.po"), key=lambda p: (p.stem != "messages", p.name))
    files += sorted(API_ROOT.glob(f"*/locale/{locale}/LC_MESSAGES/*.po"))
    merged: Translations | None = None
    for po in files:
        with po.open("rb") as f:
            catalog = read_po(f, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        part = Translations(fp=buffer)
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    return merged or Translations()


def gettext(locale: str, message: str) -> str:
    return str(translations(locale).gettext(message))


def ngettext(locale: str, singular: str, plural: str, n: int) -> str:
    return str(translations(locale).ngettext(singular, plural, n))


def pick(value: str | None) -> str | None:
    """A supported locale from a cookie or a user's preference, else None."""
    if value and value[:2].lower() in LOCALES:
        return value[:2].lower()
    return None


def _(message: str) -> str:
    """Marks a message for extraction where it is translated later (with :func:`gettext`)."""
    return message
