"""The Helm chart helm/codo, rendered by a real helm and checked as an operator would.

Every rendered manifest is validated against the Kubernetes API's JSON schemas
(kubernetes-validate, offline, strict: unknown fields are errors). The
ServiceMonitor is a CRD that those schemas do not know; its shape is checked
by hand.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared import orgsync
from shared.settings import load_settings

from . import app_settings
from .chart import (
    CHART,
    NAMESPACE,
    PRODUCTION_VALUES,
    RELEASE,
    SECRET_KEY,
    TAG,
    Manifest,
    env_by_name,
    env_names,
    find,
    kinds,
    pod_specs,
    render,
    render_error,
    run_helm,
)

# The chart's minimum (Chart.yaml kubeVersion) and a current release.
KUBERNETES_VERSIONS = ("1.27.0", "1.35.0")
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
FULL = RELEASE  # release "codo" + chart "codo" -> resources are named "codo-..."

# Every non-secret setting the application reads (besides CODO_SMTP_HOST and
# CODO_MAIL_FROM, which are only set when given, and CODO_WORKER_NAME, which
# comes from the pod name).
CONFIG_SETTINGS = {
    "CODO_ENV",
    "CODO_PUBLIC_URL",
    "CODO_DB_POOL_SIZE",
    "CODO_DB_MAX_OVERFLOW",
    "CODO_DB_POOL_TIMEOUT",
    "CODO_DB_CONNECT_TIMEOUT",
    "CODO_DB_STATEMENT_TIMEOUT_MS",
    "CODO_DB_STATEMENT_CACHE",
    "CODO_API_HOST",
    "CODO_API_PORT",
    "CODO_API_WORKERS",
    "CODO_LOG_LEVEL",
    "CODO_LOG_FORMAT",
    "CODO_SMTP_PORT",
    "CODO_SMTP_TLS",
    "CODO_SMTP_TIMEOUT",
    "CODO_OUTBOX_POLL_SECONDS",
    "CODO_OUTBOX_BATCH_SIZE",
    "CODO_OUTBOX_MAX_ATTEMPTS",
    "CODO_OUTBOX_BACKOFF_SECONDS",
    "CODO_OUTBOX_LEASE_SECONDS",
    "CODO_OUTBOX_BODY_RETENTION_DAYS",
    "CODO_WORKER_MAX_JOBS",
    "CODO_WORKER_JOB_TIMEOUT",
    "CODO_WORKER_HEALTH_CHECK_INTERVAL",
    "CODO_METRICS_ENABLED",
    "CODO_METRICS_PORT",
    "CODO_SESSION_IDLE_MINUTES",
    "CODO_SESSION_ABSOLUTE_HOURS",
    "CODO_SIGNIN_ATTEMPTS_PER_MINUTE",
    "CODO_OIDC_ALLOW_PRIVATE_NETWORKS",
}
SECRET_SETTINGS = {
    "CODO_DATABASE_URL",
    "CODO_MIGRATIONS_DATABASE_URL",
    "CODO_REDIS_URL",
    "CODO_SMTP_USERNAME",
    "CODO_SMTP_PASSWORD",
    "CODO_SECRET_KEY",
    "CODO_OIDC_PROVIDERS",
}


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


def annotations(m: Manifest) -> dict[str, str]:
    return m["metadata"].get("annotations") or {}


# --------------------------------------------------------------------------
# helm lint and Kubernetes schemas
# --------------------------------------------------------------------------


def test_helm_lint_strict_passes_for_default_and_production_values() -> None:
    out = run_helm(
        "lint", "--strict", str(CHART), "--set", "image.tag=1.0.0", "--set", f"secrets.secretKey={SECRET_KEY}"
    )
    assert "0 chart(s) failed" in out
    out = run_helm("lint", "--strict", str(CHART), "-f", str(PRODUCTION_VALUES))
    assert "0 chart(s) failed" in out


def test_default_values_render_the_core_resources_only(default_manifests: list[Manifest]) -> None:
    assert kinds(default_manifests) == sorted(
        [
            "ConfigMap/codo",
            "Deployment/codo-api",
            "Deployment/codo-worker",
            "Job/codo-migrate",
            "NetworkPolicy/codo-api",
            "NetworkPolicy/codo-default",
            "NetworkPolicy/codo-metrics",
            "PodDisruptionBudget/codo-api",
            "PodDisruptionBudget/codo-worker",
            "Secret/codo",
            "Secret/codo-migrate",
            "Service/codo",
            "Service/codo-api-metrics",
            "Service/codo-worker-metrics",
            "ServiceAccount/codo",
            "ServiceAccount/codo-migrate",
        ]
    )


def test_production_values_render_ingress_autoscaling_monitoring_and_org_sync(
    production_manifests: list[Manifest],
) -> None:
    rendered = set(kinds(production_manifests))
    assert {
        "Ingress/codo",
        "HorizontalPodAutoscaler/codo-api",
        "HorizontalPodAutoscaler/codo-worker",
        "ServiceMonitor/codo-api",
        "ServiceMonitor/codo-worker",
        "ConfigMap/codo-organizations",
        "Job/codo-org-sync",
    } <= rendered
    # existingSecret: the chart creates no Secret at all
    assert not [k for k in rendered if k.startswith("Secret/")]


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", ["default", "production"])
def test_every_manifest_is_valid_for_the_kubernetes_api(values: str, kube_version: str) -> None:
    manifests = render() if values == "default" else render((PRODUCTION_VALUES,))
    checked = 0
    for m in manifests:
        if (m["apiVersion"], m["kind"]) in CRDS:
            continue
        try:
            kubernetes_validate.validate(m, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(
                f"{m['kind']}/{m['metadata']['name']} is invalid for Kubernetes "
                f"{kube_version} at {path}: {exc.message}"
            )
        checked += 1
    assert checked >= 15


VARIANTS = {
    "no-service-account": {"serviceAccount.create": "false"},
    "named-service-account": {"serviceAccount.name": "codo-runner"},
    "metrics-off": {"metrics.enabled": "false", "metrics.serviceMonitor.enabled": "true"},
    "ingress-plain-http": {"ingress.enabled": "true", "ingress.tls.enabled": "false"},
    "ingress-one-wildcard-certificate": {
        "ingress.enabled": "true",
        "ingress.organizationSubdomains.enabled": "true",
        "ingress.organizationSubdomains.wildcardHost": "*.codo.example.org",
    },
    "memory-autoscaling": {
        "api.autoscaling.enabled": "true",
        "api.autoscaling.targetMemoryUtilizationPercentage": "80",
    },
    "percent-pdb-no-spread": {
        "api.pdb.maxUnavailable": "25%",
        "api.spreadAcrossNodes": "false",
        "worker.pdb.enabled": "false",
        "api.tmpSizeLimit": "",
    },
    "all-secrets": {
        "secrets.databaseUrl": "postgresql://a:b@db/codo",
        "secrets.smtpUsername": "u",
        "secrets.smtpPassword": "p",
        "secrets.secretKey": SECRET_KEY,
        "secrets.oidcProviders[0].key": "entra",
        "secrets.oidcProviders[0].label": "Microsoft",
        "secrets.oidcProviders[0].issuer": "https://login.microsoftonline.com/t/v2.0",
        "secrets.oidcProviders[0].client_id": "c",
        "secrets.oidcProviders[0].client_secret": "s",
        "config.extraEnv.CODO_FEATURE_X": "on",
    },
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_render_valid_manifests(variant: str) -> None:
    manifests = render(sets=VARIANTS[variant])
    for m in manifests:
        if (m["apiVersion"], m["kind"]) in CRDS:
            continue
        try:
            kubernetes_validate.validate(m, KUBERNETES_VERSIONS[-1], strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{variant}: {m['kind']}/{m['metadata']['name']} at {path}: {exc.message}")


def test_without_metrics_nothing_scrapes_and_nothing_listens() -> None:
    manifests = render(sets=VARIANTS["metrics-off"])
    rendered = kinds(manifests)
    assert not [k for k in rendered if "metrics" in k or k.startswith("ServiceMonitor/")], rendered
    worker = find(manifests, "Deployment", "codo-worker")
    assert "ports" not in worker["spec"]["template"]["spec"]["containers"][0]
    api = find(manifests, "Deployment", "codo-api")
    assert [p["name"] for p in api["spec"]["template"]["spec"]["containers"][0]["ports"]] == ["http"]
    assert find(manifests, "ConfigMap", "codo")["data"]["CODO_METRICS_ENABLED"] == "false"


def test_without_own_service_account_the_jobs_use_the_given_one() -> None:
    manifests = render(sets={"serviceAccount.create": "false", "serviceAccount.name": "platform"})
    assert not [m for m in manifests if m["kind"] == "ServiceAccount"]
    names = {name: spec["serviceAccountName"] for name, spec in pod_specs(manifests)}
    assert set(names.values()) == {"platform"}


def test_service_monitors_select_the_services_and_ports_that_serve_metrics(
    production_manifests: list[Manifest],
) -> None:
    services = [m for m in production_manifests if m["kind"] == "Service"]
    # CODO_METRICS_PORT in each process, never the API's HTTP port (8000)
    expected = {"codo-api": ("metrics", 9100), "codo-worker": ("metrics", 9100)}
    assert find(production_manifests, "ConfigMap", "codo")["data"]["CODO_METRICS_PORT"] == "9100"
    for name, (port_name, port) in expected.items():
        sm = find(production_manifests, "ServiceMonitor", name)
        assert sm["apiVersion"] == "monitoring.coreos.com/v1"
        assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        selector = sm["spec"]["selector"]["matchLabels"]
        selected = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
        assert len(selected) == 1, f"{name} selects {len(selected)} Services"
        assert selected[0]["metadata"]["name"] == f"{name}-metrics"
        assert selected[0]["spec"]["clusterIP"] == "None"  # every pod, and never exposed
        [endpoint] = sm["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] == port_name
        service_port = {p["name"]: p for p in selected[0]["spec"]["ports"]}[port_name]
        target = service_port["targetPort"]
        # the Service's named target port is a container port of the selected pods
        deploy = find(production_manifests, "Deployment", name)
        container_ports = {
            p["name"]: p["containerPort"]
            for p in deploy["spec"]["template"]["spec"]["containers"][0]["ports"]
        }
        assert container_ports[target] == port
        assert container_ports.get("http") != port


def test_the_public_api_service_carries_no_metrics_port(
    default_manifests: list[Manifest], production_manifests: list[Manifest]
) -> None:
    for manifests in (default_manifests, production_manifests):
        service = find(manifests, "Service", "codo")
        assert [(p["name"], p["targetPort"]) for p in service["spec"]["ports"]] == [("http", "http")]
        for m in manifests:
            if m["kind"] == "Service" and m["metadata"]["name"].endswith("-metrics"):
                assert [p["targetPort"] for p in m["spec"]["ports"]] == ["metrics"]


def test_metrics_port_is_shared_by_api_and_worker_and_configurable() -> None:
    manifests = render(sets={"metrics.port": "9300"})
    assert find(manifests, "ConfigMap", "codo")["data"]["CODO_METRICS_PORT"] == "9300"
    for name in ("codo-api", "codo-worker"):
        [container] = find(manifests, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == 9300, name
        service = find(manifests, "Service", f"{name}-metrics")
        assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(9300, "metrics")]


def test_metrics_port_must_not_be_the_api_port() -> None:
    message = render_error(sets={**TAG, "metrics.port": "8000"})
    assert "metrics.port (8000) must differ from api.port" in message
    # without metrics nothing listens there, so nothing clashes
    render(sets={"metrics.enabled": "false", "metrics.port": "8000"})


def test_service_monitors_are_off_by_default(default_manifests: list[Manifest]) -> None:
    assert not [m for m in default_manifests if m["kind"] == "ServiceMonitor"]


# --------------------------------------------------------------------------
# Jobs run by hooks
# --------------------------------------------------------------------------


def test_migrate_job_runs_before_install_and_upgrade_as_the_schema_owner(
    default_manifests: list[Manifest],
) -> None:
    job = find(default_manifests, "Job", "codo-migrate")
    assert annotations(job)["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations(job)["helm.sh/hook-delete-policy"]
    job_weight = int(annotations(job)["helm.sh/hook-weight"])
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    [container] = spec["containers"]
    assert container["args"] == ["migrate"]
    env = env_by_name(container)
    ref = env["CODO_MIGRATIONS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["key"] == "CODO_MIGRATIONS_DATABASE_URL"
    assert not ref.get("optional", False)
    # Before the first install only hooks exist: everything the Job needs is a
    # hook with a lower weight, or inlined.
    secret = find(default_manifests, "Secret", ref["name"])
    account = find(default_manifests, "ServiceAccount", spec["serviceAccountName"])
    for dependency in (secret, account):
        assert annotations(dependency)["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(annotations(dependency)["helm.sh/hook-weight"]) < job_weight
    assert "hook-succeeded" in annotations(secret)["helm.sh/hook-delete-policy"]
    assert "envFrom" not in container
    assert env["CODO_LOG_FORMAT"]["value"] == "json"
    assert env.keys() >= CONFIG_SETTINGS


def test_migrate_job_reads_an_existing_secret_directly(production_manifests: list[Manifest]) -> None:
    job = find(production_manifests, "Job", "codo-migrate")
    env = env_by_name(job["spec"]["template"]["spec"]["containers"][0])
    ref = env["CODO_MIGRATIONS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "codo-credentials", "key": "migrations-database-url"}


def test_migrations_can_be_switched_off() -> None:
    rendered = kinds(render(sets={"migrations.enabled": "false"}))
    assert "Job/codo-migrate" not in rendered
    assert "Secret/codo-migrate" not in rendered


def test_api_worker_and_org_sync_never_get_the_schema_owner_url(
    default_manifests: list[Manifest],
    production_manifests: list[Manifest],
) -> None:
    for manifests in (default_manifests, production_manifests):
        for name, spec in pod_specs(manifests):
            if name == "Job/codo-migrate":
                continue
            for container in containers(spec):
                assert "CODO_MIGRATIONS_DATABASE_URL" not in env_names(container), name
                for source in container.get("envFrom", []):
                    # a whole Secret as env would leak every key
                    assert "secretRef" not in source, name
                refs = [
                    e["valueFrom"]["secretKeyRef"]["key"]
                    for e in container.get("env", [])
                    if "secretKeyRef" in e.get("valueFrom", {})
                ]
                assert "CODO_MIGRATIONS_DATABASE_URL" not in refs
                assert "migrations-database-url" not in refs
        for cm in (m for m in manifests if m["kind"] == "ConfigMap"):
            assert not SECRET_SETTINGS & set(cm.get("data", {})), cm["metadata"]["name"]


def test_org_sync_runs_after_install_and_upgrade_with_the_organisations_file(
    production_manifests: list[Manifest],
    production_values: dict[str, Any],
) -> None:
    job = find(production_manifests, "Job", "codo-org-sync")
    assert annotations(job)["helm.sh/hook"] == "post-install,post-upgrade"
    assert "before-hook-creation" in annotations(job)["helm.sh/hook-delete-policy"]
    spec = job["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["args"] == ["org", "sync", "--file", "/etc/codo/organizations.yaml"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    org_volume = volumes[mounts["/etc/codo/organizations.yaml"]["name"]]
    assert org_volume["configMap"]["name"] == "codo-organizations"

    cm = find(production_manifests, "ConfigMap", "codo-organizations")
    document = yaml.safe_load(cm["data"]["organizations.yaml"])
    assert document["version"] == 1
    orgs = document["organizations"]
    wanted = production_values["organizations"]
    assert [o["slug"] for o in orgs] == [o["slug"] for o in wanted]
    assert [o["name"] for o in orgs] == [
        "Kinderpaten Berlin e.V.",
        "Lesementoren Köln",
        "Balu und Du Hamburg",
    ]
    assert [o["ownerEmail"] for o in orgs] == [o["ownerEmail"] for o in wanted]
    with_oidc = [o for o in orgs if "oidc" in o]
    assert [o["slug"] for o in with_oidc] == ["lesementoren-koeln"]
    oidc = with_oidc[0]["oidc"]
    assert oidc["issuer"] == "https://login.lesementoren-koeln.example/realms/staff"
    assert oidc["clientId"] == "codo"
    # The client secret is a file mounted from its Secret, never in the ConfigMap.
    assert "clientSecretRef" not in oidc
    secret_file = Path(oidc["clientSecretFile"])
    secrets_mount = next(p for p in mounts if secret_file.is_relative_to(p))
    projected = volumes[mounts[secrets_mount]["name"]]["projected"]["sources"]
    assert projected == [
        {
            "secret": {
                "name": "oidc-lesementoren-koeln",
                "items": [{"key": "client-secret", "path": str(secret_file.relative_to(secrets_mount))}],
            }
        }
    ]


def _organizations_file(manifests: list[Manifest]) -> str:
    text = find(manifests, "ConfigMap", "codo-organizations")["data"]["organizations.yaml"]
    assert isinstance(text, str)
    return text


def test_the_application_reads_the_rendered_organisations_file(
    production_manifests: list[Manifest],
    production_values: dict[str, Any],
) -> None:
    """What `codo org sync --file` parses (shared.orgsync.parse: strict, unknown keys rejected)."""
    spec = orgsync.parse(_organizations_file(production_manifests))
    assert spec.version == 1
    wanted = production_values["organizations"]
    assert [(o.slug, o.name, o.owner_email) for o in spec.organizations] == [
        (w["slug"], w["name"], w["ownerEmail"]) for w in wanted
    ]
    # the secret file the application opens is the one the sync Job mounts
    job = find(production_manifests, "Job", "codo-org-sync")["spec"]["template"]["spec"]
    [container] = job["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    mounted_files = {
        str(Path(mounts[volume["name"]]) / item["path"]): (source["secret"]["name"], item["key"])
        for volume in job["volumes"]
        if "projected" in volume
        for source in volume["projected"]["sources"]
        for item in source["secret"]["items"]
    }
    with_oidc = {o.slug: o.oidc for o in spec.organizations if o.oidc is not None}
    assert list(with_oidc) == ["lesementoren-koeln"]
    oidc = with_oidc["lesementoren-koeln"]
    assert oidc.issuer == "https://login.lesementoren-koeln.example/realms/staff"
    assert oidc.client_id == "codo"
    assert oidc.client_secret_env is None
    assert oidc.client_secret_file == "/etc/codo/oidc/lesementoren-koeln/client-secret"
    assert mounted_files == {oidc.client_secret_file: ("oidc-lesementoren-koeln", "client-secret")}
    assert oidc.allowed_domains == ["lesementoren-koeln.example", "ehrenamt.lesementoren-koeln.example"]


def test_optional_organisation_fields_are_left_out_of_the_file() -> None:
    manifests = render(
        sets={
            "organizations[0].slug": "minimal",
            "organizations[0].name": "Minimal e.V.",
            "organizations[1].slug": "sso-only",
            "organizations[1].name": "On: yes",  # YAML would read a bare yes as true
            "organizations[1].oidc.issuer": "https://id.example.org",
            "organizations[1].oidc.clientSecretRef.name": "sso",
            "organizations[1].oidc.clientSecretRef.key": "secret",
        },
        string_sets={"organizations[1].oidc.clientId": "0123"},
    )
    text = _organizations_file(manifests)
    assert yaml.safe_load(text)["organizations"][0] == {"slug": "minimal", "name": "Minimal e.V."}
    spec = orgsync.parse(text)
    minimal, sso = spec.organizations
    assert (minimal.owner_email, minimal.oidc) == (None, None)
    assert sso.name == "On: yes"
    assert sso.oidc is not None
    assert (sso.oidc.client_id, sso.oidc.allowed_domains) == ("0123", [])


def test_no_org_sync_without_organisations(default_manifests: list[Manifest]) -> None:
    rendered = kinds(default_manifests)
    assert "Job/codo-org-sync" not in rendered
    assert "ConfigMap/codo-organizations" not in rendered


def test_a_slug_listed_twice_stops_the_install() -> None:
    message = render_error(
        sets={
            **TAG,
            "organizations[0].slug": "twice",
            "organizations[0].name": "A",
            "organizations[0].ownerEmail": "a@example.org",
            "organizations[1].slug": "twice",
            "organizations[1].name": "B",
            "organizations[1].ownerEmail": "b@example.org",
        }
    )
    assert 'slug "twice" appears more than once' in message


# --------------------------------------------------------------------------
# Pods: security, probes, rollout, shutdown
# --------------------------------------------------------------------------


@pytest.mark.parametrize("values", ["default", "production"])
def test_every_pod_runs_non_root_with_a_read_only_root_filesystem(values: str) -> None:
    manifests = render() if values == "default" else render((PRODUCTION_VALUES,))
    specs = dict(pod_specs(manifests))
    assert {"Deployment/codo-api", "Deployment/codo-worker", "Job/codo-migrate"} <= specs.keys()
    for name, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == 10001, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in containers(spec):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"], name
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert len(tmp) == 1 and tmp[0]["name"] in tmp_volumes, f"{name}: /tmp emptyDir"
            assert container["resources"]["requests"] and container["resources"]["limits"], name
    accounts = [m for m in manifests if m["kind"] == "ServiceAccount"]
    assert accounts and all(a["automountServiceAccountToken"] is False for a in accounts)


def test_api_probes_rollout_and_connection_draining(default_manifests: list[Manifest]) -> None:
    api = find(default_manifests, "Deployment", "codo-api")
    assert api["spec"]["replicas"] == 2
    assert api["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    spec = api["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["args"] == ["api", "--host", "0.0.0.0", "--port", "8000"]
    assert container["ports"] == [
        {"name": "http", "containerPort": 8000, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9100, "protocol": "TCP"},
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep" and int(sleep[1]) > 0
    assert spec["terminationGracePeriodSeconds"] > int(sleep[1])
    service = find(default_manifests, "Service", "codo")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= spec_labels(api).items()


def spec_labels(deployment: Manifest) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def test_api_grace_period_must_exceed_the_pre_stop_sleep() -> None:
    message = render_error(
        sets={
            **TAG,
            "api.preStopSleepSeconds": "30",
            "api.terminationGracePeriodSeconds": "30",
        }
    )
    assert "terminationGracePeriodSeconds must be greater than api.preStopSleepSeconds" in message


@pytest.mark.parametrize(
    ("sets", "job_timeout"),
    [
        ({}, 300),
        ({"worker.jobTimeout": "1800"}, 1800),
        ({"worker.jobTimeout": "45", "worker.terminationGraceMarginSeconds": "5"}, 45),
    ],
)
def test_worker_grace_period_outlasts_the_job_timeout(sets: dict[str, str], job_timeout: int) -> None:
    manifests = render(sets=sets)
    worker = find(manifests, "Deployment", "codo-worker")
    spec = worker["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] > job_timeout
    config = find(manifests, "ConfigMap", "codo")["data"]
    assert config["CODO_WORKER_JOB_TIMEOUT"] == str(job_timeout)


def test_worker_probe_metrics_port_and_name(default_manifests: list[Manifest]) -> None:
    worker = find(default_manifests, "Deployment", "codo-worker")
    assert worker["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    [container] = worker["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]
    assert container["livenessProbe"]["exec"]["command"] == ["codo", "worker", "check"]
    assert "readinessProbe" not in container
    assert container["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    name = env_by_name(container)["CODO_WORKER_NAME"]
    assert name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_api_and_worker_are_sized_and_scaled_separately() -> None:
    manifests = render(
        sets={"api.replicas": "4", "worker.replicas": "0", "worker.resources.limits.memory": "2Gi"}
    )
    api = find(manifests, "Deployment", "codo-api")
    worker = find(manifests, "Deployment", "codo-worker")
    assert (api["spec"]["replicas"], worker["spec"]["replicas"]) == (4, 0)
    limits = [
        d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] for d in (api, worker)
    ]
    assert limits == ["512Mi", "2Gi"]


def test_autoscaled_deployments_leave_replicas_to_the_hpa(production_manifests: list[Manifest]) -> None:
    for name, minimum, maximum in (("codo-api", 3, 12), ("codo-worker", 2, 6)):
        deployment = find(production_manifests, "Deployment", name)
        assert "replicas" not in deployment["spec"], f"{name}: helm upgrade would reset the HPA"
        hpa = find(production_manifests, "HorizontalPodAutoscaler", name)
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (minimum, maximum)


def test_disruption_budgets_select_their_component(default_manifests: list[Manifest]) -> None:
    for name in ("codo-api", "codo-worker"):
        pdb = find(default_manifests, "PodDisruptionBudget", name)
        deployment = find(default_manifests, "Deployment", name)
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


# --------------------------------------------------------------------------
# Settings: ConfigMap, Secret, checksums
# --------------------------------------------------------------------------


def _pod_env_names(manifests: list[Manifest]) -> dict[str, set[str]]:
    """kind/name of each workload -> every environment variable name its containers get."""
    config_maps = {m["metadata"]["name"]: m.get("data", {}) for m in manifests if m["kind"] == "ConfigMap"}
    out: dict[str, set[str]] = {}
    for name, spec in pod_specs(manifests):
        names: set[str] = set()
        for container in containers(spec):
            names |= set(env_names(container))
            for source in container.get("envFrom", []):
                names |= set(config_maps[source["configMapRef"]["name"]])
        out[name] = names
    return out


@pytest.mark.parametrize("values", ["default", "production"])
def test_every_codo_variable_a_pod_gets_is_a_setting_the_application_reads(values: str) -> None:
    manifests = render() if values == "default" else render((PRODUCTION_VALUES,))
    env = _pod_env_names(manifests)
    assert {"Deployment/codo-api", "Deployment/codo-worker", "Job/codo-migrate"} <= env.keys()
    for name, names in env.items():
        assert not app_settings.unknown(names), f"{name} sets settings codo does not read"
        assert "CODO_METRICS_PORT" in names and "CODO_WORKER_METRICS_PORT" not in names, name


def test_configmap_holds_every_non_secret_setting_as_strings(default_manifests: list[Manifest]) -> None:
    data = find(default_manifests, "ConfigMap", "codo")["data"]
    assert set(data) == CONFIG_SETTINGS
    assert all(isinstance(v, str) for v in data.values())
    assert data["CODO_API_HOST"] == "0.0.0.0"
    assert data["CODO_LOG_FORMAT"] == "json"
    assert data["CODO_ENV"] == "production"
    assert data["CODO_DB_STATEMENT_CACHE"] == "true"
    for name in ("api", "worker"):
        [container] = find(default_manifests, "Deployment", f"codo-{name}")["spec"]["template"]["spec"][
            "containers"
        ]
        assert container["envFrom"] == [{"configMapRef": {"name": "codo"}}]


def test_production_settings_reach_the_configmap(production_manifests: list[Manifest]) -> None:
    data = find(production_manifests, "ConfigMap", "codo")["data"]
    assert data["CODO_DB_STATEMENT_CACHE"] == "false"  # behind PgBouncer
    assert data["CODO_SMTP_HOST"] == "smtp.example.org"
    assert data["CODO_SMTP_PORT"] == "587"
    assert data["CODO_SMTP_TLS"] == "starttls"
    assert data["CODO_MAIL_FROM"] == "codo <noreply@codo.example.org>"
    assert data["CODO_PUBLIC_URL"] == "https://codo.example.org"
    assert data["CODO_WORKER_JOB_TIMEOUT"] == "900"
    assert data["CODO_OUTBOX_POLL_SECONDS"] == "5"


def test_existing_secret_and_its_key_names_are_used(production_manifests: list[Manifest]) -> None:
    api = find(production_manifests, "Deployment", "codo-api")
    env = env_by_name(api["spec"]["template"]["spec"]["containers"][0])
    refs = {
        name: e["valueFrom"]["secretKeyRef"]
        for name, e in env.items()
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert {r["name"] for r in refs.values()} == {"codo-credentials"}
    assert {name: r["key"] for name, r in refs.items()} == {
        "CODO_DATABASE_URL": "database-url",
        "CODO_REDIS_URL": "redis-url",
        "CODO_SMTP_USERNAME": "smtp-username",
        "CODO_SMTP_PASSWORD": "smtp-password",
        "CODO_SECRET_KEY": "secret-key",
        "CODO_OIDC_PROVIDERS": "oidc-providers",
    }
    # database and Redis are required: a missing key stops the pod visibly
    assert not refs["CODO_DATABASE_URL"].get("optional", False)
    assert not refs["CODO_REDIS_URL"].get("optional", False)
    # so is the secret key in production: without it the pods would start only to crash
    assert not refs["CODO_SECRET_KEY"].get("optional", False)
    assert refs["CODO_OIDC_PROVIDERS"]["optional"] is True


def test_chart_created_secret_holds_only_the_values_given() -> None:
    manifests = render(
        sets={
            "secrets.databaseUrl": "postgresql://codo_app:pw@db:5432/codo",
            "secrets.migrationsDatabaseUrl": "postgresql://codo_owner:pw@db:5432/codo",
            "secrets.redisUrl": "redis://redis:6379/0",
        }
    )
    data = find(manifests, "Secret", "codo")["data"]
    decoded = {k: base64.b64decode(v).decode() for k, v in data.items()}
    assert decoded == {
        "CODO_DATABASE_URL": "postgresql://codo_app:pw@db:5432/codo",
        "CODO_MIGRATIONS_DATABASE_URL": "postgresql://codo_owner:pw@db:5432/codo",
        "CODO_REDIS_URL": "redis://redis:6379/0",
        "CODO_SECRET_KEY": SECRET_KEY,
    }
    assert find(manifests, "Secret", "codo-migrate")["data"] == data


def test_smtp_credentials_must_come_together() -> None:
    message = render_error(sets={**TAG, "secrets.smtpUsername": "mailer"})
    assert "smtpUsername and secrets.smtpPassword must be set together" in message


def test_production_refuses_to_render_without_the_secret_key() -> None:
    message = render_error(string_sets={"image.tag": "1.0.0"})
    assert "/secrets/secretKey" in message
    message = render_error(string_sets={"image.tag": "1.0.0", "secrets.secretKey": "too-short"})
    assert "/secrets/secretKey" in message
    # Another environment, or a Secret of the operator's own (which then must hold the key: the
    # pods reference it without `optional`), renders without it.
    assert render(sets={"image.tag": "1.0.0", "config.env": "development"})
    assert render(sets={"image.tag": "1.0.0", "existingSecret": "mine"})


def test_platform_sign_in_providers_come_from_the_secret_and_codo_reads_them() -> None:
    provider = {
        "key": "entra",
        "label": "Microsoft",
        "issuer": "https://login.microsoftonline.com/tenant/v2.0",
        "client_id": "codo",
        "client_secret": "very-secret-client-secret",
        "require_email_verified": False,
    }
    sets = {f"secrets.oidcProviders[0].{k}": str(v).lower() if v is False else v for k, v in provider.items()}
    manifests = render(sets=sets)
    secret = find(manifests, "Secret", "codo")["data"]
    providers = base64.b64decode(secret["CODO_OIDC_PROVIDERS"]).decode()
    settings = load_settings({"CODO_OIDC_PROVIDERS": providers}, required=())
    [read] = settings.platform_providers
    assert (read.key, read.client_secret, read.require_email_verified) == (
        "entra",
        provider["client_secret"],
        False,
    )
    for m in manifests:
        if m["kind"] == "ConfigMap":
            assert provider["client_secret"] not in json.dumps(m), "no client secret in a ConfigMap"
    api = find(manifests, "Deployment", "codo-api")["spec"]["template"]["spec"]["containers"][0]
    ref = env_by_name(api)["CODO_OIDC_PROVIDERS"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "codo", "key": "CODO_OIDC_PROVIDERS", "optional": True}
    message = render_error(sets={**TAG, "config.extraEnv.CODO_OIDC_PROVIDERS": "[]"})
    assert "CODO_OIDC_PROVIDERS" in message and "schema" in message
    message = render_error(sets={**TAG, "secrets.oidcProviders[0].key": "entra"})
    assert "client_secret" in message


def test_sessions_sign_in_limits_and_trusted_proxies_have_values(
    production_manifests: list[Manifest],
) -> None:
    defaults = find(render(), "ConfigMap", "codo")["data"]
    assert defaults["CODO_SESSION_IDLE_MINUTES"] == "60" and defaults["CODO_SESSION_ABSOLUTE_HOURS"] == "12"
    assert defaults["CODO_SIGNIN_ATTEMPTS_PER_MINUTE"] == "20"
    assert defaults["CODO_OIDC_ALLOW_PRIVATE_NETWORKS"] == "false"
    assert "CODO_TRUSTED_PROXIES" not in defaults, "no proxy is trusted unless named"
    data = find(production_manifests, "ConfigMap", "codo")["data"]
    assert data["CODO_TRUSTED_PROXIES"] == "10.244.0.0/16"
    assert data["CODO_SESSION_IDLE_MINUTES"] == "30" and data["CODO_SIGNIN_ATTEMPTS_PER_MINUTE"] == "10"
    settings = load_settings(data, required=())
    assert [str(n) for n in settings.trusted_proxy_networks] == ["10.244.0.0/16"]
    assert settings.session_absolute_hours == 10
    two = find(render(sets={"config.trustedProxies": "{10.0.0.0/8,fd00::/8}"}), "ConfigMap", "codo")["data"]
    assert load_settings(two, required=()).trusted_proxies == "10.0.0.0/8,fd00::/8"
    assert "/config/trustedProxies/0" in render_error(sets={**TAG, "config.trustedProxies": "{0.0.0.0/0}"})
    assert "/config/trustedProxies/0" in render_error(sets={**TAG, "config.trustedProxies": "{the-ingress}"})
    message = render_error(
        sets={**TAG, "config.session.idleMinutes": "120", "config.session.absoluteHours": "1"}
    )
    assert "idleMinutes must not exceed" in message


def _checksums(manifests: list[Manifest]) -> dict[str, dict[str, str]]:
    out = {}
    for name in ("codo-api", "codo-worker"):
        pod_annotations = find(manifests, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]
        out[name] = {k: v for k, v in pod_annotations.items() if k.startswith("checksum/")}
    return out


def test_a_changed_setting_rolls_the_pods_and_an_unrelated_change_does_not() -> None:
    before = _checksums(render())
    assert set(before["codo-api"]) == {"checksum/config", "checksum/secret"}
    after_config = _checksums(render(sets={"config.logLevel": "debug"}))
    after_secret = _checksums(render(sets={"secrets.redisUrl": "redis://other:6379/0"}))
    after_replicas = _checksums(render(sets={"api.replicas": "5"}))
    for name in ("codo-api", "codo-worker"):
        assert after_config[name]["checksum/config"] != before[name]["checksum/config"]
        assert after_config[name]["checksum/secret"] == before[name]["checksum/secret"]
        assert after_secret[name]["checksum/secret"] != before[name]["checksum/secret"]
        assert after_secret[name]["checksum/config"] == before[name]["checksum/config"]
        assert after_replicas[name] == before[name]


# --------------------------------------------------------------------------
# Ingress and network policies
# --------------------------------------------------------------------------


def test_ingress_serves_the_host_and_organisation_subdomains_over_tls(
    production_manifests: list[Manifest],
) -> None:
    ingress = find(production_manifests, "Ingress", "codo")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert annotations(ingress)["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert [r["host"] for r in spec["rules"]] == ["codo.example.org", "*.codo.example.org"]
    assert spec["tls"] == [
        {"hosts": ["codo.example.org"], "secretName": "codo-example-org-tls"},
        {"hosts": ["*.codo.example.org"], "secretName": "wildcard-codo-example-org-tls"},
    ]
    service = find(production_manifests, "Service", "codo")
    for rule in spec["rules"]:
        [path] = rule["http"]["paths"]
        assert path["backend"]["service"] == {"name": "codo", "port": {"name": "http"}}
        assert path["backend"]["service"]["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_ingress_without_subdomains_has_one_host() -> None:
    manifests = render(sets={"ingress.enabled": "true", "ingress.host": "codo.example.net"})
    spec = find(manifests, "Ingress", "codo")["spec"]
    assert [r["host"] for r in spec["rules"]] == ["codo.example.net"]
    assert spec["tls"] == [{"hosts": ["codo.example.net"], "secretName": "codo-tls"}]


def _egress_ports(policy: Manifest) -> set[tuple[str, int]]:
    ports = set()
    for rule in policy["spec"]["egress"]:
        assert rule.get("ports"), f"an egress rule without ports allows everything: {rule}"
        ports |= {(p["protocol"], p["port"]) for p in rule["ports"]}
    return ports


def test_network_policies_limit_ingress_and_egress(
    default_manifests: list[Manifest],
    production_manifests: list[Manifest],
) -> None:
    default = find(default_manifests, "NetworkPolicy", "codo-default")
    assert default["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert default["spec"]["ingress"] == []
    assert default["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "codo",
        "app.kubernetes.io/instance": RELEASE,
    }
    assert _egress_ports(default) == {
        ("UDP", 53),
        ("TCP", 53),
        ("TCP", 5432),
        ("TCP", 6379),
        ("TCP", 25),
        ("TCP", 465),
        ("TCP", 587),
        ("TCP", 443),
    }

    api = find(default_manifests, "NetworkPolicy", "codo-api")
    assert api["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    [rule] = api["spec"]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
            "podSelector": {},
        }
    ]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]

    production = find(production_manifests, "NetworkPolicy", "codo-default")
    rules = production["spec"]["egress"]
    postgres = next(r for r in rules if {"port": 6432, "protocol": "TCP"} in r["ports"])
    assert postgres["to"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}]
    redis = next(r for r in rules if {"port": 6379, "protocol": "TCP"} in r["ports"])
    assert redis["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "redis"}}}]


def _selects(policy: Manifest, labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _allowed_ingress(manifests: list[Manifest], deployment: str) -> dict[str, set[int]]:
    """Namespace of each allowed peer -> the container ports it may reach on the pods."""
    pod = find(manifests, "Deployment", deployment)["spec"]["template"]
    [container] = pod["spec"]["containers"]
    named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    allowed: dict[str, set[int]] = {}
    for policy in manifests:
        if policy["kind"] != "NetworkPolicy" or "Ingress" not in policy["spec"]["policyTypes"]:
            continue
        if not _selects(policy, pod["metadata"]["labels"]):
            continue
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("ports"), f"{policy['metadata']['name']}: a rule without ports allows every port"
            # a named port the container does not have would allow nothing: a mistake
            ports = {named[p["port"]] if isinstance(p["port"], str) else p["port"] for p in rule["ports"]}
            for peer in rule["from"]:
                namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                allowed.setdefault(namespace, set()).update(ports)
    return allowed


@pytest.mark.parametrize("values", ["default", "production"])
def test_prometheus_reaches_only_metrics_ports_and_the_ingress_controller_only_http(values: str) -> None:
    manifests = render() if values == "default" else render((PRODUCTION_VALUES,))
    assert _allowed_ingress(manifests, "codo-api") == {"ingress-nginx": {8000}, "monitoring": {9100}}
    assert _allowed_ingress(manifests, "codo-worker") == {"monitoring": {9100}}
    without_metrics = render(sets={"metrics.enabled": "false"})
    assert _allowed_ingress(without_metrics, "codo-api") == {"ingress-nginx": {8000}}
    assert _allowed_ingress(without_metrics, "codo-worker") == {}


def test_network_policy_selector_of_the_ingress_controller_is_configurable() -> None:
    label = "kubernetes\\.io/metadata\\.name"  # dots in a --set key are escaped
    manifests = render(
        sets={f"networkPolicy.ingressController.namespaceSelector.matchLabels.{label}": "traefik"}
    )
    api = find(manifests, "NetworkPolicy", "codo-api")
    assert api["spec"]["ingress"][0]["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "traefik"}
    }


def test_network_policies_can_be_switched_off() -> None:
    manifests = render(sets={"networkPolicy.enabled": "false"})
    assert not [m for m in manifests if m["kind"] == "NetworkPolicy"]


def test_image_is_pinned_by_tag_and_digest(production_manifests: list[Manifest]) -> None:
    images = {c["image"] for _, spec in pod_specs(production_manifests) for c in containers(spec)}
    assert images == {"ghcr.io/example/codo:1.4.2@sha256:" + "0123456789abcdef" * 4}


# --------------------------------------------------------------------------
# values.schema.json
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "string_sets", "expected"),
    [
        pytest.param({}, {}, "/image/tag", id="missing-image-tag"),
        pytest.param({}, {"image.tag": ""}, "/image/tag", id="empty-image-tag"),
        pytest.param({"api.replicas": "-1"}, {"image.tag": "1.0.0"}, "/api/replicas", id="negative-replicas"),
        pytest.param(
            {"worker.replicas": "-2"},
            {"image.tag": "1.0.0"},
            "/worker/replicas",
            id="negative-worker-replicas",
        ),
        pytest.param(
            {"organizations[0].name": "No Slug", "organizations[0].ownerEmail": "owner@example.org"},
            {"image.tag": "1.0.0"},
            "missing property 'slug'",
            id="organisation-without-slug",
        ),
        pytest.param(
            {
                "organizations[0].slug": "Bad_Slug",
                "organizations[0].name": "x",
                "organizations[0].ownerEmail": "owner@example.org",
            },
            {"image.tag": "1.0.0"},
            "/organizations/0/slug",
            id="organisation-bad-slug",
        ),
        pytest.param(
            {"config.smtp.tls": "ssl"}, {"image.tag": "1.0.0"}, "/config/smtp/tls", id="unknown-smtp-tls"
        ),
        pytest.param({"config.smtp.hots": "mail"}, {"image.tag": "1.0.0"}, "'hots' not allowed", id="typo"),
        pytest.param(
            {
                "organizations[0].slug": "with-secret",
                "organizations[0].name": "x",
                "organizations[0].oidc.issuer": "https://id.example.org",
                "organizations[0].oidc.clientId": "codo",
                "organizations[0].oidc.clientSecret": "plain-text",
                "organizations[0].oidc.clientSecretRef.name": "s",
                "organizations[0].oidc.clientSecretRef.key": "k",
            },
            {"image.tag": "1.0.0"},
            "'clientSecret' not allowed",
            id="oidc-secret-in-values",
        ),
        pytest.param(
            {
                "organizations[0].slug": "domains",
                "organizations[0].name": "x",
                "organizations[0].oidc.issuer": "https://id.example.org",
                "organizations[0].oidc.clientId": "codo",
                "organizations[0].oidc.clientSecretRef.name": "s",
                "organizations[0].oidc.clientSecretRef.key": "k",
                "organizations[0].oidc.allowedDomains[0]": "@Example.org",
            },
            {"image.tag": "1.0.0"},
            "/organizations/0/oidc/allowedDomains/0",
            id="oidc-bad-allowed-domain",
        ),
        pytest.param(
            {"worker.metricsPort": "9200"},
            {"image.tag": "1.0.0"},
            "'metricsPort' not allowed",
            id="old-worker-metrics-port",
        ),
        pytest.param({"metrics.port": "0"}, {"image.tag": "1.0.0"}, "/metrics/port", id="metrics-port-zero"),
        pytest.param(
            {"config.outbox.pollSeconds": "61"},
            {"image.tag": "1.0.0"},
            "/config/outbox/pollSeconds",
            id="outbox-poll-above-60",
        ),
    ],
)
def test_helm_rejects_bad_values_with_a_message_naming_them(
    sets: dict[str, str],
    string_sets: dict[str, str],
    expected: str,
) -> None:
    message = render_error(sets=sets, string_sets=string_sets)
    assert "schema" in message
    assert expected in message


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def test_schema_is_draft_07_and_accepts_the_shipped_values_files() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    # the defaults lack exactly two things: the image tag the operator pins and, in production,
    # the secret key
    assert {tuple(e.absolute_path) for e in validator.iter_errors(defaults)} == {
        ("image", "tag"),
        ("secrets", "secretKey"),
    }
    ready = _merge(defaults, {"image": {"tag": "1.0.0"}, "secrets": {"secretKey": SECRET_KEY}})
    assert not list(validator.iter_errors(ready))
    production = _merge(defaults, yaml.safe_load(PRODUCTION_VALUES.read_text()))
    assert not [e.message for e in validator.iter_errors(production)]


def test_every_values_key_is_documented_with_a_comment() -> None:
    """Each top-level block of values.yaml has a comment an operator can read."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        if line and not line.startswith((" ", "#")):
            previous = [p for p in lines[max(0, number - 3) : number] if p.strip()]
            assert previous and previous[-1].lstrip().startswith("#"), (
                f"values.yaml line {number + 1} ({line.split(':')[0]}) has no comment"
            )


def test_install_notes_warn_when_the_database_is_not_configured() -> None:
    def notes(*args: str) -> str:
        out = run_helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client", *args)
        return out[out.index("NOTES:") :]

    default = notes("--set", "image.tag=1.0.0", "--set", f"secrets.secretKey={SECRET_KEY}")
    assert "WARNING: not set: secrets.databaseUrl, secrets.redisUrl" in default
    assert "port-forward svc/codo 8000:80" in default
    assert "trustedProxies" not in default, "without an ingress no proxy needs trusting"
    behind = notes(
        "--set",
        "image.tag=1.0.0",
        "--set",
        f"secrets.secretKey={SECRET_KEY}",
        "--set",
        "ingress.enabled=true",
    )
    assert "WARNING: config.trustedProxies is empty" in behind
    production = notes("-f", str(PRODUCTION_VALUES))
    assert "WARNING" not in production
    assert "Open https://codo.example.org" in production
    assert "logs job/codo-org-sync" in production
