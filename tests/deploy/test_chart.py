"""The Helm chart, rendered by Helm's own engine for each value set, linted, and every object validated against the
Kubernetes schemas of the oldest and newest versions it supports; then the Kubernetes job runner, configured as the
chart configures it, against the chart's ServiceAccount and Role on the kmock fake API.

What the chart must hold for any value set: the pieces of Estafette's chart (ESTAFETTE.md §8) that this system has,
non-root containers with a read-only root file system and no capabilities, probes on ``/liveness`` and
``/readiness``, the database URL and every credential from Secrets, the migrations as a pre-install/pre-upgrade hook,
and a Role granting exactly the calls ``KubernetesJobRunner`` makes.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import helm_python
import kubernetes_validate
import pytest
from django.conf import settings
from kubernetes import client as k8s

from estafette.jobs.base import JobRunnerError, JobStatus
from estafette.jobs.kubernetes import KubernetesJobRunner
from estafette.jobs.tests.contract import make_spec
from tests.deploy.chart import (
    CHART,
    CUSTOM_KINDS,
    NAMESPACE,
    NEWEST_KUBERNETES,
    OLDEST_KUBERNETES,
    RELEASE,
    VALUE_SETS,
    env_of,
    find,
    lint,
    one,
    pod_specs,
    render,
)
from tests.tooling.kube import KubeApi

pytestmark = pytest.mark.pure  # no database: the chart and a fake Kubernetes API

API = f"{RELEASE}-api"
JOBS_NAMESPACE = f"{NAMESPACE}-jobs"


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(values) for name, values in VALUE_SETS.items()}


# --- Helm and Kubernetes accept it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kube_version", [OLDEST_KUBERNETES, NEWEST_KUBERNETES])
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_the_chart_lints_clean_in_strict_mode(value_set: str, kube_version: str) -> None:
    result = lint(VALUE_SETS[value_set], kube_version=kube_version)
    assert result["errors"] == []
    # Only the informational "icon is recommended" (the project has no icon of its own): no warning.
    assert [m for m in result["messages"] if m["severity"] > 1] == []


@pytest.mark.parametrize("kube_version", [OLDEST_KUBERNETES, NEWEST_KUBERNETES])
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_object_is_valid_for_the_oldest_and_newest_kubernetes(
    rendered: dict[str, list[dict[str, Any]]], value_set: str, kube_version: str
) -> None:
    objects = rendered[value_set]
    assert len(objects) >= 15
    for obj in objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} ({value_set}, {kube_version}): {error.message}")


def test_values_the_schema_refuses_stop_the_render() -> None:
    base = VALUE_SETS["defaults"]
    for bad, reason in (
        ({"api": {"replicas": "two"}}, "/api/replicas"),
        ({"api": {"ingres": {"enabled": True}}}, "'ingres' not allowed"),  # a misspelt key is an error, not ignored
        ({"database": {"type": "mysql"}}, "/database/type"),
        ({"nats": {"enabled": False}}, r"nats\.externalURL is required"),  # an external NATS needs its URL
    ):
        with pytest.raises(helm_python.HelmError, match=reason):
            render({**base, **bad})
    with pytest.raises(helm_python.HelmError, match=r"database\.url"):
        render({})
    with pytest.raises(helm_python.HelmError, match="cockroachdb"):
        render({"database": {"type": "cockroachdb", "url": "postgresql://u:p@db/e"}})


# --- what it runs ---------------------------------------------------------------------------------------------------


def test_the_defaults_run_every_process_of_the_system(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["defaults"]
    deployments = {o["metadata"]["name"]: o for o in find(objects, "Deployment")}
    assert set(deployments) == {API, f"{RELEASE}-consumers", f"{RELEASE}-relay", f"{RELEASE}-sweeper"}
    commands = {
        name: [
            *d["spec"]["template"]["spec"]["containers"][0]["command"],
            *d["spec"]["template"]["spec"]["containers"][0].get("args", []),
        ]
        for name, d in deployments.items()
    }
    assert commands[API][:2] == ["gunicorn", "estafette.wsgi"]
    assert commands[f"{RELEASE}-consumers"] == ["python", "manage.py", "consume", "--all"]
    assert commands[f"{RELEASE}-relay"] == ["python", "manage.py", "relay_outbox"]
    assert commands[f"{RELEASE}-sweeper"] == ["python", "manage.py", "sweep_jobs", "--every"]
    cron = one(objects, "CronJob", f"{RELEASE}-cron")
    assert (cron["spec"]["schedule"], cron["spec"]["concurrencyPolicy"]) == ("* * * * *", "Forbid")
    cron_container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert [*cron_container["command"], *cron_container["args"]] == ["python", "manage.py", "send_cron_event"]
    # the audit trail's retention: a daily pass of sweep_audit, never two at once
    audit = one(objects, "CronJob", f"{RELEASE}-audit-sweep")
    assert (audit["spec"]["schedule"], audit["spec"]["concurrencyPolicy"]) == ("17 3 * * *", "Forbid")
    audit_container = audit["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert [*audit_container["command"], *audit_container["args"]] == ["python", "manage.py", "sweep_audit"]
    # the API: a Service, a PodDisruptionBudget, no HPA and no ingress unless asked for
    assert one(objects, "Service", API)["spec"]["ports"][0]["targetPort"] == "http"
    assert one(objects, "PodDisruptionBudget", API)["spec"]["maxUnavailable"] == 1
    assert find(objects, "HorizontalPodAutoscaler") == find(objects, "Ingress") == []
    assert find(objects, "ServiceMonitor") == find(objects, "PodMonitor") == []


def test_the_api_is_probed_on_liveness_and_readiness(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for objects in rendered.values():
        container = one(objects, "Deployment", API)["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"] == {"path": "/liveness", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readiness", "port": "http"}
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook_after_the_database_secret(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["defaults"]
    (job,) = find(objects, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    # the Secret it reads is a hook too, made before it (lower weight): release objects do not exist yet
    secret_name = env_of(container)["ESTAFETTE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"]
    secret = one(objects, "Secret", secret_name)
    assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    # and nothing else it references is a release object
    assert set(env_of(container)) == {"ESTAFETTE_DATA_DIR", "ESTAFETTE_DATABASE_URL"}
    assert job["spec"]["template"]["spec"].get("serviceAccountName") is None


def test_credentials_come_from_secrets_only(rendered: dict[str, list[dict[str, Any]]]) -> None:
    secret_variables = {
        "ESTAFETTE_DATABASE_URL",
        "ESTAFETTE_SECRET_KEY",
        "ESTAFETTE_SECRET_DECRYPTION_KEY",
        "ESTAFETTE_GIT_WEBHOOK_SECRET",
        "ESTAFETTE_NATS_PASSWORD",
        "NATS_PASSWORD",
    }
    for value_set, objects in rendered.items():
        for where, pod in pod_specs(objects):
            for container in pod["containers"]:
                for name, variable in env_of(container).items():
                    if name in secret_variables:
                        assert "secretKeyRef" in variable.get("valueFrom", {}), (value_set, where, name)
                text = json.dumps(container)
                assert "db-password" not in text, (value_set, where)
    # the database URL given in values lands in a Secret, base64 as Secrets are
    assert "db-password" not in json.dumps([o for o in rendered["defaults"] if o["kind"] != "Secret"])


def test_containers_run_as_non_root_with_a_read_only_root_and_no_capabilities(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for value_set, objects in rendered.items():
        for where, pod in pod_specs(objects):
            assert pod["securityContext"]["runAsNonRoot"] is True, (value_set, where)
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, (value_set, where)
            for container in pod["containers"]:
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True, (value_set, where)
                assert context["allowPrivilegeEscalation"] is False, (value_set, where)
                assert context["capabilities"] == {"drop": ["ALL"]}, (value_set, where)
                assert "resources" in container and container["resources"]["requests"], (value_set, where)


def test_nats_runs_jetstream_with_credentials_from_a_secret(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["defaults"]
    nats = one(objects, "StatefulSet", f"{RELEASE}-nats")
    container = nats["spec"]["template"]["spec"]["containers"][0]
    config = one(objects, "ConfigMap", f"{RELEASE}-nats")["data"]["nats.conf"]
    assert "jetstream {" in config and "store_dir: /data" in config
    assert "password: $NATS_PASSWORD" in config
    password = env_of(container)["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    api = one(objects, "Deployment", API)["spec"]["template"]["spec"]["containers"][0]
    assert env_of(api)["ESTAFETTE_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == password
    assert env_of(api)["ESTAFETTE_NATS_URL"]["value"] == f"nats://{RELEASE}-nats.{NAMESPACE}.svc:4222"
    assert nats["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    keys = one(objects, "Secret", password["name"])
    assert keys["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert set(keys["data"]) == {"secretKey", "secretDecryptionKey", "gitWebhookSecret", "metricsToken", "natsPassword"}


def test_an_external_nats_replaces_the_statefulset(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["external-nats"]
    assert find(objects, "StatefulSet") == []
    api = env_of(one(objects, "Deployment", API)["spec"]["template"]["spec"]["containers"][0])
    assert api["ESTAFETTE_NATS_URL"]["value"] == "nats://nats.messaging.svc:4222"
    assert api["ESTAFETTE_NATS_USER"]["value"] == "estafette-ci"
    assert api["ESTAFETTE_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "nats-credentials",
        "key": "natsPassword",
    }
    # the chart still makes the installation's keys, but no NATS password of its own
    assert "natsPassword" not in one(objects, "Secret", f"{RELEASE}-keys")["data"]


def test_cockroachdb_and_existing_secrets(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["cockroachdb"]
    url = one(objects, "Secret", f"{RELEASE}-database")["data"]["databaseURL"]
    import base64

    assert base64.b64decode(url).decode().startswith("cockroachdb://")
    api = env_of(one(objects, "Deployment", API)["spec"]["template"]["spec"]["containers"][0])
    assert api["ESTAFETTE_SECRET_DECRYPTION_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "estafette-keys"
    # an existing database Secret: the chart makes none, and reads the key it was told
    hpa_objects = rendered["hpa"]
    assert find(hpa_objects, "Secret", f"{RELEASE}-database") == []
    migrate = find(hpa_objects, "Job")[0]["spec"]["template"]["spec"]["containers"][0]
    assert env_of(migrate)["ESTAFETTE_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "estafette-database",
        "key": "url",
    }


def test_the_ingress_serves_the_base_url_over_https(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["ingress"]
    ingress = one(objects, "Ingress", API)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"][0]["host"] == "ci.example.com"
    assert ingress["spec"]["tls"] == [{"hosts": ["ci.example.com"], "secretName": "ci-example-com-tls"}]
    api = env_of(one(objects, "Deployment", API)["spec"]["template"]["spec"]["containers"][0])
    assert api["ESTAFETTE_BASE_URL"]["value"] == "https://ci.example.com"
    assert api["ESTAFETTE_HTTPS"]["value"] == "true"
    assert api["ESTAFETTE_TRUSTED_PROXY_COUNT"]["value"] == "1"
    # jobs report to the Service inside the cluster, not through the ingress
    assert api["ESTAFETTE_SERVICE_URL"]["value"] == f"http://{API}.{NAMESPACE}.svc:80"


def test_the_hpa_scales_the_api_and_the_service_monitor_scrapes_metrics(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["hpa"]
    hpa = one(objects, "HorizontalPodAutoscaler", API)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": API}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    # the HPA owns the replica count: the Deployment leaves it out
    assert "replicas" not in one(objects, "Deployment", API)["spec"]
    monitor = one(objects, "ServiceMonitor", API)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    [endpoint] = monitor["spec"]["endpoints"]
    assert {key: endpoint[key] for key in ("port", "path", "interval")} == {
        "port": "http",
        "path": "/metrics",
        "interval": "30s",
    }
    assert_sends_the_servers_metrics_token(objects, endpoint)
    service = one(objects, "Service", API)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


def assert_sends_the_servers_metrics_token(objects: list[dict[str, Any]], endpoint: dict[str, Any]) -> None:
    """The scrape's bearer token is the Secret key the server reads ESTAFETTE_METRICS_TOKEN from (else: 403)."""
    assert endpoint["authorization"]["type"] == "Bearer"
    credentials = endpoint["authorization"]["credentials"]
    api = one(objects, "Deployment", API)["spec"]["template"]["spec"]["containers"][0]
    assert env_of(api)["ESTAFETTE_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"] == {**credentials, "optional": True}
    secret = one(objects, "Secret", credentials["name"])
    assert credentials["key"] in secret["data"]


def test_the_pod_monitor_scrapes_each_workers_own_metrics(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["hpa"]
    (monitor,) = find(objects, "PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == ("metrics", "/metrics", "30s")
    assert_sends_the_servers_metrics_token(objects, endpoint)
    # it selects exactly the consumers', relay's and sweeper's pods (a label selector, evaluated here)
    selector = monitor["spec"]["selector"]

    def selected(labels: dict[str, str]) -> bool:
        if not selector["matchLabels"].items() <= labels.items():
            return False
        return all(
            labels.get(rule["key"]) in rule["values"]
            for rule in selector["matchExpressions"]
            if rule["operator"] == "In"
        )

    chosen = {where for where, pod in pod_specs(objects) if selected(_template_labels(objects, where))}
    workers = {f"Deployment/{RELEASE}-{name}" for name in ("consumers", "relay", "sweeper")}
    assert chosen == workers
    # and each of them serves its metrics on the port it names, from the process (ESTAFETTE_METRICS_PORT)
    for where, pod in pod_specs(objects):
        if where in workers:
            [container] = pod["containers"]
            [port] = container["ports"]
            assert (port["name"], port["containerPort"]) == ("metrics", 9102)
            assert env_of(container)["ESTAFETTE_METRICS_PORT"]["value"] == "9102"
    # without monitoring asked for, neither monitor exists, but the workers still serve their metrics
    assert find(rendered["defaults"], "PodMonitor") == []


def _template_labels(objects: list[dict[str, Any]], where: str) -> dict[str, str]:
    kind, name = where.split("/", 1)
    obj = one(objects, kind, name)
    template = obj["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else obj["spec"]["template"]
    return dict(template["metadata"].get("labels", {}))


# --- the jobs namespace and the Role ---------------------------------------------------------------------------------


def _role(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (role,) = find(objects, "Role")
    return role


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) the Role allows."""
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def used(requests: list[dict[str, Any]], namespace: str) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) of the API requests made in ``namespace``, as Kubernetes' authorizer names them."""
    calls = set()
    for request in requests:
        parts = request["path"].strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        assert rest[:2] == ["namespaces", namespace], f"a call outside the jobs namespace: {request['path']}"
        resource, named = rest[2], len(rest) > 3
        if len(rest) > 4:
            resource = f"{resource}/{rest[4]}"
        method = request["method"].upper()
        verb = {
            "GET": "get" if named else ("watch" if request["params"].get("watch") else "list"),
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if named else "deletecollection",
        }[method]
        calls.add((group, resource, verb))
    return calls


def chart_runner(objects: list[dict[str, Any]], api: KubeApi) -> KubernetesJobRunner:
    """The runner as the chart's consumers configure it (``ESTAFETTE_JOBS_*``)."""
    consumers = one(objects, "Deployment", f"{RELEASE}-consumers")["spec"]["template"]["spec"]["containers"][0]
    env = {name: variable.get("value") for name, variable in env_of(consumers).items()}
    assert env["ESTAFETTE_JOB_RUNNER"] == "kubernetes"
    return KubernetesJobRunner(
        api_client=api.api_client(),
        namespace=env["ESTAFETTE_JOBS_NAMESPACE"],
        image=env["ESTAFETTE_JOBS_BUILDER_IMAGE"],
        service_account=env["ESTAFETTE_JOBS_SERVICE_ACCOUNT"],
        backoff_limit=int(env["ESTAFETTE_JOBS_BACKOFF_LIMIT"]),
        affinity=json.loads(env["ESTAFETTE_JOBS_AFFINITY"]),
        tolerations=json.loads(env["ESTAFETTE_JOBS_TOLERATIONS"]),
    )


def apply(api: KubeApi, objects: list[dict[str, Any]]) -> None:
    """The chart's jobs-namespace objects, created in the fake API (kmock has no cluster-scoped Namespaces)."""
    client = api.api_client()
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] == "ServiceAccount" and namespace == JOBS_NAMESPACE:
            k8s.CoreV1Api(client).create_namespaced_service_account(namespace, obj)
        elif obj["kind"] == "Role":
            k8s.RbacAuthorizationV1Api(client).create_namespaced_role(namespace, obj)
        elif obj["kind"] == "RoleBinding":
            k8s.RbacAuthorizationV1Api(client).create_namespaced_role_binding(namespace, obj)


def exercise(runner: KubernetesJobRunner, api: KubeApi) -> None:
    """Every call the runner can make: start (twice, and over a left-over), status, cancel, cleanup."""
    first = make_spec()
    name = runner.start(first)
    assert runner.start(first) == name  # already there: only read
    api.set_job_status(runner.namespace, name, {"active": 1, "ready": 1})
    assert runner.status(name) is JobStatus.RUNNING
    assert runner.cancel(name) is True
    runner.cleanup(name)
    assert runner.status(name) is JobStatus.NOT_FOUND
    # a start that failed half-way left its ConfigMap (or its Secret): the next start replaces it. kmock serves no
    # PUT: it records the call and answers 404, which the runner reports; the call is what this test looks at.
    for leftover in ("config_map", "secret"):
        spec = make_spec()
        create = getattr(runner.core, f"create_namespaced_{leftover}")
        create(runner.namespace, getattr(runner, f"{leftover}_manifest")(spec))
        with pytest.raises(JobRunnerError, match="replacing"):
            runner.start(spec)
        runner.cleanup(spec.name)


def test_the_role_grants_exactly_what_the_kubernetes_runner_calls(
    rendered: dict[str, list[dict[str, Any]]], kube_api: KubeApi
) -> None:
    # given the runner configured as the chart configures it
    objects = rendered["defaults"]
    runner = chart_runner(objects, kube_api)
    # when it makes every call it can make
    before = len(kube_api.requests())
    exercise(runner, kube_api)
    # (less the Job status the test wrote as the Job controller would)
    calls = used(kube_api.requests()[before:], JOBS_NAMESPACE) - {("batch", "jobs/status", "patch")}
    # then the Role in the jobs namespace grants each of those calls, and nothing it does not make
    role = _role(objects)
    assert role["metadata"]["namespace"] == JOBS_NAMESPACE
    assert calls == granted(role)
    assert ("batch", "jobs", "get") in calls and ("", "secrets", "update") in calls
    # and it is bound to the ServiceAccount every server process runs as
    (binding,) = find(objects, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    accounts = {pod.get("serviceAccountName") for where, pod in pod_specs(objects) if "migrate" not in where}
    accounts.discard(None)  # NATS runs without one
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": accounts.pop(), "namespace": NAMESPACE}]
    assert not accounts


def test_the_runner_starts_jobs_under_the_chart_s_service_account_with_the_shipped_builder_image(
    rendered: dict[str, list[dict[str, Any]]], kube_api: KubeApi
) -> None:
    # given the chart's jobs-namespace objects in the API
    objects = rendered["defaults"]
    apply(kube_api, objects)
    runner = chart_runner(objects, kube_api)
    # when a job starts
    name = runner.start(make_spec())
    # then its pod runs under the chart's builder ServiceAccount, in the chart's jobs namespace, which exists
    job = kube_api.get("jobs", JOBS_NAMESPACE, name)
    assert job is not None
    pod = job["spec"]["template"]["spec"]
    account = k8s.CoreV1Api(kube_api.api_client()).read_namespaced_service_account(
        pod["serviceAccountName"], JOBS_NAMESPACE
    )
    assert account.automount_service_account_token is False  # the builder gets no API token
    # with the builder image `make images` builds (docker/builder.Dockerfile), the server's default too
    assert pod["containers"][0]["image"] == settings.JOBS_BUILDER_IMAGE
    assert settings.JOBS_BUILDER_IMAGE in shipped_images()["docker/builder.Dockerfile"]
    kubernetes_validate.validate(job, NEWEST_KUBERNETES, strict=True)


def shipped_images() -> dict[str, str]:
    """What ``make images`` builds: Dockerfile → the image's name and tag (from ``make -n``, nothing is built)."""
    listed = subprocess.run(
        ["make", "-s", "-n", "images"], cwd=CHART.parents[1], capture_output=True, text=True, check=True
    ).stdout
    built = {}
    for line in listed.splitlines():
        words = line.split()
        built[words[words.index("-f") + 1]] = words[words.index("-t") + 1]
    return built


def test_the_chart_s_default_images_are_the_ones_make_images_builds(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["defaults"]
    api = one(objects, "Deployment", API)["spec"]["template"]["spec"]["containers"][0]
    assert api["image"] == shipped_images()["docker/server.Dockerfile"]
    assert env_of(api)["ESTAFETTE_JOBS_BUILDER_IMAGE"]["value"] == shipped_images()["docker/builder.Dockerfile"]
