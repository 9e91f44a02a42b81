"""The JSON API's one set of pagination parameters: ``?limit=`` and ``?cursor=``.

A list endpoint declares ``limit: int = Limit, cursor: str | None = Cursor`` and passes both to
the domain, which answers a :class:`shared.pagination.Page` with ``next_cursor``.
"""

from __future__ import annotations

from litestar.params import Parameter

from shared.pagination import MAX_LIMIT

Limit = Parameter(ge=1, le=MAX_LIMIT, default=50, description="items per page")
Cursor = Parameter(default=None, description="next_cursor of the previous page")
