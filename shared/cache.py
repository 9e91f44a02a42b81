"""Small per-process caches with a short time to live.

For values that change rarely and are read on every request (an organisation by its slug, an
API token found usable). A change made in this process drops its entry at once;
other processes and replicas see it when the entry expires, so only values for which a few
seconds of staleness is harmless belong here. Keys must name the organisation a value belongs to:
nothing here may ever answer one organisation with another's data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

_ALL: list[TtlCache[object]] = []


class TtlCache(Generic[V]):
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, V]] = {}
        _ALL.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: Hashable, value: V) -> None:
        if len(self._entries) >= self.max_entries:
            # Many organisations: start over rather than keep a least-recently-used order per hit.
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def drop(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def drop_where(self, predicate: Callable[[V], bool]) -> None:
        for key in [k for k, (_, value) in self._entries.items() if predicate(value)]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def clear_all() -> None:
    """Forget every cached value of this process (tests that change rows behind codo's back)."""
    for cache in _ALL:
        cache.clear()
