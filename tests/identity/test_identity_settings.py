"""The sign-in settings stop a start with a message naming the variable."""

from __future__ import annotations

import json

import pytest

from shared.settings import SettingsError, load_settings

BASE = {"CODO_DATABASE_URL": "postgresql://u:p@db/codo", "CODO_REDIS_URL": "redis://r:6379/0"}
GOOD = {
    "key": "entra",
    "label": "Microsoft",
    "issuer": "https://login.example/t/v2.0",
    "client_id": "c",
    "client_secret": "s",
}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"CODO_OIDC_PROVIDERS": "not json"}, "CODO_OIDC_PROVIDERS"),
        ({"CODO_OIDC_PROVIDERS": json.dumps([{**GOOD, "client_secret": None}])}, "CODO_OIDC_PROVIDERS"),
        ({"CODO_OIDC_PROVIDERS": json.dumps([GOOD, GOOD])}, "CODO_OIDC_PROVIDERS"),
        ({"CODO_OIDC_PROVIDERS": json.dumps([{**GOOD, "key": "Entra ID"}])}, "CODO_OIDC_PROVIDERS"),
        ({"CODO_OIDC_PROVIDERS": json.dumps([{**GOOD, "issuer": "login.example"}])}, "CODO_OIDC_PROVIDERS"),
        ({"CODO_SECRET_KEY": "short"}, "CODO_SECRET_KEY"),
        ({"CODO_SESSION_IDLE_MINUTES": "0"}, "CODO_SESSION_IDLE_MINUTES"),
        (
            {"CODO_SESSION_IDLE_MINUTES": "120", "CODO_SESSION_ABSOLUTE_HOURS": "1"},
            "CODO_SESSION_IDLE_MINUTES",
        ),
        ({"CODO_DEV_SIGNIN": "perhaps"}, "CODO_DEV_SIGNIN"),
    ],
)
def test_bad_sign_in_settings_are_named(extra: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings({**BASE, **extra})


def test_platform_providers_are_read_from_json() -> None:
    settings = load_settings({**BASE, "CODO_OIDC_PROVIDERS": json.dumps([GOOD])})
    [provider] = settings.platform_providers
    assert provider.key == "entra" and provider.scopes == "openid email profile"
    assert load_settings(BASE).platform_providers == ()
