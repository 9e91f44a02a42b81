"""The design system's files: Pico CSS and codo's own, each under an address that changes with its
content, so browsers keep them for a year and still never show a stale one; a favicon."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

from services.api.web.assets import STATIC, static_url
from services.api.web.templating import API_ROOT


async def test_pages_name_their_files_by_content_and_those_addresses_are_cached_for_good(
    client: AsyncTestClient[Any],
) -> None:
    page = await client.get("/signin")
    assert page.status_code == 200
    sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert sheets == [static_url("pico-2.1.1.min.css"), static_url("codo.css")]
    assert all(re.fullmatch(r"/static/[\w.-]+\?v=[0-9a-f]{12}", s) for s in sheets)
    for address in [*sheets, static_url("codo.js")]:
        r = await client.get(address)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    # An address without the current hash (an old page, a hand-typed link) is revalidated soon.
    for stale in ("/static/codo.css", "/static/codo.css?v=000000000000"):
        r = await client.get(stale)
        assert r.status_code == 200 and "immutable" not in r.headers["cache-control"]


async def test_pico_is_vendored_with_its_licence_and_no_page_loads_anything_from_elsewhere(
    client: AsyncTestClient[Any],
) -> None:
    licence = await client.get("/static/pico-2.1.1.LICENSE")
    assert licence.status_code == 200 and "MIT" in licence.text
    assert (STATIC / "pico-2.1.1.min.css").read_text().startswith('@charset "UTF-8";/*!\n * Pico CSS')
    page = await client.get("/signin")
    assert not re.search(r'(src|href)="(https?:)?//', page.text)


async def test_the_favicon_is_there(client: AsyncTestClient[Any]) -> None:
    ico = await client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"
    page = await client.get("/signin")
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page.text)
    assert icon is not None
    svg = await client.get(icon.group(1))
    assert svg.status_code == 200 and svg.text.startswith("<svg")


def classes_in_templates() -> dict[str, set[str]]:
    """Every class a template writes literally, with the templates that use it. Classes built from
    a value (``step-{{ s.state }}``) are left out; the words inside ``{% if %}`` are kept."""
    used: dict[str, set[str]] = {}
    for template in sorted(API_ROOT.rglob("*.html")):
        markup = template.read_text()
        for found in re.finditer(r'class="((?:[^"{]|\{\{.*?\}\}|\{%.*?%\})*)"', markup, re.S):
            value = re.sub(r"\{\{.*?\}\}", "\0", found.group(1))
            value = re.sub(r"\{%.*?%\}", " ", value)
            for name in value.split():
                if "\0" not in name:
                    used.setdefault(name, set()).add(template.relative_to(API_ROOT).as_posix())
    return used


def test_every_class_a_template_uses_is_defined_by_pico_or_codo_css() -> None:
    css = (STATIC / "pico-2.1.1.min.css").read_text() + (STATIC / "codo.css").read_text()
    defined = set(re.findall(r"\.(-?[A-Za-z_][\w-]*)", css))
    used = classes_in_templates()
    assert {"stack", "notice", "badge", "table-wrap", "secondary"} <= set(used)
    undefined = {name: sorted(where) for name, where in used.items() if name not in defined}
    assert undefined == {}, "style these in codo.css or drop them from the templates"
