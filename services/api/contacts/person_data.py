"""One person's data as a document an organisation can hand over (GDPR Art. 15).

:func:`shared.contacts.privacy.export_person` gathers everything kept about a person as plain
JSON (which stays the machine-readable copy of Art. 20). This module turns it into something a
person can read: sections per domain, labels instead of stored keys, dates in the reader's
locale, and none of codo's internal ids. The page and the PDF are built from the same
:class:`Document`, so they never say different things.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from babel import Locale

from services.api.web import i18n
from shared.contacts import notes
from shared.history.labels import ACTIONS, ENTITIES
from shared.history.labels import FIELDS as HISTORY_FIELDS
from shared.i18n import N_
from shared.pdf import FONT, Pdf

# Keys that are codo's bookkeeping, not something kept about the person.
_HIDDEN = re.compile(
    r"(^id$|_id$|_ids$|^display_name$|^possible_duplicates$|^erased$|^custom$|^preferences$)"
)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# Which vocabulary a stored value belongs to, by the key it is stored under.
_VOCABULARY = {
    "kinds": "kind",
    "as": "kind",
    "status": "status",
    "gender": "gender",
    "preferred_channel": "channel",
    "channel": "channel",
    "purpose": "purpose",
    "availability": "availability",
    "support_kinds": "support",
    "direction": "direction",
    "outcome": "outcome",
    "action": "import",
}


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, Table]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.facts and not any(t.rows for _, t in self.tables)


@dataclass
class Document:
    locale: str
    title: str
    subject: str
    as_of: str
    intro: str
    sections: list[Section]


class _Words:
    """Labels and values in one reader's language."""

    def __init__(self, locale: str) -> None:
        self.locale = i18n.pick(locale) or i18n.DEFAULT_LOCALE
        self._languages = Locale.parse(self.locale).languages

    def __call__(self, text: str, **params: Any) -> str:
        return i18n.gettext(self.locale, text, **params)

    def field(self, key: str) -> str:
        """A field's label: the contacts' and the history's names, else the key as words."""
        for vocabulary in ("field", "column"):
            found = i18n.gettext(self.locale, f"{vocabulary}:{key}")
            if found != f"{vocabulary}:{key}":
                return found
        if key in HISTORY_FIELDS:
            return self(HISTORY_FIELDS[key])
        return i18n.label(self.locale, "field", key)

    def value(self, key: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if isinstance(value, bool):
            return self("yes") if value else self("no")
        if isinstance(value, int | float):
            return i18n.number(self.locale, value)
        if isinstance(value, list):
            return ", ".join(self.value(key, v) for v in value)
        if isinstance(value, dict):
            if "name" in value:  # a programme and the like
                return str(value["name"])
            return "; ".join(f"{self.field(k)}: {self.value(k, v)}" for k, v in value.items())
        text = str(value)
        if _ISO_MOMENT.match(text):
            return i18n.moment(self.locale, text)
        if _ISO_DAY.match(text):
            return i18n.day(self.locale, text)
        if key == "languages":
            return str(self._languages.get(text, text))
        if key in _VOCABULARY:
            return self.term(_VOCABULARY[key], text)
        return text

    def term(self, vocabulary: str, key: str) -> str:
        """A stored key by its label: ``vocabulary:key`` first, then the key's own message id."""
        for message_id in (f"{vocabulary}:{key}", key):
            found = i18n.gettext(self.locale, message_id)
            if found != message_id:
                return found
        return i18n.label(self.locale, vocabulary, key)


def _table(_: _Words, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    return Table(
        columns=[_.field(c) for c in columns],
        rows=[[_.value(c, row.get(c)) for c in columns] for row in rows],
    )


def _generic(_: _Words, rows: list[Any]) -> Table:
    """A domain's list that has no layout of its own: every column but codo's ids."""
    dicts = [r for r in rows if isinstance(r, dict)]
    columns: list[str] = []
    for row in dicts:
        columns += [k for k in row if k not in columns and not _HIDDEN.search(k)]
    return _table(_, dicts, columns)


def _profile(_: _Words, contact: dict[str, Any]) -> Section:
    section = Section(_("Profile"))
    for key, value in contact.items():
        if _HIDDEN.search(key) or key in ("missing_consents", "status_changed_at"):
            continue
        if key in ("legal_hold", "legal_hold_reason") and not contact.get("legal_hold"):
            continue
        section.facts.append((_.field(key), _.value(key, value)))
    for key, item in (contact.get("custom") or {}).items():
        label = item.get("label") or {}
        name = label.get(_.locale) or label.get("de") or _.field(key)
        section.facts.append((str(name), _.value(key, item.get("value"))))
    return section


def _changes(_: _Words, changes: list[dict[str, Any]]) -> Table:
    rows = []
    for c in changes:
        what = _(ENTITIES.get(c.get("entity", ""), "Record"))
        done = str(c.get("action") or "")
        action = _(ACTIONS[done]) if done in ACTIONS else _.term("action", done)
        fields = ", ".join(_.field(k) for k in (c.get("changes") or {}))
        rows.append(
            [_.value("at", c.get("at")), f"{what}: {action}", fields or "—", str(c.get("actor") or "")]
        )
    return Table([_("When"), _("What"), _("Fields"), _("By")], rows)


# The sections of each domain's part, in the order a reader expects them.
_DOMAIN_PARTS: dict[str, list[tuple[str, str, list[str]]]] = {
    "intake": [
        ("preparation", N_("Preparation"), ["step", "done_on", "done_by", "outcome", "note"]),
        (
            "certificate_inspections",
            N_("Certificate of good conduct"),
            ["issued_on", "inspected_on", "inspected_by", "has_relevant_entries"],
        ),
        ("events", N_("Events"), ["title", "starts_at", "status"]),
        ("sign_ups", N_("Sign-ups"), ["sent_at", "confirmed_at", "email", "answers"]),
    ],
    "matching": [
        ("matches", N_("Tandems"), ["as", "status", "proposed_on", "started_on", "ended_on"]),
        ("check_ins", N_("Check-ins"), ["on", "channel", "rating", "notes"]),
        ("meetings", N_("Meetings"), ["on", "minutes", "activity", "notes"]),
        ("meeting_log", N_("Meetings logged by the mentor"), ["rating", "activities", "worried"]),
        (
            "meeting_log_links",
            N_("Links to the meeting log"),
            ["created_at", "sent_by_email", "last_used_at", "revoked_at"],
        ),
        ("concerns", N_("Signals from the tandem"), ["on", "summary", "text"]),
    ],
    "tasks": [
        ("tasks", N_("Tasks"), ["title", "due_date", "status", "description"]),
        ("appointments", N_("Appointments"), ["title", "starts_at", "status"]),
    ],
    "core": [("emails", N_("E-mails"), ["written_at", "sent_at", "subject", "status"])],
}
_DOMAIN_TITLES = {
    "intake": N_("Preparation and events"),
    "matching": N_("Tandems"),
    "tasks": N_("Tasks and appointments"),
    "history": N_("Changes"),
    "core": N_("E-mails to this person"),
}


def _domain(_: _Words, name: str, part: dict[str, Any]) -> Section:
    section = Section(_(_DOMAIN_TITLES.get(name, name.replace("_", " ").capitalize())))
    known = _DOMAIN_PARTS.get(name, [])
    for key, title, columns in known:
        rows = part.get(key) or []
        if rows:
            section.tables.append((_(title), _table(_, rows, columns)))
    if name == "history" and part.get("changes"):
        section.tables.append((_("Changes"), _changes(_, part["changes"])))
    listed = {k for k, _t, _c in known} | {"changes"}
    for key, value in part.items():
        if key in listed or value in (None, "", [], {}):
            continue
        if isinstance(value, list):
            section.tables.append((_.field(key), _generic(_, value)))
        else:
            section.facts.append((_.field(key), _.value(key, value)))
    return section


def document(data: dict[str, Any], locale: str) -> Document:
    _ = _Words(locale)
    contact = data["contact"]
    sections = [_profile(_, contact)]
    links = Section(_("Links to other people"))
    for link in data.get("links", []):
        kind = _.term("link", link["kind"])
        if link["direction"] == "outgoing":
            links.facts.append((kind, str(link["other"])))
        else:
            links.facts.append((str(link["other"]), _.term("link-back", link["kind"])))
    sections.append(links)
    consents = Section(_("Consents"))
    if data.get("consents"):
        consents.tables.append(
            (
                "",
                Table(
                    [_("Date"), _("Purpose"), _("Status"), _("Given by"), _("Evidence")],
                    [
                        [
                            _.value("on", c["effective_on"]),
                            _.term("purpose", c["purpose"]),
                            _.term("consent", c["status"]),
                            c.get("given_by") or "—",
                            c.get("evidence") or "—",
                        ]
                        for c in data["consents"]
                    ],
                ),
            )
        )
    sections.append(consents)
    timeline = Section(_("Notes and contacts"))
    if data.get("timeline"):
        timeline.tables.append(
            (
                "",
                Table(
                    [_("When"), _("Kind of entry"), _("By"), _("Text")],
                    [
                        [
                            _.value("at", a["occurred_at"]),
                            _.term("activity", a["kind"]),
                            a.get("author") or "",
                            notes.note_text(a["text"], _.locale),
                        ]
                        for a in data["timeline"]
                    ],
                ),
            )
        )
    sections.append(timeline)
    for name, part in data.get("domains", {}).items():
        sections.append(_domain(_, name, part))
    imports = Section(_("Imported from files"))
    if data.get("imports"):
        imports.tables.append(
            (
                "",
                Table(
                    [_("When"), _("File"), _("What happened")],
                    [
                        [_.value("at", i["at"]), i["file"], _.term("import", i["action"])]
                        for i in data["imports"]
                    ],
                ),
            )
        )
    sections.append(imports)
    return Document(
        locale=_.locale,
        title=_("Data stored about %(name)s", name=contact.get("display_name") or ""),
        subject=str(contact.get("display_name") or ""),
        as_of=_("As of %(moment)s", moment=i18n.moment(_.locale, data["exported_at"])),
        intro=_(
            "This is everything the organisation keeps about this person in codo (GDPR Art. 15). "
            "A machine-readable copy (JSON, GDPR Art. 20) can be downloaded as well."
        ),
        sections=sections,
    )


def attachment(contact_id: uuid.UUID, format: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="auskunft-{contact_id}.{format}"'}


# ---------------------------------------------------------------- PDF


def pdf(doc: Document) -> bytes:
    out = Pdf(f"{doc.title} · {doc.as_of}")
    out.set_title(doc.title)
    out.add_page()
    width = out.w - out.l_margin - out.r_margin
    out.set_font(FONT, "B", 15)
    out.multi_cell(width, 7, doc.title, new_x="LMARGIN", new_y="NEXT")
    out.set_font(FONT, size=9)
    out.multi_cell(width, 5, doc.as_of, new_x="LMARGIN", new_y="NEXT")
    out.ln(1)
    out.multi_cell(width, 4.5, doc.intro, new_x="LMARGIN", new_y="NEXT")
    for section in doc.sections:
        out.ln(4)
        out.set_font(FONT, "B", 12)
        out.multi_cell(width, 6, section.title, new_x="LMARGIN", new_y="NEXT")
        if section.empty:
            out.set_font(FONT, "I", 9)
            out.multi_cell(
                width, 5, i18n.gettext(doc.locale, "Nothing is kept."), new_x="LMARGIN", new_y="NEXT"
            )
            continue
        out.set_font(FONT, size=9)
        if section.facts:
            with out.table(col_widths=(35, 65), first_row_as_headings=False, line_height=4.6) as table:
                for name, value in section.facts:
                    row = table.row()
                    row.cell(name)
                    row.cell(value)
        for title, data in section.tables:
            if not data.rows:
                continue
            if title:
                out.ln(2)
                out.set_font(FONT, "B", 10)
                out.multi_cell(width, 5, title, new_x="LMARGIN", new_y="NEXT")
            out.set_font(FONT, size=8)
            with out.table(line_height=4.2) as table:
                heading = table.row()
                for column in data.columns:
                    heading.cell(column)
                for values in data.rows:
                    row = table.row()
                    for value in values:
                        row.cell(value)
    return bytes(out.output())
