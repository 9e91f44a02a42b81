"""The ``CODO_*`` names the application reads, for checking what the chart and compose set."""

from __future__ import annotations

from shared.settings import FIELDS, env_name

# Every field of shared.settings.Settings, as its environment variable.
LANDED = frozenset(env_name(field) for field in FIELDS)

# Settings the sign-in work adds to shared.settings; named here until they are
# fields there (then they count through LANDED and this set shrinks to nothing).
ANNOUNCED = frozenset(
    {
        "CODO_SECRET_KEY",
        "CODO_OIDC_PROVIDERS",
        "CODO_SESSION_IDLE_MINUTES",
        "CODO_SESSION_ABSOLUTE_HOURS",
        "CODO_DEV_SIGNIN",
    }
)

KNOWN = LANDED | ANNOUNCED


def unknown(names: set[str] | frozenset[str]) -> list[str]:
    """The ``CODO_*`` names among ``names`` that the application does not read."""
    return sorted(n for n in names if n.startswith("CODO_") and n not in KNOWN)
