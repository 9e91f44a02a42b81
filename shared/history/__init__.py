"""The change history of an organisation: who changed, exported or erased what, and when."""

from shared.history.service import (
    REDACTED,
    Search,
    acting,
    bind,
    created,
    deleted,
    diff,
    is_bound,
    jsonable,
    merge_person,
    record,
    record_many,
    scrub_person,
    snapshot,
)

__all__ = [
    "REDACTED",
    "Search",
    "acting",
    "bind",
    "created",
    "deleted",
    "diff",
    "is_bound",
    "jsonable",
    "merge_person",
    "record",
    "record_many",
    "scrub_person",
    "snapshot",
]
