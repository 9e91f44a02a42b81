"""E-mails intake sends to people (not members): German with "du" or "Sie", or English.

Every text is picked by language and form of address, so a person who is addressed as "du" on
the phone is not suddenly "Sie" in a letter. Other domains that write to contacts can use
:func:`greeting`, :func:`texts_for` and ``screening.forms_of_address``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.intake import vocab

_GREETING = {
    ("de", "sie"): "Guten Tag {full_name},",
    ("de", "du"): "Hallo {first_name},",
    ("en", "sie"): "Dear {full_name},",
    ("en", "du"): "Hi {first_name},",
}

_TEXTS: dict[tuple[str, str], dict[str, str]] = {
    ("de", "sie"): {
        "invitation_subject": "Einladung: {title}",
        "invitation_body": (
            "wir laden Sie herzlich ein: {title} am {when}{where}.\n\n{description}"
            "Bitte geben Sie uns kurz Bescheid, ob Sie dabei sind."
        ),
        "confirm_subject": "Bitte bestätigen Sie Ihre Anmeldung: {form}",
        "confirm_body": (
            "vielen Dank für Ihre Anmeldung bei {org} ({form}).\n\n"
            "Bitte bestätigen Sie Ihre E-Mail-Adresse über diesen Link:\n{link}\n\n"
            "Ohne Bestätigung löschen wir Ihre Angaben nach {hours} Stunden. "
            "Wenn Sie sich nicht angemeldet haben, können Sie diese E-Mail einfach ignorieren."
        ),
    },
    ("de", "du"): {
        "invitation_subject": "Einladung: {title}",
        "invitation_body": (
            "wir laden dich herzlich ein: {title} am {when}{where}.\n\n{description}"
            "Gib uns bitte kurz Bescheid, ob du dabei bist."
        ),
        "confirm_subject": "Bitte bestätige deine Anmeldung: {form}",
        "confirm_body": (
            "danke für deine Anmeldung bei {org} ({form}).\n\n"
            "Bitte bestätige deine E-Mail-Adresse über diesen Link:\n{link}\n\n"
            "Ohne Bestätigung löschen wir deine Angaben nach {hours} Stunden. "
            "Wenn du dich nicht angemeldet hast, kannst du diese E-Mail einfach ignorieren."
        ),
    },
    ("en", "sie"): {
        "invitation_subject": "Invitation: {title}",
        "invitation_body": (
            "we warmly invite you: {title} on {when}{where}.\n\n{description}"
            "Please let us know whether you will come."
        ),
        "confirm_subject": "Please confirm your sign-up: {form}",
        "confirm_body": (
            "thank you for signing up with {org} ({form}).\n\n"
            "Please confirm your e-mail address with this link:\n{link}\n\n"
            "Without confirmation we delete your details after {hours} hours. "
            "If you did not sign up, simply ignore this e-mail."
        ),
    },
}
_TEXTS[("en", "du")] = _TEXTS[("en", "sie")]
_CLOSING = {"de": "Viele Grüße\n{org}", "en": "Best regards\n{org}"}


@dataclass(frozen=True)
class Letter:
    subject: str
    body: str


def address_of(value: str | None) -> str:
    return "du" if value == "du" else "sie"


def greeting(lang: str, form_of_address: str, first_name: str, last_name: str) -> str:
    full = f"{first_name} {last_name}".strip()
    template = _GREETING[(vocab.language(lang), address_of(form_of_address))]
    if not first_name.strip():
        return {"de": "Guten Tag,", "en": "Hello,"}[vocab.language(lang)]
    return template.format(first_name=first_name.strip(), full_name=full)


def texts_for(lang: str, form_of_address: str) -> dict[str, str]:
    return _TEXTS[(vocab.language(lang), address_of(form_of_address))]


def letter(
    kind: str, *, lang: str, form_of_address: str, first_name: str, last_name: str, org: str, **params: str
) -> Letter:
    lang = vocab.language(lang)
    texts = texts_for(lang, form_of_address)
    body = "\n\n".join(
        [
            greeting(lang, form_of_address, first_name, last_name),
            texts[f"{kind}_body"].format(org=org, **params),
            _CLOSING[lang].format(org=org),
        ]
    )
    return Letter(subject=texts[f"{kind}_subject"].format(org=org, **params), body=body)


def when_text(value: datetime, lang: str) -> str:
    local = value.astimezone(vocab.ZONE)
    if vocab.language(lang) == "en":
        return local.strftime("%Y-%m-%d at %H:%M")
    return local.strftime("%d.%m.%Y um %H:%M Uhr")
