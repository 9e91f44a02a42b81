"""The Litestar application: the JSON API and the server-rendered web app."""

from __future__ import annotations

import gc
import html
import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from litestar import Litestar, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.response import File
from litestar.static_files import create_static_files_router
from sqlalchemy import text

from services.api.headers import security_headers
from services.api.limits import BODY_MAX_BYTES, request_limits_middleware
from services.api.middleware import request_context_middleware
from services.api.problems import EXCEPTION_HANDLERS
from services.api.web import assets
from services.api.web.context import cookie_middleware
from services.api.web.errors import exception_handlers
from services.api.web.templating import template_config
from shared import queue
from shared.db import Database
from shared.identity.oidc import OidcClient
from shared.identity.sessions import SessionStore
from shared.logs import configure_logging, get_logger
from shared.settings import Settings, SettingsError, load_settings

log = get_logger(__name__)


class UnsafeDatabaseRole(RuntimeError):
    pass


async def check_runtime_role(db: Database) -> None:
    """Refuse to serve through a role that row-level security would not hold."""
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    if row.rolsuper or row.rolbypassrls:
        raise UnsafeDatabaseRole(
            "CODO_DATABASE_URL connects as a superuser or a role with BYPASSRLS; "
            "use the runtime role, which cannot bypass row-level security"
        )


# The web modules of a domain's home, ``services/api/<domain>/``, that contribute routes.
WEB_MODULES = ("api", "pages")


def route_handlers() -> list[Any]:
    """Every web module contributes its ``ROUTES``: the ``api.py``/``pages.py`` of each domain's
    home under ``services/api`` (a home gathers its other modules' routes there)."""
    import services.api as api_package

    root = Path(api_package.__path__[0])
    names: list[str] = []
    for info in pkgutil.iter_modules(api_package.__path__):
        if not info.ispkg:
            continue
        for module in WEB_MODULES:
            if (root / info.name / f"{module}.py").exists():
                names.append(f"{api_package.__name__}.{info.name}.{module}")
    handlers: list[Any] = []
    for name in sorted(names):
        handlers.extend(getattr(importlib.import_module(name), "ROUTES", []))
    return handlers


SCALAR = "scalar-api-reference-1.34.6.standalone.js"


class ApiReference(OpenAPIRenderPlugin):
    """The API reference viewer (Scalar) from codo's own static files, started without inline
    script: the standalone bundle reads the document's address from the ``#api-reference`` tag."""

    def __init__(self) -> None:
        super().__init__(path="/scalar")

    def render(self, request: Any, openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        spec = html.escape(self.get_openapi_json_route(request), quote=True)
        return (
            "<!doctype html><html><head>"
            f'<meta charset="utf-8"><title>{title}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="{assets.static_url("favicon.svg")}" type="image/svg+xml">'
            "</head><body>"
            # Its own web fonts would come from Scalar's servers: the system's fonts serve.
            f'<script id="api-reference" data-url="{spec}" '
            "data-configuration='{&quot;withDefaultFonts&quot;: false}'></script>"
            f'<script src="{assets.static_url(SCALAR)}"></script>'
            "</body></html>"
        ).encode()


@get(assets.FAVICON_PATH, include_in_schema=False, sync_to_thread=False)
def favicon() -> File:
    """Browsers ask for /favicon.ico before reading any page; pages name the SVG icon."""
    return File(assets.STATIC / "favicon.ico", content_disposition_type="inline", media_type="image/x-icon")


def check_signin_settings(settings: Settings) -> None:
    """Refuse to start with a sign-in set-up that would be unsafe where it runs."""
    if settings.dev_signin and not settings.is_development:
        raise SettingsError(
            "CODO_DEV_SIGNIN lets anyone sign in as any member: it is only allowed with CODO_ENV=development"
        )
    settings.secret  # noqa: B018 (production without CODO_SECRET_KEY stops here)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    check_signin_settings(settings)
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = Database.from_settings(settings)
        redis = aioredis.Redis.from_url(settings.redis_dsn, socket_timeout=2, socket_connect_timeout=2)
        queue.configure(settings.redis_dsn)
        app.state.settings = settings
        app.state.db = db
        app.state.redis = redis
        app.state.sessions = SessionStore(redis, settings)
        app.state.oidc = OidcClient(allow_private=settings.oidc_allow_private_networks)
        try:
            await check_runtime_role(db)
        except UnsafeDatabaseRole:
            await db.dispose()
            raise
        except Exception as exc:  # the database may come up after us; /ready reports it meanwhile
            log.warning("database not reachable at start", error=type(exc).__name__)
        # Everything built so far (modules, the app, its routes, the ORM's mappings) lives as long
        # as the process: out of the collector's sight, a full collection under load walks only
        # what requests allocate instead of every object since start.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.oidc.aclose()
            await redis.aclose()
            await queue.close()
            await db.dispose()

    return Litestar(
        route_handlers=[
            *route_handlers(),
            favicon,
            create_static_files_router(path="/static", directories=[assets.STATIC], include_in_schema=False),
        ],
        lifespan=[lifespan],
        middleware=[request_context_middleware, cookie_middleware, request_limits_middleware],
        before_send=[security_headers],
        request_max_body_size=BODY_MAX_BYTES,
        exception_handlers=exception_handlers(EXCEPTION_HANDLERS),
        template_config=template_config(),
        openapi_config=OpenAPIConfig(
            title="codo API",
            version="1",
            description="Mentoring and sponsorship programmes: the JSON API. Authenticate with "
            "'Authorization: Bearer <API token>'.",
            path="/schema",
            render_plugins=[ApiReference()],
        ),
        # Our structlog set-up owns logging; Litestar's default would install its own handlers.
        logging_config=None,
        debug=False,
    )
