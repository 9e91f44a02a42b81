"""What happens elsewhere when something happens to an appointment.

Tasks sit below matching in the order of the domains: an appointment knows the id of its match,
not the matching domain. Matching subscribes here to what concerns it, and the subscribers run
inside the caller's transaction, so the appointment and what follows from it are written
together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from shared.actor import Actor


@dataclass(frozen=True)
class IntroductionConfirmed:
    """An introduction meeting of a match was confirmed."""

    match_id: uuid.UUID
    met_on: date  # the meeting's day where it takes place
    today: date
    actor: Actor


IntroductionHandler = Callable[[AsyncSession, IntroductionConfirmed], Awaitable[None]]

_introduction_handlers: dict[str, IntroductionHandler] = {}


def on_introduction_confirmed(handler: IntroductionHandler) -> IntroductionHandler:
    """Subscribe ``handler`` (once, however often its module is imported)."""
    _introduction_handlers[f"{handler.__module__}.{handler.__qualname__}"] = handler
    return handler


async def introduction_confirmed(session: AsyncSession, event: IntroductionConfirmed) -> None:
    for handler in list(_introduction_handlers.values()):
        await handler(session, event)
