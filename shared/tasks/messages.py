"""E-mail and in-app texts of tasks and appointments, in German (first) and English.

Every e-mail has a plain-text and an HTML part; the HTML is rendered by Jinja2 with
autoescaping, so a task title can never inject markup into someone's inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from jinja2 import Environment, select_autoescape
from markupsafe import escape

from shared import i18n
from shared.i18n import N_

LANGUAGES = i18n.LOCALES

# The texts' message ids; their German lives in ``shared/tasks/locale/de/LC_MESSAGES/tasks.po``.
_TEXTS: dict[str, str] = {
    "task_due.subject": N_("Reminder: %(title)s is due on %(due)s"),
    "task_due.intro": N_("The task “%(title)s” is due on %(due)s."),
    "appointment.subject": N_("Reminder: %(title)s on %(start)s"),
    "appointment.intro": N_("The appointment “%(title)s” starts on %(start)s."),
    "assignment.subject": N_("New task for you: %(title)s"),
    "assignment.intro": N_("You have been assigned the task “%(title)s” (due on %(due)s)."),
    "digest.subject": N_("Your day in codo: %(day)s"),
    "digest.intro": N_("Your tasks and appointments for %(day)s:"),
    "digest.tasks": N_("Tasks"),
    "digest.appointments": N_("Appointments"),
    "digest.overdue": N_("overdue"),
    "digest.none": N_("Nothing is planned for today."),
    "open": N_("Open"),
    "location": N_("Location"),
    "video": N_("Video link"),
    "footer": N_(
        "You receive this message because you switched on notifications in codo. "
        "You can change this in your notification settings."
    ),
}

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_HTML = _env.from_string(
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>{{ intro }}</p>
{% for heading, lines in sections %}<h3>{{ heading }}</h3>
<ul>{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul>
{% endfor %}{% for line in details %}<p>{{ line }}</p>{% endfor %}
{% if link %}<p><a href="{{ link }}">{{ open_label }}</a></p>{% endif %}
<p style="color: #666; font-size: small">{{ footer }}</p>
</body></html>"""
)


def language(locale: str | None) -> str:
    return i18n.language(locale)


def t(lang: str, key: str, **params: Any) -> str:
    return i18n.gettext(language(lang), _TEXTS[key], domain="tasks", **params)


@lru_cache(maxsize=4096)
def day_text(value: date, lang: str) -> str:
    return format_date(value, format="full", locale=language(lang))


@lru_cache(maxsize=4096)
def when_text(value: datetime, lang: str, tz: str) -> str:
    pattern = "EEEE, d. MMMM y, HH:mm 'Uhr'" if language(lang) == "de" else "EEEE, d MMMM y, HH:mm"
    return format_datetime(value, format=pattern, tzinfo=ZoneInfo(tz), locale=language(lang))


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    # The short line of the in-app notification.
    title: str
    link: str


def render(
    lang: str,
    kind: str,
    *,
    intro_params: dict[str, str],
    details: list[str] | None = None,
    sections: list[tuple[str, list[str]]] | None = None,
    link: str = "",
    intro_key: str | None = None,
) -> Rendered:
    lang = language(lang)
    subject = t(lang, f"{kind}.subject", **intro_params)
    intro = t(lang, intro_key or f"{kind}.intro", **intro_params)
    details = details or []
    sections = sections or []
    lines = [intro, ""]
    for heading, items in sections:
        lines.append(heading + ":")
        lines.extend(f"- {item}" for item in items)
        lines.append("")
    lines.extend(details)
    if link:
        lines += ["", f"{_constant(lang, 'open')}: {link}"]
    lines += ["", "--", _constant(lang, "footer")]
    if sections or details:
        html = _HTML.render(
            lang=lang,
            subject=subject,
            intro=intro,
            sections=sections,
            details=details,
            link=link,
            open_label=_constant(lang, "open"),
            footer=_constant(lang, "footer"),
        )
    else:
        html = _filled(_skeleton(lang, bool(link)), subject=subject, intro=intro, link=link)
    return Rendered(subject=subject, text="\n".join(lines), html=html, title=subject, link=link)


@dataclass(frozen=True)
class Plain:
    """One kind of message without sections or details, in one language, with a link: its texts
    are looked up once, so a batch of thousands of reminders only fills in its parameters. Gives
    exactly what :func:`render` gives for the same message; its parameters are plain text (no
    dates or keys to format or label)."""

    subject: str
    intro: str
    before_link: str
    after_link: str
    skeleton: str

    def render(self, params: dict[str, str], link: str) -> Rendered:
        subject = self.subject % params
        intro = self.intro % params
        return Rendered(
            subject=subject,
            text=f"{intro}{self.before_link}{link}{self.after_link}",
            html=_filled(self.skeleton, subject=subject, intro=intro, link=link),
            title=subject,
            link=link,
        )


@lru_cache(maxsize=32)
def plain(lang: str, kind: str) -> Plain:
    lang = language(lang)
    return Plain(
        # Without parameters: the translated pattern itself, filled in by Plain.render.
        subject=i18n.gettext(lang, _TEXTS[f"{kind}.subject"], domain="tasks"),
        intro=i18n.gettext(lang, _TEXTS[f"{kind}.intro"], domain="tasks"),
        before_link=f"\n\n\n{_constant(lang, 'open')}: ",
        after_link=f"\n\n--\n{_constant(lang, 'footer')}",
        skeleton=_skeleton(lang, True),
    )


@lru_cache(maxsize=64)
def _constant(lang: str, key: str) -> str:
    return t(lang, key)


# Stand-ins that escaping leaves alone and no stored text contains (PostgreSQL text holds no NUL).
_SLOTS = {name: f"\x00{name}\x00" for name in ("subject", "intro", "link")}


@lru_cache(maxsize=8)
def _skeleton(lang: str, with_link: bool) -> str:
    """The HTML of a message without sections or details, rendered once per language: a reminder
    batch of thousands differs only in subject, intro and link, filled in escaped as Jinja would."""
    return _HTML.render(
        lang=lang,
        subject=_SLOTS["subject"],
        intro=_SLOTS["intro"],
        sections=[],
        details=[],
        link=_SLOTS["link"] if with_link else "",
        open_label=_constant(lang, "open"),
        footer=_constant(lang, "footer"),
    )


def _filled(skeleton: str, **values: str) -> str:
    for name, value in values.items():
        skeleton = skeleton.replace(_SLOTS[name], str(escape(value)))
    return skeleton
