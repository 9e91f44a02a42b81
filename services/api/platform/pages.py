"""The home page of an organisation."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.response import Template

from services.api.web.context import PageContext, provide_page
from shared.permissions import Permission


class HomePage(Controller):
    path = "/o/{slug:str}"
    tags = ["web"]
    include_in_schema = False
    dependencies = {"page": Provide(provide_page)}

    @get("")
    async def home(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.ORG_READ)
        return page.render("home.html", nav="home")


ROUTES = [HomePage]
