"""The change history on pages: the organisation's log with its search, and a record's own history
on its page (contacts, matches, intake people) for those who may read it (admins)."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template
from sqlalchemy import select

from services.api.web.context import PageContext, PageController
from services.api.web.i18n import gettext
from shared.contacts import fields as custom_fields
from shared.contacts.models import Contact, Programme
from shared.contacts.service import ContactQuery, contact_name, list_contacts
from shared.errors import ValidationFailed
from shared.history.labels import ACTIONS, ENTITIES, FIELDS, VALUE_LABELS
from shared.history.service import REDACTED, EntryOut, Search, search
from shared.intake.models import ScreeningStep
from shared.models import Membership, User
from shared.organizations import list_members
from shared.permissions import Permission

RECORD_PAGE = 20
LOG_PAGE = 50
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _uuid(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def _names(page: PageContext, entries: list[EntryOut]) -> dict[str, str]:
    """Names for the ids an entry holds (people, members, programmes, steps): never a bare id on a page."""
    wanted: set[uuid.UUID] = set()
    for e in entries:
        wanted.update(e.contact_ids)
        for pair in e.changes.values():
            wanted.update(i for i in map(_uuid, pair) if i is not None)
        wanted.update(i for i in map(_uuid, e.details.values()) if i is not None)
    if not wanted:
        return {}
    s = page.session
    names = {
        str(c.id): contact_name(c)
        for c in (await s.execute(select(Contact).where(Contact.id.in_(wanted)))).scalars()
    }
    for mid, display, email in await s.execute(
        select(Membership.id, User.display_name, User.email)
        .join(User, User.id == Membership.user_id)
        .where(Membership.id.in_(wanted))
    ):
        names[str(mid)] = display or email
    for pid, name in await s.execute(select(Programme.id, Programme.name).where(Programme.id.in_(wanted))):
        names[str(pid)] = name
    de = page.locale == "de"
    for step in (await s.execute(select(ScreeningStep).where(ScreeningStep.id.in_(wanted)))).scalars():
        names[str(step.id)] = step.label_de if de else step.label_en
    return names


def _day(text: str, locale: str) -> str:
    y, m, d = text[:10].split("-")
    return f"{d}.{m}.{y}" if locale == "de" else f"{y}-{m}-{d}"


async def render_values(page: PageContext, entries: list[EntryOut]) -> dict[str, Any]:
    """What the entry templates need: labels, names and a way to show a recorded value."""
    names = await _names(page, entries)
    custom = {f.key: f for f in await custom_fields.list_fields(page.session, include_archived=True)}

    def field_label(key: str) -> str:
        if key.startswith("custom."):
            f = custom.get(key.removeprefix("custom."))
            if f is not None:
                return str(f.label_de if page.locale == "de" else f.label_en)
        return FIELDS.get(key, key.replace("_", " ").capitalize())

    def show(value: Any, entity: str = "", key: str = "") -> str | None:
        """A recorded value as text in the reader's language; None for "nothing"."""
        if value is None or value == "" or value == [] or value == {}:
            return None
        if isinstance(value, bool):
            return gettext(page.locale, "yes" if value else "no")
        if isinstance(value, list):
            return ", ".join(filter(None, (show(v, entity, key) for v in value)))
        if isinstance(value, dict):
            return ", ".join(
                f"{gettext(page.locale, field_label(str(k)))}: {show(v) or '—'}" for k, v in value.items()
            )
        if isinstance(value, str):
            prefix = VALUE_LABELS.get((entity, key))
            if prefix is not None and gettext(page.locale, prefix + value) != prefix + value:
                return gettext(page.locale, prefix + value)
            if value in names:
                return names[value]
            if _ISO_DAY.match(value):
                return _day(value, page.locale)
            if _ISO_TIME.match(value):
                return f"{_day(value, page.locale)} {value[11:16]}"
        return str(value)

    return {
        "history_names": names,
        "entity_label": lambda key: ENTITIES.get(key, key),
        "action_label": lambda key: ACTIONS.get(key, key),
        "field_label": field_label,
        "show": show,
        "redacted": REDACTED,
    }


async def record_history(page: PageContext, **wanted: Any) -> dict[str, Any]:
    """The latest entries about one record, for its page; nothing for those who may not read them."""
    if not page.can(Permission.HISTORY_READ):
        return {}
    found = await search(page.session, Search(**wanted), limit=RECORD_PAGE)
    query = "&".join(f"{k}={v}" for k, v in wanted.items())
    return {
        "history_entries": found.items,
        "history_more": f"/o/{page.org.slug}/history?{query}",
        **await render_values(page, found.items),
    }


def _parse_day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("a date such as 2026-11-26", field=field) from None


class HistoryPages(PageController):
    path = "/o/{slug:str}/history"

    @get("")
    async def log(
        self,
        page: NamedDependency[PageContext],
        person: FromQuery[str | None] = None,
        contact_id: FromQuery[uuid.UUID | None] = None,
        match_id: FromQuery[uuid.UUID | None] = None,
        member_id: FromQuery[uuid.UUID | None] = None,
        entity: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        since: FromQuery[str | None] = None,
        until: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        page.require(Permission.HISTORY_READ)
        wanted = Search(
            contact_id=contact_id,
            match_id=match_id,
            member_id=member_id,
            entity=entity or None,
            action=action or None,
            since=_parse_day(since, "since"),
            until=_parse_day(until, "until"),
        )
        nobody = False
        if person and person.strip():
            people = await list_contacts(page.session, ContactQuery(q=person.strip()), limit=50, cursor=None)
            wanted.contact_ids = [c.id for c in people.items]
            nobody = not wanted.contact_ids
        found = await search(page.session, wanted, limit=LOG_PAGE, cursor=cursor)
        members = (await list_members(page.session, limit=200, cursor=None)).items
        filters = {
            "person": person or "", "contact_id": contact_id or "", "match_id": match_id or "",
            "member_id": member_id or "", "entity": entity or "", "action": action or "",
            "since": since or "", "until": until or "",
        }  # fmt: skip
        return page.render(
            "history/log.html",
            nav="settings",
            history_entries=found.items,
            next_cursor=found.next_cursor,
            filters=filters,
            nobody=nobody,
            members=members,
            entities=ENTITIES,
            actions=ACTIONS,
            **await render_values(page, found.items),
        )


ROUTES = [HistoryPages]
