"""The home page of an organisation."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Template

from services.api.web.context import PageContext, PageController
from shared.permissions import Permission


class HomePage(PageController):
    path = "/o/{slug:str}"

    @get("")
    async def home(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.ORG_READ)
        return page.render("home.html", nav="home")


ROUTES = [HomePage]
