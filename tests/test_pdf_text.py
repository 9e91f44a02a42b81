"""Names in any script reach the PDFs codo hands out: the person's data (Art. 15) and the report
export print "Łukasz Żółć", "Нина" or an Arabic name as written, never as "?"."""

from __future__ import annotations

import io
from typing import Any

from fontTools.ttLib import TTFont
from litestar.testing import AsyncTestClient
from pypdf import PdfReader

from shared.permissions import Role
from tests.conftest import Org

NAMES = (("Łukasz", "Żółć"), ("Ayşe", "Yılmaz"), ("Нина", "Кузнецова"), ("سارة", "حداد"), ("Ελένη", "Παππά"))  # noqa: RUF001


def _text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _printed(text: str, words: str) -> bool:
    # Right-to-left script is stored in display order, which extraction reads from left to right.
    return text in words or text[::-1] in words


async def test_the_persons_data_pdf_prints_every_name_as_written(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    api = f"/api/v1/orgs/{org_a.slug}/contacts"
    for first, last in NAMES:
        body = {"kinds": ["mentor"], "first_name": first, "last_name": last, "city": "Köln"}
        r = await client.post(api, json=body, headers=org_a.auth())
        assert r.status_code == 201, r.text
        pdf = await client.get(
            f"{api}/{r.json()['id']}/export", params={"format": "pdf"}, headers=org_a.auth()
        )
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        words = _text(pdf.content)
        assert "?" not in words, words
        assert _printed(f"{first} {last}", words) and "Köln" in words, words


def _joined_forms(content: bytes) -> set[str]:
    """The Arabic presentation forms (initial, medial, final) among the glyphs a PDF embeds."""
    found: set[str] = set()
    for page in PdfReader(io.BytesIO(content)).pages:
        for font in page["/Resources"]["/Font"].values():
            for part in font.get_object().get("/DescendantFonts", []):
                data = part.get_object()["/FontDescriptor"].get_object()["/FontFile2"].get_object()
                glyphs = TTFont(io.BytesIO(data.get_data())).getGlyphOrder()
                found |= {g for g in glyphs if g.startswith("uniFE") and "FE70" <= g[3:] <= "FEFC"}
    return found


async def test_an_arabic_name_prints_with_joined_letters_in_reading_order(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    api = f"/api/v1/orgs/{org_a.slug}/contacts"
    body = {"kinds": ["mentee"], "first_name": "سارة", "last_name": "حداد", "city": "Köln"}
    r = await client.post(api, json=body, headers=org_a.auth())
    assert r.status_code == 201, r.text
    pdf = await client.get(f"{api}/{r.json()['id']}/export", params={"format": "pdf"}, headers=org_a.auth())
    assert pdf.status_code == 200
    # Shaped text keeps the letters' logical order in the text layer (copy, search, screen readers).
    assert "سارة حداد" in _text(pdf.content)
    # Seen and hah take their initial forms, the alef and dal joined to them their final forms.
    assert {"uniFEB3", "uniFEA3", "uniFE8E", "uniFEAA"} <= _joined_forms(pdf.content)


async def test_the_report_pdf_prints_a_programme_in_any_script(
    client: AsyncTestClient[Any], org_a: Org
) -> None:
    name = "Нина & Łukasz"
    r = await client.post(
        f"/api/v1/orgs/{org_a.slug}/contacts/programmes", json={"name": name}, headers=org_a.auth()
    )
    assert r.status_code in (200, 201), r.text
    params = {"from": "2025-01-01", "to": "2025-12-31", "programme": r.json()["id"], "locale": "de"}
    pdf = await client.get(
        f"/api/v1/orgs/{org_a.slug}/reports/export/pdf", params=params, headers=org_a.auth(Role.VIEWER)
    )
    assert pdf.status_code == 200, pdf.text
    words = _text(pdf.content)
    assert name in words and "01.01.2025 – 31.12.2025" in words and "?" not in words, words  # noqa: RUF001
