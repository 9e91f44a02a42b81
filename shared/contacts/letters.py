"""Letters to contacts (people, not members): greeting, form of address and closing.

Contacts are written to in German with "du" or "Sie", or in English, and every domain that
writes to them (intake, appointments) greets and signs the same way, so a person who is "du"
on the phone is not suddenly "Sie" in a letter.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import i18n
from shared.i18n import N_

# Message ids by form of address; their German lives in
# shared/contacts/locale/de/LC_MESSAGES/contacts.po.
_GREETING = {
    "sie": N_("Dear %(full_name)s,"),
    "du": N_("Hi %(first_name)s,"),
}
_NO_NAME = N_("Hello,")
_CLOSING = N_("Best regards\n%(org)s")


@dataclass(frozen=True)
class Letter:
    subject: str
    body: str


def address_of(value: str | None) -> str:
    """The form of address: "du" only when it was chosen, "Sie" otherwise."""
    return "du" if value == "du" else "sie"


def greeting(lang: str, form_of_address: str, first_name: str, last_name: str) -> str:
    full = f"{first_name} {last_name}".strip()
    if not first_name.strip():
        return i18n.gettext(lang, _NO_NAME, domain="contacts")
    template = _GREETING[address_of(form_of_address)]
    return i18n.gettext(lang, template, domain="contacts", first_name=first_name.strip(), full_name=full)


def closing(lang: str, org: str) -> str:
    return i18n.gettext(lang, _CLOSING, domain="contacts", org=org)
