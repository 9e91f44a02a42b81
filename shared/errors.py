"""Domain errors. The API turns each into RFC 9457 problem+json with a stable ``type``."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class ValidationFailed(DomainError):
    status = 422
    type = "validation"
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    type = "forbidden"
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "Conflict"
