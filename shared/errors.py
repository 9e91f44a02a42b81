"""Domain errors. The API turns each into RFC 9457 problem+json with a stable ``type``.

How to raise one (the convention every domain follows):

- The first argument is the message id: the English text with named ``%(name)s`` placeholders,
  a plain string literal (never an f-string, never built at run time), so ``pybabel extract``
  finds it and the catalogues can translate it::

      raise ValidationFailed(
          "cannot be before the pair was introduced (%(introduced)s)", field="on", introduced=start
      )

- The values go in as keyword parameters (any name but ``field``). ``detail`` is the English
  message with the values filled in, exactly what the API has always answered; ``message_id``
  and ``params`` travel beside it, so a client can tell errors apart without parsing English and
  the pages show the same message in the person's language (``shared.i18n.message``), with
  dates and numbers in that person's locale.
- Every message id has a German translation in its domain's catalogue
  (``shared/<domain>/locale/de/LC_MESSAGES/<domain>.po``; errors of the modules directly in
  ``shared/`` in ``shared/locale/…/platform.po``) and an entry in the English one. The
  catalogue test fails on a message id that is missing from a catalogue.
- ``field`` names the input the message is about (``mentor_id``, ``rows.3.email``).
- A parser that refuses a value raises :class:`InvalidValue` (a ``ValueError`` with a message
  id); ``ValidationFailed.refusing(exc, field=…)`` turns it into a domain error that keeps the id.
- A choice of vocabulary keys goes in as :class:`AnyOf` ("introduced or ended"), so a German
  page reads "vorgestellt oder beendet" while the English ``detail`` stays as it was.
"""

from __future__ import annotations

from typing import Any


class AnyOf(tuple[str, ...]):
    """Keys of which one is meant: "a or b" in the English detail, labels joined per locale."""

    def __str__(self) -> str:
        return " or ".join(self)


class InvalidValue(ValueError):
    """A value a parser refuses, with a message id and parameters like :class:`DomainError`."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message_id = message
        self.params = params


class DomainError(Exception):
    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(self, message: str, *, field: str | None = None, **params: Any) -> None:
        detail = message % params if params else message
        super().__init__(detail)
        self.message_id = message
        self.params = params
        self.detail = detail
        self.field = field

    @classmethod
    def refusing(cls, exc: Exception, *, field: str | None = None) -> DomainError:
        """This error for a parser's refusal; an :class:`InvalidValue` keeps its message id."""
        if isinstance(exc, InvalidValue):
            return cls(exc.message_id, field=field, **exc.params)
        return cls(str(exc), field=field)


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
