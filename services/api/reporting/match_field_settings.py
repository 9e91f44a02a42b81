"""The organisation's fields on tandems in the pages (/o/{slug}/match-fields): admins define them
(funder, kind of tandem, agreement date …), change their labels and options, archive and restore
them; reports break down by their choice fields and the match page shows and edits their values."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from services.api.web.context import PageContext, PageController
from shared.contacts import fields
from shared.contacts.fields import FieldIn, FieldOption, FieldPatch
from shared.errors import DomainError, ValidationFailed
from shared.matching.models import MatchField
from shared.permissions import Permission


def _options(raw: str) -> list[FieldOption]:
    """One option a line: ``value=German label|English label`` (labels may be left out)."""
    out = []
    for line in raw.splitlines():
        value, _, labels = line.partition("=")
        if not value.strip():
            continue
        de, _, en = labels.partition("|")
        de = de.strip() or value.strip()
        out.append(FieldOption(value=value.strip(), label_de=de, label_en=en.strip() or de))
    return out


def _options_text(options: list[dict[str, Any]]) -> str:
    return "\n".join(f"{o['value']}={o.get('label_de', '')}|{o.get('label_en', '')}" for o in options)


def _position(raw: str) -> int:
    try:
        return int(raw.strip() or "0")
    except ValueError:
        raise ValidationFailed("a whole number", field="position") from None


class MatchFieldSettings(PageController):
    path = "/o/{slug:str}/match-fields"

    async def _list(
        self, page: PageContext, *, error: DomainError | None = None, form: dict[str, str] | None = None
    ) -> Template:
        return page.render(
            "reporting/match_field_settings.html",
            status_code=error.status if error else 200,
            nav="settings",
            fields=await fields.list_fields(page.session, include_archived=True, model=MatchField),
            types=fields.FIELD_TYPES,
            error=error,
            form=form or {},
        )

    async def _edit(
        self, page: PageContext, field_id: uuid.UUID, *, error: DomainError | None = None,
        form: dict[str, str] | None = None,
    ) -> Template:  # fmt: skip
        found = await fields.get_field(page.session, field_id, model=MatchField)
        return page.render(
            "reporting/match_field_edit.html",
            status_code=error.status if error else 200,
            nav="settings",
            f=found,
            error=error,
            form=form
            or {
                "label_de": found.label_de,
                "label_en": found.label_en,
                "options": _options_text(found.options),
                "required": "yes" if "match" in found.required_for else "",
                "position": str(found.position),
            },
        )

    @get("")
    async def index(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        return await self._list(page)

    @post("", status_code=303)
    async def create(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        try:
            data = FieldIn(
                key=form.get("key", "").strip(),
                label_de=form.get("label_de", ""),
                label_en=form.get("label_en", "") or form.get("label_de", ""),
                type=form.get("type", ""),
                options=_options(form.get("options", "")),
                required_for=["match"] if form.get("required") == "yes" else [],
                position=_position(form.get("position", "")),
            )
            async with page.session.begin_nested():
                await fields.create_field(page.session, page.org.id, data, model=MatchField)
        except DomainError as exc:
            return await self._list(page, error=exc, form=form)
        return Redirect(f"/o/{page.org.slug}/match-fields", status_code=303)

    @get("/{field_id:uuid}")
    async def edit(self, page: NamedDependency[PageContext], field_id: FromPath[uuid.UUID]) -> Template:
        await fields.get_field(page.session, field_id, model=MatchField)
        page.require(Permission.SETTINGS_MANAGE)
        return await self._edit(page, field_id)

    @post("/{field_id:uuid}", status_code=303)
    async def update(
        self, page: NamedDependency[PageContext], field_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        found = await fields.get_field(page.session, field_id, model=MatchField)
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        choice = found.type in ("choice", "multi_choice")
        try:
            patch = FieldPatch(
                label_de=form.get("label_de", ""),
                label_en=form.get("label_en", ""),
                options=_options(form.get("options", "")) if choice else None,
                required_for=["match"] if form.get("required") == "yes" else [],
                position=_position(form.get("position", "")),
            )
            async with page.session.begin_nested():
                await fields.update_field(page.session, field_id, patch, model=MatchField)
        except DomainError as exc:
            return await self._edit(page, field_id, error=exc, form=form)
        return Redirect(f"/o/{page.org.slug}/match-fields", status_code=303)

    @post("/{field_id:uuid}/archive", status_code=303)
    async def archive(self, page: NamedDependency[PageContext], field_id: FromPath[uuid.UUID]) -> Redirect:
        await fields.get_field(page.session, field_id, model=MatchField)
        page.require(Permission.SETTINGS_MANAGE)
        await fields.archive_field(page.session, field_id, model=MatchField)
        return Redirect(f"/o/{page.org.slug}/match-fields", status_code=303)

    @post("/{field_id:uuid}/restore", status_code=303)
    async def restore(self, page: NamedDependency[PageContext], field_id: FromPath[uuid.UUID]) -> Redirect:
        await fields.get_field(page.session, field_id, model=MatchField)
        page.require(Permission.SETTINGS_MANAGE)
        await fields.restore_field(page.session, field_id, model=MatchField)
        return Redirect(f"/o/{page.org.slug}/match-fields", status_code=303)


ROUTES = [MatchFieldSettings]
