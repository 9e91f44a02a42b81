"""The ``codo`` command: services, migrations, organisation and token administration, the local stack."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from shared import clock
from shared.errors import DomainError
from shared.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def _settings(*required: str) -> Settings:
    try:
        return load_settings(required=required)
    except SettingsError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    async def wrapper() -> T:
        return await coro_fn()

    try:
        return asyncio.run(wrapper())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """codo: mentoring and sponsorship programmes, for many organisations on one instance."""


# --- services ---------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="address to listen on [CODO_API_HOST]")
@click.option("--port", type=int, default=None, help="port to listen on [CODO_API_PORT]")
def api(host: str | None, port: int | None) -> None:
    """Serve the API and web app (uvicorn)."""
    import uvicorn

    from services.api.app import create_app

    settings = _settings("database_url", "redis_url")
    try:
        app = create_app(settings)
    except SettingsError as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    options: dict[str, Any] = {
        "host": host or settings.api_host,
        "port": port or settings.api_port,
        "log_config": None,
        # Our own request line replaces uvicorn's access log (disabled in shared.logs as well):
        # off here, uvicorn does not build its message on every request only to drop it.
        "access_log": False,
        **proxy_options(settings),
        # In-flight requests get this long after SIGTERM; below Kubernetes' 30 s grace period.
        "timeout_graceful_shutdown": 20,
    }
    if settings.api_workers > 1:
        # Several processes on one port: uvicorn's supervisor starts them, restarts one that dies
        # and passes SIGTERM on, so each finishes its requests before it exits.
        if settings.metrics_enabled:
            from shared.metrics import serve_multiprocess

            serve_multiprocess(settings.metrics_port)
        uvicorn.run("services.api.app:create_app", factory=True, workers=settings.api_workers, **options)
        return
    if settings.metrics_enabled:
        from shared.metrics import serve

        serve(settings.metrics_port)
    uvicorn.run(app, **options)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn believes X-Forwarded-For only from the configured proxies, and by default from none:
    otherwise anyone could pick the address the rate limits count."""
    networks = [str(n) for n in settings.trusted_proxy_networks]
    return {"proxy_headers": bool(networks), "forwarded_allow_ips": networks or []}


@main.group(invoke_without_command=True)
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run the background worker (arq)."""
    if ctx.invoked_subcommand is None:
        from services.worker.main import run

        run(_settings("database_url", "redis_url"))


@worker.command("check")
def worker_check() -> None:
    """Exit 0 if this worker reported healthy recently (a liveness probe)."""
    from arq.worker import check_health

    from services.worker.main import worker_settings

    sys.exit(check_health(worker_settings(_settings("database_url", "redis_url"))))


@main.command()
@click.option("--revision", default="heads", show_default=True, help="upgrade to this revision")
@click.option(
    "--downgrade", "down_to", default=None, metavar="REVISION", help="downgrade to REVISION instead"
)
def migrate(revision: str, down_to: str | None) -> None:
    """Migrate the schema and grant the runtime role.

    Connects as CODO_MIGRATIONS_DATABASE_URL (the schema owner); the runtime role is the user of
    CODO_DATABASE_URL.
    """
    from shared import migrate as m

    settings = _settings("migrations_database_url", "database_url")
    try:
        role = m.runtime_role(settings.database_dsn)
        if down_to is not None:
            m.downgrade(settings.migrations_dsn, down_to)
            click.echo(f"downgraded to {down_to}")
            return
        m.upgrade(settings.migrations_dsn, revision)
        asyncio.run(m.grant_runtime_role(settings.migrations_dsn, role))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"migrated to {revision}; granted the runtime role {role}")


# --- organisations ----------------------------------------------------------------------------


@main.group()
def org() -> None:
    """Organisations on this instance (platform operator)."""


@org.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="the organisation's display name")
@click.option("--owner-email", default=None, help="send the first owner an invitation to this address")
def org_create(slug: str, name: str, owner_email: str | None) -> None:
    """Create an organisation (and invite its first owner)."""
    from shared import organizations, queue
    from shared.db import Database
    from shared.identity import members

    settings = _settings("database_url", *(("redis_url",) if owner_email else ()))

    async def go() -> list[str]:
        db = Database.from_settings(settings)
        if owner_email:
            queue.configure(settings.redis_dsn)
        try:
            if owner_email:
                members.normalize_email(owner_email)  # refuse a bad address before creating anything
            async with db.platform() as session:
                created = await organizations.create_organization(session, slug, name)
            lines = [f"created organisation {created.slug} ({created.id})"]
            if owner_email:
                async with db.tenant(created.id) as session:
                    invitation = await members.invite(
                        session, settings, created, members.SYSTEM_ACTOR, email=owner_email, role="owner"
                    )
                lines.append(f"invited {invitation.email} as owner; the link (valid 7 days, usable once):")
                lines.append(invitation.link)
            return lines
        finally:
            await db.dispose()
            await queue.close()

    for line in _run(go):
        click.echo(line)


@org.command("list")
def org_list() -> None:
    """List organisations."""
    from shared import organizations
    from shared.db import Database

    settings = _settings("database_url")

    async def go() -> list[Any]:
        db = Database.from_settings(settings)
        try:
            async with db.platform() as session:
                return await organizations.list_organizations(session)
        finally:
            await db.dispose()

    for o in _run(go):
        click.echo(f"{o.slug}\t{o.name}\t{o.id}\t{o.created_at:%Y-%m-%d}")


@org.command("sync")
@click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="YAML or JSON with a list `organizations:` of {slug, name, ownerEmail, oidc}",
)
def org_sync(path: str) -> None:
    """Create or update the organisations listed in a file; never deletes (reports the others)."""
    from shared import orgsync, queue
    from shared.db import Database

    settings = _settings("database_url", "redis_url")

    async def go() -> orgsync.SyncReport:
        spec = orgsync.read(path)
        db = Database.from_settings(settings)
        queue.configure(settings.redis_dsn)
        try:
            # Invitations wake the worker as their transactions commit.
            return await orgsync.sync(db, settings, spec)
        finally:
            await db.dispose()
            await queue.close()

    for line in _run(go).lines():
        click.echo(line)


# --- tokens -----------------------------------------------------------------------------------


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--org", "slug", required=True, help="organisation slug")
@click.option("--role", required=True, help="owner, admin, coordinator or viewer")
@click.option("--name", required=True, help="what the token is for")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
def token_create(slug: str, role: str, name: str, expires_in_days: int | None) -> None:
    """Create an API token; the token is printed alone on the last line."""
    from shared import organizations, tokens
    from shared.db import Database
    from shared.permissions import parse_role

    try:
        parsed_role = parse_role(role)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--role") from None
    settings = _settings("database_url")
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None

    async def go() -> tokens.NewToken:
        db = Database.from_settings(settings)
        try:
            async with db.platform() as session:
                organization = await organizations.require_org(session, slug)
            async with db.tenant(organization.id) as session:
                return await tokens.create_token(
                    session, organization.id, name=name, role=parsed_role, expires_at=expires_at
                )
        finally:
            await db.dispose()

    new = _run(go)
    click.echo(f"created {new.role} token {new.name!r} ({new.id}) for {slug}; it is shown only once:")
    click.echo(new.token)


# --- mail -------------------------------------------------------------------------------------


@main.group()
def report() -> None:
    """Reports across organisations (anonymised, opt-in)."""


@report.command("benchmarks")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="CSV file to write")
def report_benchmarks(out: str) -> None:
    """The anonymised open data set of benchmarks (CSV) and its data dictionary (<out>.dictionary.csv)."""
    from pathlib import Path

    from shared.db import Database
    from shared.reporting import benchmarks

    settings = _settings("database_url")

    async def go() -> tuple[str, str]:
        db = Database.from_settings(settings)
        try:
            return await benchmarks.open_data(db, clock.today())
        finally:
            await db.dispose()

    data, dictionary = _run(go)
    target = Path(out)
    target.write_text(data, encoding="utf-8")
    described = target.with_name(target.stem + ".dictionary.csv")
    described.write_text(dictionary, encoding="utf-8")
    click.echo(f"{target}: {max(data.count(chr(10)) - 1, 0)} rows; data dictionary in {described}")


@main.group()
def mail() -> None:
    """E-mail delivery."""


@mail.command("test")
@click.option("--to", "to", required=True, help="recipient address")
@click.option(
    "--org", "slug", default=None, help="an organisation whose outbox to use (default: the platform's)"
)
def mail_test(to: str, slug: str | None) -> None:
    """Queue a test e-mail through the outbox; a running worker delivers it.

    Without --org it is the platform's own message: it works before any organisation exists.
    """
    from shared import organizations, outbox, queue
    from shared.db import Database

    settings = _settings("database_url", "redis_url")

    async def go() -> str:
        db = Database.from_settings(settings)
        subject = "codo: Test-E-Mail / test e-mail"
        body = (
            "Diese Test-E-Mail bestätigt, dass codo E-Mails versenden kann.\n\n"
            "This test e-mail confirms that codo can send e-mail.\n"
        )
        queue.configure(settings.redis_dsn)
        try:
            if not slug:
                async with db.platform() as session:
                    message_id = await outbox.enqueue_platform(
                        session, kind="mail-test", to=to, subject=subject, body_text=body
                    )
                woke = await queue.send(queue.DELIVER_OUTBOX, job_id=queue.DELIVER_OUTBOX_ID)
                return f"queued platform test e-mail {message_id}" + (
                    "" if woke else " (Redis unreachable: the worker's next sweep delivers it)"
                )
            async with db.platform() as session:
                target = await organizations.require_org(session, slug)
            async with db.tenant(target.id) as session:
                message = await outbox.enqueue(
                    session,
                    target.id,
                    kind="mail-test",
                    to=to,
                    subject=subject,
                    body_text=body,
                )
            # The commit already woke the worker; asking again tells whether Redis answers.
            woke = await queue.send(queue.DELIVER_OUTBOX, job_id=queue.DELIVER_OUTBOX_ID)
            return f"queued test e-mail {message.id} in {target.slug}'s outbox" + (
                "" if woke else " (Redis unreachable: the worker's next sweep delivers it)"
            )
        finally:
            await db.dispose()
            await queue.close()

    click.echo(_run(go))


# --- local stack ------------------------------------------------------------------------------


@main.command()
@click.option("--port", type=int, default=8000, show_default=True, help="API port")
@click.option("--data-dir", default=".codo", show_default=True, help="where PostgreSQL and Redis keep data")
def dev(port: int, data_dir: str) -> None:
    """Run everything locally: embedded PostgreSQL and Redis, migrations, the demo programme (created
    once, never in production), API and worker."""
    from services.devserver import run_dev

    sys.exit(run_dev(port=port, data_dir=data_dir))


if __name__ == "__main__":
    main()
