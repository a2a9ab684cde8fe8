"""The Kubernetes runner, against a fake API server.

No kube-apiserver (nor kind, k3s or envtest) can run on the machines this suite runs on, so the
runner is tested against kmock — a stateful fake Kubernetes API that stores what is created, patched
and deleted, with no controllers and no validation — and every object the runner generates is
validated with ``kubernetes_validate.validate(obj, "1.33.0", strict=True)`` against the real
Kubernetes schemas. The driver plays the Job controller by writing the Job's status.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import kubernetes_validate
import pytest
from django.core.exceptions import ImproperlyConfigured

from builder.testing import reserve_port
from estafette.jobs.base import JobResources, JobRunnerError, JobSpec, JobStatus
from estafette.jobs.kubernetes import KubernetesJobRunner
from estafette.jobs.tests.contract import JobRunnerContract, make_spec
from tests.tooling.kube import KubeApi

NAMESPACE = "estafette-ci-jobs"
KUBERNETES_VERSION = "1.33.0"


def validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


class ValidatingRunner(KubernetesJobRunner):
    """The real runner, with every object it is about to send checked against the Kubernetes schema."""

    def config_map_manifest(self, spec: JobSpec) -> dict[str, Any]:
        obj = super().config_map_manifest(spec)
        validate(obj)
        return obj

    def secret_manifest(self, spec: JobSpec) -> dict[str, Any]:
        obj = super().secret_manifest(spec)
        validate(obj)
        return obj

    def job_manifest(self, spec: JobSpec) -> dict[str, Any]:
        obj = super().job_manifest(spec)
        validate(obj)
        return obj


def make_runner(api: KubeApi, **options: Any) -> ValidatingRunner:
    return ValidatingRunner(
        api_client=api.api_client(),
        namespace=NAMESPACE,
        image="estafette/estafette-ci-builder-python:1.0.0",
        service_account="estafette-ci-builder",
        **options,
    )


class KubernetesDriver:
    """Plays the Job controller and the kubelet: what the pod would mount, and the Job status."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def received(self, job_name: str) -> tuple[dict[str, Any], str]:
        job = self.api.get("jobs", NAMESPACE, job_name)
        assert job is not None
        volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
        config_map = self.api.get("configmaps", NAMESPACE, volumes["configs"]["configMap"]["name"])
        secret = self.api.get("secrets", NAMESPACE, volumes["secrets"]["secret"]["secretName"])
        assert config_map is not None and secret is not None
        self.api.set_job_status(NAMESPACE, job_name, {"active": 1, "ready": 1})
        return (
            json.loads(config_map["data"]["builder-config.json"]),
            base64.b64decode(secret["data"]["secretDecryptionKey"]).decode(),
        )

    def finish(self, job_name: str, *, exit_code: int) -> None:
        if exit_code == 0:
            status = {"active": 0, "succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        else:
            status = {"active": 0, "failed": 3, "conditions": [{"type": "Failed", "status": "True"}]}
        self.api.set_job_status(NAMESPACE, job_name, status)

    def is_stopped(self, job_name: str) -> bool:
        return self.api.get("jobs", NAMESPACE, job_name) is None

    def leftovers(self, job_name: str) -> list[str]:
        kinds = ("jobs", "configmaps", "secrets")
        return [kind for kind in kinds if self.api.get(kind, NAMESPACE, job_name) is not None]


class TestKubernetesJobRunnerContract(JobRunnerContract):
    @pytest.fixture
    def runner(self, kube_api: KubeApi) -> ValidatingRunner:
        return make_runner(kube_api)

    @pytest.fixture
    def driver(self, kube_api: KubeApi) -> KubernetesDriver:
        return KubernetesDriver(kube_api)


@pytest.fixture
def api(kube_api: KubeApi) -> KubeApi:
    return kube_api


def test_it_creates_a_job_as_estafette_specifies_it(api: KubeApi) -> None:
    # given
    runner = make_runner(
        api,
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["builds"]}]}
                    ]
                }
            }
        },
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "builds", "effect": "NoSchedule"}],
    )
    spec = JobSpec.for_run(
        job_type="release",
        repo_owner="estafette",
        repo_name="estafette-ci-api",
        run_id=7,
        config={"jobType": "release"},
        secret_key="k",
        resources=JobResources(cpu_request="500m", cpu_limit="2", memory_request="256Mi", memory_limit="1Gi"),
    )

    # when
    runner.start(spec)

    # then
    job = api.get("jobs", NAMESPACE, "release-estafette-estafette-ci-api-7")
    assert job is not None
    assert job["metadata"]["labels"] == {"createdBy": "estafette", "jobType": "release"}
    assert job["metadata"]["annotations"] == {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
    assert job["spec"]["backoffLimit"] == 2
    pod = job["spec"]["template"]["spec"]
    assert job["spec"]["template"]["metadata"]["labels"] == {"createdBy": "estafette", "jobType": "release"}
    assert pod["restartPolicy"] == "Never"
    assert pod["terminationGracePeriodSeconds"] == 120
    assert pod["serviceAccountName"] == "estafette-ci-builder"
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "builds", "effect": "NoSchedule"}]
    [container] = pod["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi"},
    }
    assert container["securityContext"]["privileged"] is False
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/configs", "/secrets", "/estafette-work", "/tmp"}
    env = {e["name"]: e for e in container["env"]}
    assert env["BUILDER_CONFIG_PATH"]["value"] == "/configs/builder-config.json"
    assert env["ESTAFETTE_BUILDER_SECRET_KEY_FILE"]["value"] == "/secrets/secretDecryptionKey"
    assert env["ESTAFETTE_BUILDER_WORKSPACE"]["value"] == "/estafette-work"
    assert container["command"][:6] == ["python", "-m", "builder", "job", "--config", "/configs/builder-config.json"]
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    validate(job)


def test_the_job_pod_is_not_privileged_and_has_only_what_the_builders_sandbox_needs(api: KubeApi) -> None:
    # given a runner as the settings make it (user namespaces for job pods)
    runner = make_runner(api)
    # when it starts a job
    name = runner.start(make_spec())
    # then the pod runs as a non-root user in its own user namespace
    job = api.get("jobs", NAMESPACE, name)
    assert job is not None
    pod = job["spec"]["template"]["spec"]
    assert pod["hostUsers"] is False
    assert pod["securityContext"] == {"runAsNonRoot": True}
    assert not any(pod.get(name) for name in ("hostNetwork", "hostPID", "hostIPC"))
    # and its container holds no capability and cannot gain one; only seccomp, AppArmor and /proc's masking are
    # relaxed, for bwrap's user namespace (estafette/jobs/kubernetes.py says why each)
    [container] = pod["containers"]
    assert container["securityContext"] == {
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "Unconfined"},
        "appArmorProfile": {"type": "Unconfined"},
        "procMount": "Unmasked",
    }
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert annotations["container.apparmor.security.beta.kubernetes.io/estafette-ci-builder"] == "unconfined"
    assert "add" not in container["securityContext"]["capabilities"]
    validate(job)


def test_without_user_namespaces_the_pod_keeps_proc_masked_and_the_host_users(api: KubeApi) -> None:
    runner = make_runner(api, user_namespaces=False)
    name = runner.start(make_spec())
    job = api.get("jobs", NAMESPACE, name)
    assert job is not None
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    # Kubernetes refuses procMount: Unmasked to a pod in the node's user namespace
    assert "hostUsers" not in pod and "procMount" not in container["securityContext"]
    assert container["securityContext"]["privileged"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    validate(job)


@pytest.mark.parametrize("operating_system", ["linux", "windows"])
def test_every_generated_object_passes_strict_schema_validation(api: KubeApi, operating_system: str) -> None:
    # given
    runner = make_runner(api, tolerations=[{"key": "a", "operator": "Exists"}])
    spec = replace(
        make_spec(), operating_system=operating_system, resources=JobResources(cpu_request="1", memory_limit="2Gi")
    )

    # when / then: what is generated and what the server stored both validate
    for obj in (runner.config_map_manifest(spec), runner.secret_manifest(spec), runner.job_manifest(spec)):
        validate(obj)
    runner.start(spec)
    for kind in ("configmaps", "secrets", "jobs"):
        stored = api.get(kind, NAMESPACE, spec.name)
        assert stored is not None
        validate({k: v for k, v in stored.items() if v is not None})


def test_validation_would_catch_a_malformed_object() -> None:
    # the safety net itself: a typo in a field name fails strict validation
    with pytest.raises(kubernetes_validate.ValidationError):
        validate({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"}, "spec": {"backofLimit": 2}})


def test_cancel_deletes_the_job_in_the_foreground_and_its_config_and_key(api: KubeApi) -> None:
    # given
    runner = make_runner(api)
    name = runner.start(make_spec())

    # when
    runner.cancel(name)

    # then
    deletes = [(r["path"], r["params"]) for r in api.requests() if r["method"] == "DELETE"]
    assert deletes == [
        (f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{name}", {"propagationPolicy": "Foreground"}),
        (f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}", {}),
        (f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}", {}),
    ]


def test_a_job_being_deleted_counts_as_canceled_and_a_pod_still_starting_as_pending(api: KubeApi) -> None:
    from kubernetes import client as k8s

    from estafette.jobs.kubernetes import job_status

    # given / when / then: what a real API server shows while the foreground deletion runs
    terminating = k8s.V1Job(metadata=k8s.V1ObjectMeta(name="x", deletion_timestamp="2024-05-01T12:00:00Z"))
    assert job_status(terminating) is JobStatus.CANCELED
    scheduling = k8s.V1Job(status=k8s.V1JobStatus(active=1, ready=0))
    assert job_status(scheduling) is JobStatus.PENDING


def test_the_secret_key_stays_out_of_errors(api: KubeApi) -> None:
    # given: an API server that is not there
    unreachable = KubeApi()
    unreachable.url = f"http://127.0.0.1:{reserve_port()}"
    runner = make_runner(unreachable)
    spec = make_spec(key="never-show-this-key")

    # when
    with pytest.raises(JobRunnerError) as raised:
        runner.start(spec)

    # then
    assert "never-show-this-key" not in str(raised.value)
    assert "Kubernetes API unreachable" in str(raised.value)


def test_it_refuses_settings_of_the_wrong_shape(settings) -> None:
    settings.JOBS_AFFINITY = []
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_JOBS_AFFINITY must be a JSON object"):
        KubernetesJobRunner.from_settings()
    settings.JOBS_AFFINITY = {}
    settings.JOBS_TOLERATIONS = {"key": "a"}
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_JOBS_TOLERATIONS must be a JSON list"):
        KubernetesJobRunner.from_settings()
    settings.JOBS_TOLERATIONS = []
    settings.KUBECONFIG = ""
    with pytest.raises(ImproperlyConfigured, match="needs the in-cluster service account or ESTAFETTE_KUBECONFIG"):
        KubernetesJobRunner.from_settings()
