"""The Helm chart (``helm/estafette-ci``) rendered by Helm's own engine, for the deploy tests.

``helm-python-sdk`` carries Helm 4's engine as a library (no ``helm`` binary can be installed here): ``render`` is
``helm template``, ``lint`` is ``helm lint``. Rendered objects come back as dictionaries, one per YAML document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "estafette-ci"
RELEASE = "estafette-ci"
NAMESPACE = "ci"
# The chart's kubeVersion is ">=1.29.0-0"; kubernetes-validate knows schemas up to 1.37.
OLDEST_KUBERNETES = "1.29.0"
NEWEST_KUBERNETES = "1.37.0"
# Kinds whose schema is not Kubernetes' own (custom resources): checked by the tests themselves.
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor"}

DATABASE_URL = "postgresql://estafette:db-password@postgres.databases.svc:5432/estafette"

VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {"database": {"url": DATABASE_URL}},
    "ingress": {
        "database": {"url": DATABASE_URL},
        "api": {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "host": "ci.example.com",
                "tlsSecretName": "ci-example-com-tls",
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            }
        },
    },
    "external-nats": {
        "database": {"url": DATABASE_URL},
        "nats": {
            "enabled": False,
            "externalURL": "nats://nats.messaging.svc:4222",
            "auth": {"user": "estafette-ci", "existingSecret": "nats-credentials"},
        },
    },
    "cockroachdb": {
        "database": {
            "type": "cockroachdb",
            "url": "cockroachdb://estafette@cockroachdb-public.db.svc:26257/estafette?sslmode=verify-full",
        },
        "secrets": {"existingSecret": "estafette-keys"},
    },
    "hpa": {
        "database": {"existingSecret": "estafette-database", "existingSecretKey": "url"},
        "api": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12}},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    },
}


def render(values: dict[str, Any], *, upgrade: bool = False) -> list[dict[str, Any]]:
    """Every object the chart makes with ``values`` (``helm template``), hooks included."""
    chart = helm_python.Chart.load(str(CHART))
    try:
        rendered = chart.render(
            values, name=RELEASE, namespace=NAMESPACE, is_install=not upgrade, is_upgrade=upgrade, revision=1
        )
    finally:
        chart.close()
    objects: list[dict[str, Any]] = []
    for path in sorted(rendered):
        if not path.endswith((".yaml", ".yml")):
            continue
        objects.extend(document for document in yaml.safe_load_all(rendered[path]) if document)
    return objects


def lint(values: dict[str, Any], *, kube_version: str) -> dict[str, Any]:
    return helm_python.lint(
        str(CHART), values, strict=True, namespace=NAMESPACE, kube_version=f"v{kube_version}", quiet=False
    )


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = find(objects, kind, name)
    return found


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(kind/name, pod spec)`` of every workload."""
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", spec["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield f"CronJob/{obj['metadata']['name']}", spec["jobTemplate"]["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in container.get("env", [])}
