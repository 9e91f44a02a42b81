"""The day it is for codo's people: their calendar day in Germany, wherever the server runs.

Servers and containers keep UTC, so ``date.today()`` turns an hour or two before midnight in
Berlin: a sign-up confirmed at 00:30 would be recorded on the next day by one part of codo and
refused as "in the future" by another. Every "today" of the domain comes from here.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Berlin")


def today() -> date:
    return datetime.now(ZONE).date()
