"""Sending e-mail over SMTP (aiosmtplib) with the CODO_SMTP_* settings."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from shared.settings import Settings

# A header line ends at CR or LF; Python refuses to write such a header at all, and other
# mail software might start a new header there. Subjects come from titles people type.
MAX_HEADER_TEXT = 250
_SPACES = re.compile(r"\s+")
_BREAKING = ("Cc", "Zl", "Zp")


class MessageNotBuildable(ValueError):
    """The message cannot be written as e-mail (e.g. a control character in the address)."""


def header_text(value: str, limit: int = MAX_HEADER_TEXT) -> str:
    """``value`` as one header line: control and line-separator characters become spaces."""
    cleaned = "".join(" " if unicodedata.category(ch) in _BREAKING else ch for ch in value)
    cleaned = _SPACES.sub(" ", cleaned).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def _address(value: str) -> str:
    if any(unicodedata.category(ch) in _BREAKING for ch in value):
        raise MessageNotBuildable("the address contains a control character")
    return value


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "text/calendar; method=REQUEST": a type with its parameters
    data: bytes


def build_message(
    settings: Settings,
    *,
    message_id: str,
    to: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    msg = EmailMessage()
    try:
        msg["From"] = _address(settings.mail_from)
        msg["To"] = _address(to)
        msg["Subject"] = header_text(subject)
        msg["Date"] = formatdate(localtime=False)
        # A stable Message-ID lets mail systems drop the duplicate if a crash makes us send twice.
        msg["Message-ID"] = f"<{message_id}@codo>"
        msg.set_content(body_text)
        if body_html:
            msg.add_alternative(body_html, subtype="html")
        for item in attachments:
            kind, *raw_params = (part.strip() for part in item.content_type.split(";"))
            maintype, _, subtype = kind.partition("/")
            params = dict(p.split("=", 1) for p in raw_params if "=" in p)
            msg.add_attachment(
                item.data, maintype=maintype, subtype=subtype, filename=item.filename, params=params
            )
    except (ValueError, TypeError, IndexError) as exc:
        if isinstance(exc, MessageNotBuildable):
            raise
        raise MessageNotBuildable(f"{type(exc).__name__}: {exc}") from None
    return msg


def smtp_client(settings: Settings) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        timeout=settings.smtp_timeout,
    )
