"""Timeline notes codo writes itself, in each reader's language.

They are stored in English (what the API shows). A stored note that has the shape of one of
these texts, in any language (older ones were stored in German), is written anew from the
catalogue when someone reads it. Parameters are names people gave, or status keys, which are
stored by their English label and read by the reader's label.
"""

from __future__ import annotations

import functools
import re

from shared import i18n
from shared.contacts.vocab import STATUSES, status_label
from shared.i18n import N_

READY_FOR_MATCHING = N_("Ready for matching: every required preparation step is done (last: %(step)s).")
MERGED = N_("Merged with a duplicate record (%(id)s).")
PROTECTION = N_("Status: %(before)s → %(after)s. Reason: %(reason)s")
SYSTEM_NOTES = (READY_FOR_MATCHING, MERGED, PROTECTION)
STATUS_PARAMS = frozenset({"before", "after"})
STORED_IN = "en"
_PLACEHOLDER = re.compile(r"%\\\((\w+)\\\)s")


def system_note(message: str, **params: str) -> str:
    """The stored text of a note codo writes itself (one of :data:`SYSTEM_NOTES`)."""
    for name in STATUS_PARAMS & params.keys():
        params[name] = status_label(params[name], STORED_IN)
    return i18n.gettext(STORED_IN, message, domain="contacts", **params)


@functools.cache
def _shape(locale: str, message: str) -> re.Pattern[str]:
    text = re.escape(i18n.gettext(locale, message, domain="contacts"))
    return re.compile(_PLACEHOLDER.sub(r"(?P<\1>.*?)", text), re.DOTALL)


def _status(label: str, locale: str) -> str:
    for key in STATUSES:
        if any(status_label(key, lang) == label for lang in i18n.LOCALES):
            return status_label(key, locale)
    return label


def note_text(body: str, locale: str) -> str:
    """A timeline entry's text as ``locale`` reads it."""
    for message in SYSTEM_NOTES:
        for written_in in i18n.LOCALES:
            found = _shape(written_in, message).fullmatch(body)
            if found:
                params = found.groupdict()
                for name in STATUS_PARAMS & params.keys():
                    params[name] = _status(params[name], locale)
                return i18n.gettext(locale, message, domain="contacts", **params)
    return body
