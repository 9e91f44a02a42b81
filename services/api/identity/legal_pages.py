"""The settings page of an organisation's legal pages, set once and linked from every public form."""

from __future__ import annotations

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from services.api.web.context import PageContext, PageController
from shared import organizations
from shared.errors import ValidationFailed
from shared.organizations import LegalPages
from shared.permissions import Permission


class LegalPagesPage(PageController):
    path = "/o/{slug:str}/settings/legal"

    @get("")
    async def show(self, page: NamedDependency[PageContext], saved: FromQuery[bool] = False) -> Template:
        page.require(Permission.SETTINGS_MANAGE)
        current = await organizations.legal_pages(page.session, page.org.id)
        return page.render("identity/legal.html", nav="settings", values=current, saved=saved, error=None)

    @post("", status_code=303)
    async def save(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        wanted = LegalPages(privacy_url=form.get("privacy_url"), imprint_url=form.get("imprint_url"))
        try:
            async with page.session.begin_nested():
                await organizations.set_legal_pages(page.session, page.org.id, wanted)
        except ValidationFailed as exc:
            return page.render(
                "identity/legal.html", nav="settings", values=wanted, saved=False, error=exc, status_code=422
            )
        return Redirect(f"/o/{page.org.slug}/settings/legal?saved=1", status_code=303)


ROUTES = [LegalPagesPage]
