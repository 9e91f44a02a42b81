"""The fixed vocabularies of contacts and the normalisation shared by search, import and duplicates."""

from __future__ import annotations

import functools
import re
import unicodedata

from shared import i18n

KINDS = ("mentor", "mentee", "guardian", "partner")
# One status per person: "new" (a sign-up nobody looked at yet) and "declined_child_protection"
# came from intake (migration 0012), so every list, filter, export and report sees the same one.
STATUSES = (
    "new",
    "interested",
    "screening",
    "ready",
    "matched",
    "paused",
    "alumni",
    "declined",
    "declined_child_protection",
)
# Set or lifted only by an admin, with a reason: it keeps a person away from children.
PROTECTED_STATUS = "declined_child_protection"


def status_label(status: str, lang: str) -> str:
    """The status as the contacts catalogue labels it ("status:<key>"), for texts written outside a page."""
    return i18n.label(lang, "status", status, domain="contacts")


# Contact columns that store keys of a vocabulary, and the vocabulary their labels are under.
LABELLED_COLUMNS = {"kinds": "kind", "status": "status", "gender": "gender", "preferred_channel": "channel"}


def key_label(column: str, key: str, lang: str) -> str | None:
    """One stored key of a contact column by its label ("tue-afternoon": "Di nachmittags"), as
    pages, exports and import reviews show it; None for a column that stores no keys."""
    if column == "availability":
        day, _sep, daytime = key.partition("-")
        return (
            f"{i18n.label(lang, 'day', day, domain='contacts')} "
            f"{i18n.label(lang, 'daytime', daytime, domain='contacts')}"
        )
    if column in LABELLED_COLUMNS:
        return i18n.label(lang, LABELLED_COLUMNS[column], key, domain="contacts")
    if column == "languages":
        return i18n.language_name(lang, key)
    return None


GENDERS = ("female", "male", "diverse", "not_stated")
CHANNELS = ("email", "phone", "sms", "messenger", "post")
AGE_GROUPS = ("0-5", "6-9", "10-13", "14-17", "18-26", "27-49", "50-64", "65+")
LINK_KINDS = ("guardian_of", "contact_person_of")
ACTIVITY_KINDS = ("note", "call", "meeting", "email")
CONSENT_STATUSES = ("given", "withdrawn")
# The consent purpose without which codo writes no e-mail to a contact (appointments and the like).
EMAIL_CONSENT = "contact_by_email"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAYTIMES = ("morning", "afternoon", "evening")
AVAILABILITY = tuple(f"{d}-{t}" for d in DAYS for t in DAYTIMES)

# ISO 639-1, every two-letter code.
LANGUAGES = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy
    hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li
    ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa
    pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th
    ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split()  # noqa: SIM905
)

# What people write in a spreadsheet instead of a code.
LANGUAGE_NAMES = {
    "deutsch": "de", "german": "de", "englisch": "en", "english": "en", "arabisch": "ar",
    "arabic": "ar", "türkisch": "tr", "turkish": "tr", "französisch": "fr", "french": "fr",
    "spanisch": "es", "spanish": "es", "russisch": "ru", "russian": "ru", "ukrainisch": "uk",
    "ukrainian": "uk", "polnisch": "pl", "polish": "pl", "persisch": "fa", "farsi": "fa",
    "persian": "fa", "dari": "fa", "kurdisch": "ku", "kurdish": "ku", "italienisch": "it",
    "italian": "it", "tigrinya": "ti", "somali": "so", "paschtu": "ps", "pashto": "ps",
    "rumänisch": "ro", "romanian": "ro", "bulgarisch": "bg", "bulgarian": "bg", "griechisch": "el",
    "greek": "el", "portugiesisch": "pt", "portuguese": "pt", "vietnamesisch": "vi",
    "vietnamese": "vi", "chinesisch": "zh", "chinese": "zh", "albanisch": "sq", "albanian": "sq",
    "serbisch": "sr", "serbian": "sr", "kroatisch": "hr", "croatian": "hr", "bosnisch": "bs",
    "urdu": "ur", "hindi": "hi", "bengalisch": "bn", "tamil": "ta",
}  # fmt: skip

_FOLD = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "ß": "ss",
        "æ": "ae",
        "ø": "o",
        "œ": "oe",
        "\u0131": "i",  # Turkish dotless i
        "ł": "l",
        "đ": "d",
    }
)
_NON_WORD = re.compile(r"[^\w@.+]+")


@functools.lru_cache(maxsize=65_536)  # names, tags and labels repeat: an import folds each once
def fold(value: str) -> str:
    """Lower case, German umlauts spelt out (ü -> ue, ß -> ss), other accents dropped.

    Applied alike to stored search text and to queries, so "Müller", "Mueller" and "MÜLLER"
    find each other, and "Straße" is found by "strasse".
    """
    lowered = value.lower().translate(_FOLD)
    if lowered.isascii():  # most names and every e-mail: nothing left to decompose
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_plain(value: str) -> str:
    """Like :func:`fold`, but umlauts lose their dots (ü -> u): how people type without a German keyboard."""
    return fold(value.lower().replace("ä", "a").replace("ö", "o").replace("ü", "u"))


def search_terms(query: str) -> list[str]:
    return [t for t in _NON_WORD.split(fold(query)) if t]


def digits(phone: str) -> str:
    return "".join(filter(str.isdigit, phone))


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9 ()/.\-]{4,30}$")
POSTAL_RE = re.compile(r"^[0-9A-Za-z \-]{3,10}$")


def normalize_email(value: str) -> str:
    return value.strip().lower()
