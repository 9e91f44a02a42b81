from __future__ import annotations

import pytest

from shared.settings import SettingsError, load_settings

BASE = {"CODO_DATABASE_URL": "postgresql://app@db/codo", "CODO_REDIS_URL": "redis://localhost:6379/0"}


def test_reads_and_converts_every_kind_of_value() -> None:
    s = load_settings(
        {**BASE, "CODO_DB_POOL_SIZE": "20", "CODO_DB_STATEMENT_CACHE": "false", "CODO_SMTP_TLS": "tls"}
    )
    assert s.db_pool_size == 20
    assert s.db_statement_cache is False
    assert s.smtp_tls == "tls"
    assert s.env == "production"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CODO_REDIS_URL": "redis://x"}, "CODO_DATABASE_URL is required"),
        ({**BASE, "CODO_DB_POOL_SIZE": "many"}, "CODO_DB_POOL_SIZE is malformed"),
        ({**BASE, "CODO_SMTP_TLS": "ssl"}, "CODO_SMTP_TLS is malformed"),
        ({**BASE, "CODO_ENV": "staging"}, "CODO_ENV is malformed"),
        ({**BASE, "CODO_DATABASE_URL": "mysql://x/y"}, "CODO_DATABASE_URL must be a postgresql:// URL"),
        ({**BASE, "CODO_REDIS_URL": "localhost:6379"}, "CODO_REDIS_URL must be a redis://"),
        ({**BASE, "CODO_DB_POOL_SIZE": "0"}, "CODO_DB_POOL_SIZE must be greater than 0"),
        ({**BASE, "CODO_SMTP_USERNAME": "mailer"}, "CODO_SMTP_USERNAME and CODO_SMTP_PASSWORD"),
        ({**BASE, "CODO_OUTBOX_POLL_SECONDS": "90"}, "CODO_OUTBOX_POLL_SECONDS must be between"),
    ],
)
def test_a_bad_setting_stops_with_its_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_each_command_requires_only_what_it_uses() -> None:
    s = load_settings({"CODO_DATABASE_URL": "postgres://app@db/codo"}, required=("database_url",))
    assert s.redis_url is None
    with pytest.raises(SettingsError, match="CODO_MIGRATIONS_DATABASE_URL"):
        _ = s.migrations_dsn
