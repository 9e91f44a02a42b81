"""With many waiting mentees the board stays short: it searches, filters by language, postal-code
area and day, and pages each list, keeping the filters on every link."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from litestar.testing import AsyncTestClient

from shared.db import Database
from tests.conftest import Org
from tests.fixtures.matching import MatchingApi
from tests.fixtures.tasks import add_member, sign_in


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def waiting_names(html: str) -> list[str]:
    section = html[html.index('id="waiting-title"') : html.index('id="suggestions-title"')]
    return re.findall(r"mentee=[^\"]+\">([^<]+)</a>", section)


async def test_sixty_waiting_mentees_are_searched_filtered_and_paged(
    browserless: AsyncTestClient[Any], db: Database, org_a: Org, matching: MatchingApi
) -> None:
    for i in range(60):
        language = ["ar", "uk", "de"][i % 3]
        days = ["tue-afternoon"] if i % 4 == 0 else ["sat-morning"]
        await matching.person(
            "mentee", f"Kind{i:02d}", languages=[language], postal_code=f"1{i % 2}{i:03d}", availability=days
        )
    await matching.person("mentor", "Hanna", languages=["ar", "de"], postal_code="10115", capacity=2)
    await sign_in(browserless, await add_member(db, org_a))
    url = f"/o/{org_a.slug}/matching"

    board = await browserless.get(url)
    seen = text(board.text)
    assert "Wartende Mentees (60)" in seen
    assert len(waiting_names(board.text)) == 20, "one page of twenty, not sixty cards"
    assert "Seite 1 von 3" in seen

    board = await browserless.get(url, params={"language": "ar"})
    seen = text(board.text)
    assert "Wartende Mentees (20 von 60)" in seen, "every third mentee speaks Arabic"
    assert all(int(n.split()[0][4:]) % 3 == 0 for n in waiting_names(board.text))
    assert "Verfügbare Mentor:innen (1 von 1)" in seen and "Arabisch" in seen, "languages show by name"

    board = await browserless.get(url, params={"language": "ar", "area": "10", "day": "tue"})
    names = waiting_names(board.text)
    # Arabic (i % 3 == 0), postal code 10… (even i), Tuesday (i % 4 == 0): i % 12 == 0.
    assert [int(n.split()[0][4:]) for n in names] == [0, 12, 24, 36, 48]

    board = await browserless.get(url, params={"q": "kind07"})
    assert waiting_names(board.text) == ["Kind07 Test"]

    board = await browserless.get(url, params={"language": "uk", "wpage": "9"})
    assert len(waiting_names(board.text)) == 20 and "Seite 1 von 1" not in text(board.text), (
        "9 is read as the last"
    )
    board = await browserless.get(url, params={"sort": "name", "wpage": "3"})
    names = waiting_names(board.text)
    assert names[0] == "Kind40 Test" and names[-1] == "Kind59 Test" and "Seite 3 von 3" in text(board.text)
    prev = re.search(r'href="\?([^"]+)" rel="prev"', board.text)
    assert (
        prev is not None and "sort=name" in unescape(prev.group(1)) and "wpage=2" in unescape(prev.group(1))
    )

    board = await browserless.get(url, params={"area": "1a"})
    assert board.status_code == 200
    assert 'id="area-error"' in board.text and "ersten Ziffern einer Postleitzahl" in board.text
    assert "Wartende Mentees (60)" in text(board.text), "a bad filter shows everyone, with the reason"
    board = await browserless.get(url, params={"language": "xx"})
    assert 'id="language-error"' in board.text and "Kürzel aus zwei Buchstaben" in board.text
