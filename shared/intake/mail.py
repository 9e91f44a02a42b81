"""E-mails intake sends to people (not members): German with "du" or "Sie", or English.

Every text is picked by language and form of address, so a person who is addressed as "du" on
the phone is not suddenly "Sie" in a letter. The greeting and closing every letter to a contact
shares live in :mod:`shared.contacts.letters`.
"""

from __future__ import annotations

from datetime import datetime

from shared import i18n
from shared.contacts.letters import Letter, address_of, closing, greeting
from shared.intake import vocab

# Message ids by form of address ("du"/"sie" are the gettext contexts): English reads the same
# either way, German does not. Their German lives in shared/intake/locale/de/LC_MESSAGES/intake.po.


def _texts(address: str) -> dict[str, tuple[str, str]]:
    """Each kind's subject and body in one form of address (listed twice so extraction finds both)."""
    if address == "du":
        return {
            "invitation_subject": pgettext("du", "Invitation: %(title)s"),
            "invitation_body": pgettext(
                "du",
                "we warmly invite you: %(title)s on %(when)s%(where)s.\n\n%(description)s"
                "Please let us know whether you will come.",
            ),
            "confirm_subject": pgettext("du", "Please confirm your sign-up: %(form)s"),
            "confirm_body": pgettext(
                "du",
                "thank you for signing up with %(org)s (%(form)s).\n\n"
                "Please confirm your e-mail address with this link:\n%(link)s\n\n"
                "Without confirmation we delete your details after %(hours)s hours. "
                "If you did not sign up, simply ignore this e-mail.",
            ),
        }
    return {
        "invitation_subject": pgettext("sie", "Invitation: %(title)s"),
        "invitation_body": pgettext(
            "sie",
            "we warmly invite you: %(title)s on %(when)s%(where)s.\n\n%(description)s"
            "Please let us know whether you will come.",
        ),
        "confirm_subject": pgettext("sie", "Please confirm your sign-up: %(form)s"),
        "confirm_body": pgettext(
            "sie",
            "thank you for signing up with %(org)s (%(form)s).\n\n"
            "Please confirm your e-mail address with this link:\n%(link)s\n\n"
            "Without confirmation we delete your details after %(hours)s hours. "
            "If you did not sign up, simply ignore this e-mail.",
        ),
    }


def pgettext(context: str, message: str) -> tuple[str, str]:
    """Marks a message id with its form of address; translated in :func:`letter`."""
    return (context, message)


def texts_for(lang: str, form_of_address: str) -> dict[str, str]:
    """The texts of every kind in one language and form of address (``%(name)s`` placeholders)."""
    language = vocab.language(lang)
    return {
        kind: i18n.pgettext(language, context, message, domain="intake")
        for kind, (context, message) in _texts(address_of(form_of_address)).items()
    }


def letter(
    kind: str, *, lang: str, form_of_address: str, first_name: str, last_name: str, org: str, **params: str
) -> Letter:
    lang = vocab.language(lang)
    texts = texts_for(lang, form_of_address)
    values = {"org": org, **params}
    body = "\n\n".join(
        [
            greeting(lang, form_of_address, first_name, last_name),
            texts[f"{kind}_body"] % values,
            closing(lang, org),
        ]
    )
    return Letter(subject=texts[f"{kind}_subject"] % values, body=body)


def when_text(value: datetime, lang: str) -> str:
    """26.11.2026 um 18:30 Uhr, or Nov 26, 2026 at 6:30 PM: babel in the reader's locale."""
    return i18n.when(vocab.language(lang), value)
