"""Cursor pagination: opaque cursors over time-ordered UUIDv7 ids."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Generic, TypeVar

import msgspec

from shared.errors import ValidationFailed

T = TypeVar("T")

MAX_LIMIT = 200


class Page(msgspec.Struct, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError):
        raise ValidationFailed("the cursor is not one this API handed out", field="cursor") from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            "limit must be between 1 and %(max_limit)s", field="limit", max_limit=MAX_LIMIT
        )
    return limit
