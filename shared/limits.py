"""Bounds every request body field has, checked by msgspec while decoding.

A request schema says ``Text`` instead of ``str``, ``Items[X]`` instead of ``list[X]``,
``Fields[K, V]`` instead of ``dict[K, V]`` and ``Int4`` instead of ``int``: no handler then
sees a string, list or mapping larger than what any field of codo holds, a NUL character
(PostgreSQL text cannot store one) or an integer its ``integer`` column cannot take. A field
with a tighter rule says so with its own ``Annotated[..., Meta(...)]``; the domain services
keep their field-specific checks (a postal code's shape, a tag's length).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from msgspec import Meta

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

# The longest text any field keeps (a task's or an appointment's description).
TEXT_MAX = 20_000
LIST_MAX = 500
FIELDS_MAX = 200
# Tags, interests, support kinds: the profile's own lists.
ENTRIES_MAX = 50
NO_NUL = "^[^\\x00]*$"
INT4_MIN = -(2**31)
INT4_MAX = 2**31 - 1

Text = Annotated[str, Meta(max_length=TEXT_MAX, pattern=NO_NUL)]
Short = Annotated[str, Meta(max_length=200, pattern=NO_NUL)]
Items = Annotated[list[T], Meta(max_length=LIST_MAX)]
Entries = Annotated[list[T], Meta(max_length=ENTRIES_MAX)]
Fields = Annotated[dict[K, V], Meta(max_length=FIELDS_MAX)]
Int4 = Annotated[int, Meta(ge=INT4_MIN, le=INT4_MAX)]
