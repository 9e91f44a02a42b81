"""What the pages of tasks and appointments share: the translator, date formats, choices for
forms (members, contacts, tandems) and how a refused form comes back with its error."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.lists import format_list
from litestar.response import Template

from services.api.tasks.acting import now_utc
from services.api.web import i18n
from services.api.web.context import PageContext
from shared.actor import Actor
from shared.errors import DomainError, ValidationFailed
from shared.i18n import N_
from shared.matching import matches
from shared.matching.schemas import MatchOut
from shared.organizations import MemberOut, list_members
from shared.tasks import recurrence
from shared.tasks.models import DEFAULT_TIMEZONE

# The statuses of a tandem that still meets: what a new link is made to.
OPEN_TANDEMS = "proposed,introduced,active,paused"
# The repetitions the task form offers, by the rule each one stores.
PRESET_RULES = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "every 2 weeks": "FREQ=WEEKLY;INTERVAL=2",
    "monthly": "FREQ=MONTHLY",
}


# How often a rule repeats: once per period, or every n periods (n is at least 2).
EVERY = {
    "DAILY": (N_("daily"), N_("every %(num)s days")),
    "WEEKLY": (N_("weekly"), N_("every %(num)s weeks")),
    "MONTHLY": (N_("monthly"), N_("every %(num)s months")),
    "YEARLY": (N_("yearly"), N_("every %(num)s years")),
}
ON_DAYS = N_("%(repeat)s on %(days)s")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def translator(locale: str) -> Callable[..., str]:
    """The one translator, preferring this domain's wording ("done" is a finished task here)."""
    return i18n.translator(locale, "tasks")


@dataclass(frozen=True)
class Fmt:
    locale: str

    def day(self, value: date) -> str:
        return format_date(
            value, "EEE, d. MMM y" if self.locale == "de" else "EEE, d MMM y", locale=self.locale
        )

    def day_short(self, value: date) -> str:
        return format_date(value, "EEE d.M." if self.locale == "de" else "EEE d/M", locale=self.locale)

    def clock(self, value: datetime, tz: str) -> str:
        return i18n.clock(self.locale, value, recurrence.zone(tz))

    def repeat_choice(self, rule: str | None) -> str:
        """The form's choice for a stored rule; a rule the form does not offer stays itself."""
        if not rule:
            return ""
        return {v: k for k, v in PRESET_RULES.items()}.get(rule, rule)

    def rrule(self, rule: str) -> str:
        """A repetition as people say it ("alle 2 Wochen", "weekly on Monday and Thursday"); a rule
        beyond what this can say shows as stored."""
        parts = dict(p.split("=", 1) for p in rule.split(";") if "=" in p)
        freq = parts.get("FREQ", "")
        if freq not in EVERY or set(parts) - {"FREQ", "INTERVAL", "BYDAY"}:
            return rule
        interval = parts.get("INTERVAL", "1")
        if not interval.isdigit() or int(interval) < 1:
            return rule
        _ = translator(self.locale)
        n = int(interval)
        said = _(EVERY[freq][0]) if n == 1 else _(EVERY[freq][1], num=n)
        if "BYDAY" not in parts:
            return said
        days = parts["BYDAY"].split(",")
        if any(d not in WEEKDAYS for d in days):
            return rule
        names = Locale.parse(self.locale).days["format"]["wide"]
        on = format_list([names[WEEKDAYS.index(d)] for d in days], locale=self.locale)
        return _(ON_DAYS, repeat=said, days=on)


def local_redirect(target: str | None, fallback: str) -> str:
    """Only a path of this site (never another host) may be a redirect target."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def page_actor(page: PageContext) -> Actor:
    return page.actor.within(page.org.id, page.org.slug, page.settings.public_url)


async def member_choices(page: PageContext) -> list[MemberOut]:
    return (await list_members(page.session, limit=200, cursor=None)).items


def render(
    page: PageContext, template: str, *, sub: str, unread: int | None = None, **values: Any
) -> Template:
    _ = translator(page.locale)
    today = recurrence.local_now(now_utc(), DEFAULT_TIMEZONE).date()
    return page.render(
        template,
        nav="tasks",
        sub=sub,
        _=_,
        fmt=Fmt(page.locale),
        today=today,
        me=page.membership_id,
        unread=unread,
        recurrence_choices=[
            ("", _("does not repeat")),
            ("daily", _("daily")),
            ("weekly", _("weekly")),
            ("every 2 weeks", _("every 2 weeks")),
            ("monthly", _("monthly")),
        ],
        **values,
    )


@dataclass(frozen=True)
class Tandem:
    id: uuid.UUID
    label: str


def tandem_label(m: MatchOut) -> str:
    return f"{m.mentor_name} & {m.mentee_name}"


async def tandem_choices(page: PageContext, current: uuid.UUID | None = None) -> list[Tandem]:
    """Tandems that still meet, and the one already linked even if it has ended."""
    today = recurrence.local_now(now_utc(), DEFAULT_TIMEZONE).date()
    listed = (await matches.list_matches(page.session, today, status=OPEN_TANDEMS, limit=200)).items
    found = [Tandem(m.id, tandem_label(m)) for m in listed]
    if current is not None and current not in {t.id for t in found}:
        linked = await matches.read_match(page.session, current, today)
        found.insert(0, Tandem(linked.id, tandem_label(linked)))
    return sorted(found, key=lambda t: t.label.casefold())


async def tandem_name(page: PageContext, match_id: uuid.UUID | None) -> str | None:
    if match_id is None:
        return None
    today = recurrence.local_now(now_utc(), DEFAULT_TIMEZONE).date()
    return tandem_label(await matches.read_match(page.session, match_id, today))


def uuid_or_none(value: str | None, field: str, message: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed(message, field=field) from None


def uuids(values: list[str], field: str, message: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in values if v]
    except ValueError:
        raise ValidationFailed(message, field=field) from None


def day_of(value: str | None, field: str) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise ValidationFailed("choose a day", field=field) from None


@dataclass(frozen=True)
class Refusal:
    """A form the domain refused: its message in the person's language, and the field it names."""

    message: str
    field: str | None
    status: int

    @classmethod
    def of(cls, page: PageContext, exc: DomainError, fields: dict[str, str] | None = None) -> Refusal:
        field = exc.field
        if field and fields:
            field = fields.get(field, field)
        return cls(i18n.message(page.locale, exc, domain="tasks"), field, exc.status)
