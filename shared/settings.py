"""Settings: every ``CODO_*`` environment variable, parsed once into one typed object.

A missing or malformed value stops the start with a message that names the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Literal

import msgspec

PREFIX = "CODO_"

Environment = Literal["development", "test", "production"]
SmtpTls = Literal["none", "starttls", "tls"]
LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class PlatformProvider(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One entry of ``CODO_OIDC_PROVIDERS``."""

    key: str
    label: str
    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    # False accepts a provider that never sends email_verified (see the README for when that is safe).
    require_email_verified: bool = True


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    # Field order is the order of the README table; keep them in step.
    env: Environment = "production"
    # Required by the commands that use them (see ``load_settings(required=...)``).
    database_url: str | None = None
    migrations_database_url: str | None = None
    redis_url: str | None = None
    public_url: str = "http://localhost:8000"

    # Fifteen kept, none beyond: an overflow connection is closed as soon as it is returned, so
    # under steady load SQLAlchemy kept opening new ones, each a new backend that prepares every
    # statement again (it showed in the API's profile).
    db_pool_size: int = 15
    db_max_overflow: int = 0
    db_pool_timeout: float = 10.0
    db_connect_timeout: float = 5.0
    db_statement_timeout_ms: int = 30_000
    # PgBouncer in transaction mode cannot keep prepared statements per client.
    db_statement_cache: bool = True

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = 1
    # Comma-separated networks (CIDR) of the reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: str | None = None

    log_level: LogLevel = "info"
    log_format: LogFormat = "auto"

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_tls: SmtpTls = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout: float = 30.0
    mail_from: str = "codo <noreply@localhost>"

    outbox_poll_seconds: int = 10
    outbox_batch_size: int = 50
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: int = 30
    outbox_lease_seconds: int = 300
    # Days after delivery that an e-mail's body and attachments are kept (they hold personal data);
    # the delivery record (to whom, when, how often tried) stays.
    outbox_body_retention_days: int = 30

    worker_max_jobs: int = 10
    worker_job_timeout: int = 300
    worker_health_check_interval: int = 30
    worker_name: str | None = None

    metrics_enabled: bool = False
    metrics_port: int = 9100

    # Sign-in and sessions (see shared/identity).
    secret_key: str | None = None
    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    signin_attempts_per_minute: int = 20
    oidc_providers: str | None = None
    # On-premises providers live in private networks; by default sign-in never connects there.
    oidc_allow_private_networks: bool = False
    dev_signin: bool = False

    def __post_init__(self) -> None:
        _check_positive(
            self,
            "db_pool_size",
            "db_pool_timeout",
            "db_connect_timeout",
            "api_port",
            "api_workers",
            "smtp_port",
            "smtp_timeout",
            "outbox_poll_seconds",
            "outbox_batch_size",
            "outbox_max_attempts",
            "outbox_backoff_seconds",
            "outbox_lease_seconds",
            "outbox_body_retention_days",
            "worker_max_jobs",
            "worker_job_timeout",
            "worker_health_check_interval",
            "metrics_port",
            "session_idle_minutes",
            "session_absolute_hours",
            "signin_attempts_per_minute",
        )
        if self.db_max_overflow < 0:
            raise SettingsError(f"{PREFIX}DB_MAX_OVERFLOW must be 0 or more")
        if not 1 <= self.outbox_poll_seconds <= 60:
            raise SettingsError(f"{PREFIX}OUTBOX_POLL_SECONDS must be between 1 and 60")
        for name in ("database_url", "migrations_database_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(
                ("postgresql://", "postgresql+asyncpg://", "postgres://")
            ):
                raise SettingsError(f"{env_name(name)} must be a postgresql:// URL")
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"{PREFIX}REDIS_URL must be a redis:// or rediss:// URL")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise SettingsError(f"{PREFIX}SMTP_USERNAME and {PREFIX}SMTP_PASSWORD must be set together")
        if self.secret_key is not None and len(self.secret_key) < 32:
            raise SettingsError(f"{PREFIX}SECRET_KEY must be at least 32 characters")
        if self.session_idle_minutes > self.session_absolute_hours * 60:
            raise SettingsError(
                f"{PREFIX}SESSION_IDLE_MINUTES must not exceed {PREFIX}SESSION_ABSOLUTE_HOURS"
            )
        self.platform_providers  # noqa: B018 (parsed here so a malformed value stops the start)
        self.trusted_proxy_networks  # noqa: B018

    @property
    def database_dsn(self) -> str:
        return self._need("database_url")

    @property
    def redis_dsn(self) -> str:
        return self._need("redis_url")

    @property
    def migrations_dsn(self) -> str:
        return self._need("migrations_database_url")

    def _need(self, name: str) -> str:
        value = getattr(self, name)
        if value is None:
            raise SettingsError(f"{env_name(name)} is required but not set")
        return str(value)

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def platform_providers(self) -> tuple[PlatformProvider, ...]:
        """The operator's identity providers from ``CODO_OIDC_PROVIDERS`` (a JSON list)."""
        if not self.oidc_providers:
            return ()
        try:
            providers = msgspec.json.decode(self.oidc_providers, type=list[PlatformProvider])
        except msgspec.DecodeError as exc:
            raise SettingsError(f"{PREFIX}OIDC_PROVIDERS is malformed: {exc}") from None
        keys = [p.key for p in providers]
        if len(set(keys)) != len(keys):
            raise SettingsError(f"{PREFIX}OIDC_PROVIDERS: every provider needs its own key")
        for p in providers:
            if not KEY_RE.match(p.key):
                raise SettingsError(f"{PREFIX}OIDC_PROVIDERS: the key {p.key!r} must match {KEY_RE.pattern}")
            if not p.issuer.startswith(("https://", "http://")):
                raise SettingsError(f"{PREFIX}OIDC_PROVIDERS: the issuer of {p.key!r} must be a URL")
        return tuple(providers)

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The networks of ``CODO_TRUSTED_PROXIES``; empty means X-Forwarded-For is ignored."""
        networks = []
        for part in (self.trusted_proxies or "").split(","):
            if not part.strip():
                continue
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise SettingsError(
                    f"{PREFIX}TRUSTED_PROXIES: {part.strip()!r} is not a network such as 10.0.0.0/8"
                ) from None
        return tuple(networks)

    @property
    def secret(self) -> bytes:
        """The key material behind encryption at rest; production refuses to run without its own."""
        if self.secret_key is None:
            if self.env == "production":
                raise SettingsError(f"{PREFIX}SECRET_KEY is required in production")
            return b"codo-insecure-key-for-development-and-tests-only"
        return self.secret_key.encode()


def _check_positive(settings: Settings, *names: str) -> None:
    for name in names:
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{env_name(name)} must be greater than 0")


def env_name(field: str) -> str:
    return PREFIX + field.upper()


FIELDS: tuple[str, ...] = Settings.__struct_fields__


DEFAULT_REQUIRED = ("database_url", "redis_url")


def load_settings(
    environ: Mapping[str, str] | None = None, *, required: tuple[str, ...] = DEFAULT_REQUIRED
) -> Settings:
    """Read the settings from ``environ`` (default: the process environment).

    ``required`` names the settings the calling command cannot run without.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for field in FIELDS:
        value = environ.get(env_name(field))
        if value is not None and value != "":
            raw[field] = value
    try:
        # strict=False lets msgspec turn "10" into 10 and "false" into False.
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(str(exc))) from None
    missing = [env_name(name) for name in required if getattr(settings, name) is None]
    if missing:
        raise SettingsError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required but not set"
        )
    return settings


def _explain(message: str) -> str:
    # msgspec says "Expected `int`, got `str` - at `$.db_pool_size`" or
    # "Object missing required field `database_url`": name the variable instead.
    for field in FIELDS:
        if f"`$.{field}`" in message:
            return f"{env_name(field)} is malformed: {message.split(' - at ')[0]}"
        if f"required field `{field}`" in message:
            return f"{env_name(field)} is required but not set"
    return message
