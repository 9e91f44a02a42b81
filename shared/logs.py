"""structlog set-up: JSON when not on a terminal, pretty on one.

Context (``request_id``, ``org``, ``job``) is bound with structlog's contextvars so
every line of a request or job carries it. Never log personal data: ids and slugs only.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any

import structlog

from shared.settings import Settings

# Database errors carry the statement's values in their text (SQLAlchemy's "[parameters: ...]",
# asyncpg's "invalid input for query argument $1: 'a@b.example'"): names, e-mail addresses, notes.
_DATABASE_MODULES = ("sqlalchemy.", "asyncpg.")


def _from_database(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(_DATABASE_MODULES)


def _withheld(exc: BaseException) -> str:
    """The traceback of ``exc`` and its chain, with the text of every database error withheld."""
    te = traceback.TracebackException.from_exception(exc)
    pending: list[traceback.TracebackException] = [te]
    while pending:
        current = pending.pop()
        module = getattr(current.exc_type, "__module__", "") or ""
        if module.startswith(_DATABASE_MODULES):
            # format() prints _str as the message; there is no public way to replace it.
            setattr(current, "_str", "(message withheld: it may contain personal data)")  # noqa: B010
        pending.extend(x for x in (current.__cause__, current.__context__) if x is not None)
    return "".join(te.format())


def withhold_database_values(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Replace the exception of a log line by one without values when a database error is in it."""
    exc_info = event_dict.get("exc_info")
    if not exc_info:
        return event_dict
    exc: BaseException | None
    if isinstance(exc_info, BaseException):
        exc = exc_info
    elif isinstance(exc_info, tuple):
        exc = exc_info[1]
    else:
        exc = sys.exc_info()[1]
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    if not any(_from_database(e) for e in chain):
        return event_dict
    del event_dict["exc_info"]
    event_dict["exception"] = _withheld(chain[0])
    event_dict["error"] = type(chain[0]).__name__
    return event_dict


def configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.log_level.upper())
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"

    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        withhold_database_values,
    ]
    renderer: Any
    if fmt == "json":
        shared_processors.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer()

    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # Route the standard library's records (uvicorn, arq, sqlalchemy) through the same renderer.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    # A line is written on every request; no renderer shows the caller's file and line, the thread
    # or the process, and the standard library would walk the stack and look them up for each
    # record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log repeats our own request line and carries query strings.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error", "arq"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    if level > logging.DEBUG:
        # arq logs every cron tick at info; its warnings and errors (failed jobs) still come through.
        logging.getLogger("arq.worker").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
