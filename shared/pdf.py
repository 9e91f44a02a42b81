"""The page every PDF of codo is printed on: A4, a footer line, and one Unicode font.

The PDF core fonts (Helvetica and friends) know Latin-1 only, so "Łukasz Żółć", "Нина" or an
Arabic name would print as "?". codo embeds DejaVu Sans instead (regular, bold, oblique; from the
npm package ``dejavu-fonts-ttf`` 2.37.3, licence in ``fonts/`` beside the files), which covers
Latin, Greek, Cyrillic, Arabic, Hebrew and Georgian letters; only the glyphs a document uses are
embedded, so a PDF grows by a few kilobytes.

Text in a right-to-left script goes through HarfBuzz (``uharfbuzz``): without shaping an
Arabic name prints as a row of unjoined letters in the wrong order; shaped, each letter takes its
joined form and the run reads from right to left. Shaping and the bidirectional algorithm cost
about 2 ms a line, three times the rest of the printing, and the scripts DejaVu Sans covers
besides need neither, so a text is shaped only when it holds such letters.
"""

from __future__ import annotations

import re
from pathlib import Path

from fpdf import FPDF

FONT_DIR = Path(__file__).with_name("fonts")
FONT = "DejaVu"
_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
_MUTED = (110, 110, 110)
# Hebrew, Arabic, Syriac, Thaana, N'Ko… and the Hebrew and Arabic presentation forms.
_NEEDS_SHAPING = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")


class Pdf(FPDF):
    """A4 portrait in millimetres, with ``footer`` and the page number at the foot of each page."""

    def __init__(self, footer: str, *, margins: tuple[float, float, float] = (16, 14, 16)) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        for style, name in _FILES.items():
            self.add_font(FONT, style, str(FONT_DIR / name))
        self._footer = footer
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(*margins)
        self.set_font(FONT, size=9)

    def normalize_text(self, text: str) -> str:
        # Every way of printing text (cell, multi_cell, write, text) passes its text through
        # here before laying it out, and each fragment keeps the shaping it was laid out with.
        if bool(_NEEDS_SHAPING.search(text)) != bool(self.text_shaping):
            self.set_text_shaping(not self.text_shaping)
        return str(super().normalize_text(text))

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, size=7)
        self.set_text_color(*_MUTED)
        self.cell(0, 4, f"{self._footer} · {self.page_no()}", align="C")
