"""Sending e-mail over SMTP (aiosmtplib) with the CODO_SMTP_* settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from shared.settings import Settings


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
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
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
