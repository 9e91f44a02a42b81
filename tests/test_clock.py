"""One calendar day for all of codo: the day in Berlin, whatever zone the server keeps."""

from __future__ import annotations

import re

from tests.conftest import REPO

# Ways to ask for the server's own day (UTC in a container) instead of codo's.
SERVER_DAY = re.compile(r"\bdate\.today\(\)|datetime\.now\(UTC\)\.date\(\)|\.utcnow\(\)\.date\(\)")


def test_every_today_of_codo_is_the_day_in_berlin() -> None:
    """Between midnight in Berlin and midnight UTC the two days differ: a sign-up confirmed then
    was refused as a consent "from the future" while one part of codo took the server's day."""
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for folder in ("shared", "services")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path.name != "clock.py"
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if SERVER_DAY.search(line)
    ]
    assert found == [], "take the day from shared.clock.today(): " + ", ".join(found)
