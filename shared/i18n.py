"""The one translator: pages, e-mails and domain error messages, German first, English second.

Catalogues are gettext ``.po`` files, one per domain, in a ``locale/<language>/LC_MESSAGES/``
folder beside the code whose texts they hold:

- ``shared/<domain>/locale/…/<domain>.po``: the domain's error messages and e-mails (the
  worker builds e-mails, so these live in ``shared``); ``shared/locale/…/platform.po`` for the
  modules directly in ``shared/``;
- page catalogues in the web layer (``services/api/<domain>/locale/…``), which registers its
  folders with :func:`add_catalogue_roots` (``shared`` never imports ``services``).

Message ids are the English texts with named ``%(name)s`` placeholders. ``pybabel extract``
(``babel.cfg`` at the repository root, ``infra/scripts/catalogues.sh``) collects them; the
``.po`` files are compiled in memory on first use, so a fresh clone needs no build step. The
English catalogues list every id too (an empty translation means "as the id says"), so the
catalogue test can tell a forgotten message from an English one.

A text used by several domains may read differently in one of them ("done" is "erledigt" for a
task and "fertig" for a matching run): a translator for a domain looks in that domain's
catalogues first, then in all the others.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LOCALES = ("de", "en")
DEFAULT_LOCALE = "de"
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}
# The catalogue of the shell (navigation, sign-in, errors of the platform) comes first.
BASE_DOMAIN = "messages"

SHARED_ROOT = Path(__file__).resolve().parent
_roots: list[Path] = [SHARED_ROOT, *sorted(p for p in SHARED_ROOT.iterdir() if (p / "locale").is_dir())]

# Parameters of a domain error that list the keys a value may take ("workshop, regulars, …"):
# the API's English detail keeps the keys, a page shows their labels ("Workshop, Stammtisch …
# oder Schulung"). The value is the vocabulary whose "<vocabulary>:<key>" labels come first.
LISTED_PARAMS: dict[str, str | None] = {
    "event_kinds": None,
    "match_statuses": "match-status",
    "statuses": "status",
    "intake_statuses": "status",
    "kinds": "kind",
    "applies_to": "kind",
    "audiences": "kind",
    "link_kinds": "link",
    "activity_kinds": "activity",
    "consent_statuses": "consent",
    "field_types": "type",
    "attendance": None,
    "step_kinds": None,
    "outcomes": None,
    "roles": None,
}

# Parameters of a domain error that hold a vocabulary key (a role, a status), shown by its label.
LABELLED_PARAMS = frozenset(
    {"role", "role2", "wanted", "new_role", "permission", "status", "was", "to", "kind", "who"}
)


# The programmes codo serves keep German wall-clock time.
DISPLAY_ZONE = ZoneInfo("Europe/Berlin")


def day(locale: str, value: date | datetime | str | None) -> str:
    """A calendar day as people write it: 26.11.2026 in German, Nov 26, 2026 in English."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = _parse(value)
        if isinstance(value, str):
            return value
    if isinstance(value, datetime):
        value = (value.astimezone(DISPLAY_ZONE) if value.tzinfo else value).date()
    return str(format_date(value, "medium", locale=language(locale)))


def moment(locale: str, value: datetime | str | None) -> str:
    """A point in time to the minute, in codo's wall-clock zone: 26.11.2026, 14:30."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = _parse(value)  # type: ignore[assignment]
        if not isinstance(value, datetime):
            return day(locale, value)
    assert isinstance(value, datetime)
    if value.tzinfo is not None:
        value = value.astimezone(DISPLAY_ZONE)
    lang = language(locale)
    return f"{format_date(value, 'medium', locale=lang)}, {format_time(value, 'short', locale=lang)}"


def when(locale: str, value: datetime) -> str:
    """A point in time as a letter writes it: 26.11.2026 um 18:30 Uhr, Nov 26, 2026 at 6:30 PM."""
    if value.tzinfo is not None:
        value = value.astimezone(DISPLAY_ZONE)
    lang = language(locale)
    return gettext(
        lang,
        N_("%(day)s at %(time)s"),
        day=str(format_date(value, "medium", locale=lang)),
        time=str(format_time(value, "short", locale=lang)),
    )


def clock(locale: str, value: datetime | time, zone: ZoneInfo | None = None) -> str:
    """A time of day: 18:30 in German, 6:30 PM in English."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(zone or DISPLAY_ZONE)
    return str(format_time(value, "short", locale=language(locale)))


def language_name(locale: str, code: str | None) -> str:
    """A language by its name in the reader's language ("ar": Arabisch), never by its code."""
    if not code:
        return ""
    return str(Locale.parse(language(locale)).languages.get(code, code))


def number(locale: str, value: float | int | Decimal | None) -> str:
    """1.234,5 in German, 1,234.5 in English."""
    return "" if value is None else str(format_decimal(value, locale=language(locale)))


def _parse(text: str) -> date | datetime | str:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return text


def label(locale: str, vocabulary: str, key: str | None, *, domain: str | None = None) -> str:
    """What a stored key of a vocabulary is called (``label("de", "status", "ready")``: "bereit").

    The catalogues hold ``"<vocabulary>:<key>"``; a key no catalogue knows (an organisation's
    own consent purpose, say) is shown as words rather than as the key itself.
    """
    if key is None or key == "":
        return ""
    message_id = f"{vocabulary}:{key}"
    found = _lookup(language(locale), message_id, domain)
    if found != message_id:
        return found
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def add_catalogue_roots(roots: Iterable[Path]) -> None:
    """Folders whose ``locale/`` holds catalogues too (the web layer's homes)."""
    for root in roots:
        if root not in _roots:
            _roots.append(root)
    translations.cache_clear()
    domain_translations.cache_clear()
    _translated.cache_clear()


def language(value: str | None) -> str:
    """A supported language for ``de-DE``, ``en_GB``, ``EN`` or nothing (German)."""
    lang = (value or DEFAULT_LOCALE).replace("_", "-").split("-")[0].lower()
    return lang if lang in LOCALES else DEFAULT_LOCALE


def pick(value: str | None) -> str | None:
    """A supported locale from a cookie or a person's preference, else None."""
    if value and value[:2].lower() in LOCALES:
        return value[:2].lower()
    return None


def catalogue_files(locale: str, domain: str | None = None) -> list[Path]:
    files: list[Path] = []
    for root in _roots:
        folder = root / "locale" / locale / "LC_MESSAGES"
        files += sorted(folder.glob(f"{domain or '*'}.po"))
    return sorted(set(files), key=lambda p: (p.stem != BASE_DOMAIN, p.stem, str(p)))


def _compile(files: list[Path], locale: str) -> Translations:
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


@cache
def translations(locale: str) -> Translations:
    """Every catalogue of one language, merged."""
    locale = language(locale)
    return _compile(catalogue_files(locale), locale)


@cache
def domain_translations(locale: str, domain: str) -> Translations | None:
    locale = language(locale)
    files = catalogue_files(locale, domain)
    return _compile(files, locale) if files else None


def _lookup(locale: str, message: str, domain: str | None, context: str | None = None) -> str:
    sources = [domain_translations(locale, domain)] if domain else []
    sources.append(translations(locale))
    for source in sources:
        if source is None:
            continue
        found = source.pgettext(context, message) if context else source.gettext(message)
        if found != message:
            return str(found)
    return message


def _value(locale: str, name: str, value: Any, domain: str | None) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, datetime):
        return format_datetime(value, "short", locale=locale)
    if isinstance(value, date):
        return format_date(value, "medium", locale=locale)
    if isinstance(value, float | Decimal):
        return format_decimal(value, locale=locale)  # 1.234,5 in German, 1,234.5 in English
    if isinstance(value, tuple):  # shared.errors.AnyOf: one of these keys, by their labels
        return format_list([_lookup(locale, str(v), domain) for v in value], style="or", locale=locale)
    if isinstance(value, str) and name.rstrip("0123456789") in LABELLED_PARAMS:
        return _lookup(locale, value, domain)
    if isinstance(value, str) and name in LISTED_PARAMS:
        vocabulary = LISTED_PARAMS[name]
        labels = [_key_label(locale, key.strip(), vocabulary, domain) for key in value.split(",")]
        return format_list(labels, style="or", locale=locale)
    return value


def _key_label(locale: str, key: str, vocabulary: str | None, domain: str | None) -> str:
    for message_id in ([f"{vocabulary}:{key}"] if vocabulary else []) + [key]:
        found = _lookup(locale, message_id, domain)
        if found != message_id:
            return found
    return label(locale, vocabulary or "", key)


def _fill(locale: str, text: str, params: dict[str, Any], domain: str | None) -> str:
    if not params:
        return text
    return text % {k: _value(locale, k, v, domain) for k, v in params.items()}


def gettext(locale: str, message: str, *, domain: str | None = None, **params: Any) -> str:
    """``message`` in ``locale``, with ``params`` filled in (dates and numbers in that locale)."""
    if not params:
        return _translated(locale, message, domain)
    return _fill(language(locale), _lookup(language(locale), message, domain), params, domain)


# A page asks for a hundred texts or more, the same ones on every request; the catalogues are read
# once per process, so the answer for one (locale, text, domain) never changes.
@lru_cache(maxsize=16_384)
def _translated(locale: str, message: str, domain: str | None) -> str:
    return _lookup(language(locale), message, domain)


def pgettext(locale: str, context: str, message: str, *, domain: str | None = None, **params: Any) -> str:
    """Like :func:`gettext` for a text that reads differently by ``context`` (e.g. "du"/"sie")."""
    lang = language(locale)
    return _fill(lang, _lookup(lang, message, domain, context), params, domain)


def ngettext(
    locale: str, singular: str, plural: str, n: int, *, domain: str | None = None, **params: Any
) -> str:
    """The plural form for ``n``; filled in only when ``params`` are given (Jinja fills its own)."""
    lang = language(locale)
    text = str(translations(lang).ngettext(singular, plural, n))
    return _fill(lang, text, params, domain)


def message(locale: str, error: Any, *, domain: str | None = None) -> str:
    """A domain error (anything with ``message_id`` and ``params``) in the person's language."""
    message_id = getattr(error, "message_id", None)
    if message_id is None:
        return gettext(locale, str(getattr(error, "detail", error)), domain=domain)
    return gettext(locale, message_id, domain=domain, **getattr(error, "params", {}))


def translator(locale: str, domain: str | None = None) -> Callable[..., str]:
    """``_("text", name=value)`` for one person's pages or e-mails."""

    def _(text: str, **params: Any) -> str:
        return gettext(locale, text, domain=domain, **params)

    return _


def N_(text: str) -> str:
    """Marks a text for extraction where it is translated later."""
    return text
