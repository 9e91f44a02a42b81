"""UUIDv7 ids: time-ordered, so indexes stay compact, and unlike sequences they reveal
nothing about the volume of other organisations."""

from __future__ import annotations

import uuid

import uuid_utils.compat


def new_id() -> uuid.UUID:
    return uuid_utils.compat.uuid7()
