"""``KubernetesJobRunner``: each job is a Kubernetes Job in the jobs namespace (ESTAFETTE.md §3.6).

Per job: a ConfigMap ``<name>`` (key ``builder-config.json``, mounted at ``/configs``), a Secret
``<name>`` (key ``secretDecryptionKey``, the per-job key, mounted at ``/secrets``) and the Job
``<name>``: labels ``createdBy: estafette`` and ``jobType``, ``restartPolicy: Never``, a small
``backoffLimit`` — the builder always exits 0 (a failed build is reported to the API, not signalled
by the exit code), so Kubernetes only re-runs the pod when it was lost with its node — and affinity
and tolerations from the settings. Cancel deletes the Job with foreground propagation (its pod gets
SIGTERM and the termination grace period) plus its ConfigMap and Secret; cleanup deletes all three.

**The pod is not privileged** (Estafette's was, to run Docker inside). The builder image runs as its own user
(10001) and runs stages with the host executor in a bubblewrap sandbox (``builder/executors/sandbox.py``): one
unprivileged bwrap that makes a user namespace, in which it gets the capabilities it needs (to mount the stage's
file system view, ``/proc`` and ``/dev``; ``--cap-drop ALL`` before the stage runs). So the container needs no
capability at all (``drop: [ALL]``, ``allowPrivilegeEscalation: false``: a new user namespace gets a full capability
set and bounding set of its own, whatever the container's), but three things a container runtime forbids by default:

* ``unshare``/``clone`` with namespace flags, ``mount``, ``pivot_root``: the runtime's default seccomp profile
  allows them only to a container holding ``CAP_SYS_ADMIN`` → ``seccompProfile: Unconfined`` (the one exception,
  better than that capability);
* ``mount`` under the runtime's default AppArmor profile (``deny mount``) → AppArmor ``Unconfined`` (the field, and
  the annotation that Kubernetes before 1.30 reads);
* a fresh ``proc`` in the stage's PID namespace: the kernel allows it in a user namespace only where ``/proc`` is
  fully visible, and the runtime masks parts of it → ``procMount: Unmasked``, which Kubernetes allows only to a pod
  in a user namespace of its own → ``hostUsers: false``. That is also what makes the unconfined profiles safe to
  give: the pod's root and every uid in it are unprivileged uids of the node.

Clusters without user namespaces for pods (before Kubernetes 1.33, or a runtime without them) set
``ESTAFETTE_JOBS_USER_NAMESPACES=false``: the pod is then the same minus ``hostUsers`` and ``procMount``, the builder
finds it cannot sandbox stages (``/proc`` masked) and refuses untrusted builds on the host executor, saying why.

This module is the only one that speaks to the Kubernetes API (the official ``kubernetes`` client).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from estafette.jobs.base import JobRunnerError, JobSpec, JobStatus

logger = logging.getLogger(__name__)

CONFIG_KEY = "builder-config.json"
KEY_FILE_NAME = "secretDecryptionKey"  # the Secret's key, as in Estafette
CONFIG_MOUNT = "/configs"
KEY_MOUNT = "/secrets"
CONTAINER_NAME = "estafette-ci-builder"
DEFAULT_COMMAND: tuple[str, ...] = (
    *("python", "-m", "builder", "job", "--config", f"{CONFIG_MOUNT}/{CONFIG_KEY}"),
    *("--secret-key-file", f"{KEY_MOUNT}/{KEY_FILE_NAME}"),
)
REQUEST_TIMEOUT_SECONDS = 15

T = TypeVar("T")


class KubernetesJobRunner:
    def __init__(
        self,
        *,
        api_client: k8s.ApiClient,
        namespace: str,
        image: str,
        service_account: str = "",
        backoff_limit: int = 2,
        affinity: Mapping[str, Any] | None = None,
        tolerations: Sequence[Mapping[str, Any]] = (),
        user_namespaces: bool = True,
        termination_grace_seconds: int = 120,
        image_pull_policy: str = "IfNotPresent",
        command: Sequence[str] = DEFAULT_COMMAND,
    ) -> None:
        self.batch = k8s.BatchV1Api(api_client)
        self.core = k8s.CoreV1Api(api_client)
        self.namespace = namespace
        self.image = image
        self.service_account = service_account
        self.backoff_limit = backoff_limit
        self.affinity = dict(affinity or {})
        self.tolerations = [dict(t) for t in tolerations]
        self.user_namespaces = user_namespaces
        self.termination_grace_seconds = termination_grace_seconds
        self.image_pull_policy = image_pull_policy
        self.command = list(command)

    @classmethod
    def from_settings(cls) -> KubernetesJobRunner:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
        from kubernetes import config

        if not isinstance(settings.JOBS_AFFINITY, dict):
            raise ImproperlyConfigured("ESTAFETTE_JOBS_AFFINITY must be a JSON object (a Kubernetes Affinity)")
        if not isinstance(settings.JOBS_TOLERATIONS, list):
            raise ImproperlyConfigured("ESTAFETTE_JOBS_TOLERATIONS must be a JSON list of Kubernetes Tolerations")
        try:
            if settings.KUBECONFIG:
                api_client = config.new_client_from_config(config_file=settings.KUBECONFIG)
            else:
                config.load_incluster_config()
                api_client = k8s.ApiClient()
        except config.ConfigException as error:
            raise ImproperlyConfigured(
                f"ESTAFETTE_JOB_RUNNER=kubernetes needs the in-cluster service account or ESTAFETTE_KUBECONFIG: {error}"
            ) from None
        return cls(
            api_client=api_client,
            namespace=settings.JOBS_NAMESPACE,
            image=settings.JOBS_BUILDER_IMAGE,
            service_account=settings.JOBS_SERVICE_ACCOUNT,
            backoff_limit=settings.JOBS_BACKOFF_LIMIT,
            affinity=settings.JOBS_AFFINITY,
            tolerations=settings.JOBS_TOLERATIONS,
            user_namespaces=settings.JOBS_USER_NAMESPACES,
            termination_grace_seconds=settings.JOB_CANCEL_GRACE_SECONDS,
        )

    # --- the objects -----------------------------------------------------------------------------

    def labels(self, spec: JobSpec) -> dict[str, str]:
        return {**spec.labels, "createdBy": "estafette", "jobType": spec.job_type}

    def config_map_manifest(self, spec: JobSpec) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": spec.name, "namespace": self.namespace, "labels": self.labels(spec)},
            "data": {CONFIG_KEY: json.dumps(spec.config, separators=(",", ":"))},
        }

    def secret_manifest(self, spec: JobSpec) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": spec.name, "namespace": self.namespace, "labels": self.labels(spec)},
            "data": {KEY_FILE_NAME: base64.b64encode(spec.secret_key.encode()).decode()},
        }

    def job_manifest(self, spec: JobSpec) -> dict[str, Any]:
        labels = self.labels(spec)
        # The cluster autoscaler must not evict a running build to shrink the cluster.
        annotations = {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
        pod_annotations = dict(annotations)
        pod_spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": self.termination_grace_seconds,
            "nodeSelector": {"kubernetes.io/os": spec.operating_system},
            "containers": [self._container(spec)],
            "volumes": [
                {"name": "configs", "configMap": {"name": spec.name}},
                {"name": "secrets", "secret": {"secretName": spec.name}},
                {"name": "working-directory", "emptyDir": {}},
                {"name": "temp-directory", "emptyDir": {}},
            ],
        }
        if self.service_account:
            pod_spec["serviceAccountName"] = self.service_account
        if spec.operating_system != "windows":
            pod_spec["securityContext"] = {"runAsNonRoot": True}
            if self.user_namespaces:
                pod_spec["hostUsers"] = False
            # Kubernetes before 1.30 reads the annotation only; later ones require it to agree with the field.
            pod_annotations[f"container.apparmor.security.beta.kubernetes.io/{CONTAINER_NAME}"] = "unconfined"
        if self.affinity:
            pod_spec["affinity"] = self.affinity
        tolerations = list(self.tolerations)
        if spec.operating_system == "windows":
            tolerations.append(
                {"key": "node.kubernetes.io/os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}
            )
        if tolerations:
            pod_spec["tolerations"] = tolerations
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": spec.name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": annotations,
            },
            "spec": {
                "backoffLimit": self.backoff_limit,
                "completions": 1,
                "parallelism": 1,
                "template": {"metadata": {"labels": labels, "annotations": pod_annotations}, "spec": pod_spec},
            },
        }

    def _container(self, spec: JobSpec) -> dict[str, Any]:
        windows = spec.operating_system == "windows"
        workdir = "C:/estafette-work" if windows else "/estafette-work"
        tempdir = "C:/Windows/TEMP" if windows else "/tmp"  # noqa: S108 - the pod's own emptyDir
        container: dict[str, Any] = {
            "name": CONTAINER_NAME,
            "image": self.image,
            "imagePullPolicy": self.image_pull_policy,
            "command": self.command,
            "env": [
                {"name": "BUILDER_CONFIG_PATH", "value": f"{CONFIG_MOUNT}/{CONFIG_KEY}"},
                {"name": "ESTAFETTE_BUILDER_SECRET_KEY_FILE", "value": f"{KEY_MOUNT}/{KEY_FILE_NAME}"},
                {"name": "ESTAFETTE_BUILDER_WORKSPACE", "value": workdir},
                {"name": "ESTAFETTE_BUILDER_JOB_NAME", "value": spec.name},
                *(_field_env(name, path) for name, path in _DOWNWARD_API.items()),
            ],
            "volumeMounts": [
                {"name": "configs", "mountPath": CONFIG_MOUNT, "readOnly": True},
                {"name": "secrets", "mountPath": KEY_MOUNT, "readOnly": True},
                {"name": "working-directory", "mountPath": workdir},
                {"name": "temp-directory", "mountPath": tempdir},
            ],
        }
        if not windows:
            # The least the host executor's sandbox needs (see the module's docstring).
            context: dict[str, Any] = {
                "privileged": False,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "Unconfined"},
                "appArmorProfile": {"type": "Unconfined"},
            }
            if self.user_namespaces:
                context["procMount"] = "Unmasked"
            container["securityContext"] = context
        resources = _resources(spec)
        if resources:
            container["resources"] = resources
        return container

    # --- the protocol ----------------------------------------------------------------------------

    def start(self, spec: JobSpec) -> str:
        """Create ConfigMap, Secret and Job; a Job that already exists is left as it is (with its key)."""
        if self._read_job(spec.name) is not None:
            return spec.name
        # Left-overs of a start that failed half-way are replaced: the Job did not exist yet.
        self._create_or_replace(
            lambda: self.core.create_namespaced_config_map(
                self.namespace, self.config_map_manifest(spec), _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
            lambda: self.core.replace_namespaced_config_map(
                spec.name, self.namespace, self.config_map_manifest(spec), _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
            what=f"ConfigMap {spec.name}",
        )
        self._create_or_replace(
            lambda: self.core.create_namespaced_secret(
                self.namespace, self.secret_manifest(spec), _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
            lambda: self.core.replace_namespaced_secret(
                spec.name, self.namespace, self.secret_manifest(spec), _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
            what=f"Secret {spec.name}",
        )
        try:
            self._call(
                lambda: self.batch.create_namespaced_job(
                    self.namespace, self.job_manifest(spec), _request_timeout=REQUEST_TIMEOUT_SECONDS
                ),
                what=f"creating Job {spec.name}",
                tolerate=(409,),  # a concurrent start won
            )
        except JobRunnerError:
            self._delete_config(spec.name)
            raise
        return spec.name

    def status(self, job_name: str) -> JobStatus:
        job = self._read_job(job_name)
        if job is None:
            return JobStatus.NOT_FOUND
        return job_status(job)

    def cancel(self, job_name: str) -> bool:
        job = self._read_job(job_name)
        if job is None or job_status(job) in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return False
        self._delete_job(job_name)
        self._delete_config(job_name)
        return True

    def cleanup(self, job_name: str) -> None:
        self._delete_job(job_name)
        self._delete_config(job_name)

    # --- API calls -------------------------------------------------------------------------------

    def _read_job(self, job_name: str) -> k8s.V1Job | None:
        return self._call(
            lambda: self.batch.read_namespaced_job(job_name, self.namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS),
            what=f"reading Job {job_name}",
            tolerate=(404,),
        )

    def _delete_job(self, job_name: str) -> None:
        # Foreground: the Job disappears only after its pod is gone, so a canceled build's pod gets
        # SIGTERM and its grace period while the Job still shows it is terminating.
        self._call(
            lambda: self.batch.delete_namespaced_job(
                job_name,
                self.namespace,
                propagation_policy="Foreground",
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
            what=f"deleting Job {job_name}",
            tolerate=(404,),
        )

    def _delete_config(self, job_name: str) -> None:
        self._call(
            lambda: self.core.delete_namespaced_config_map(
                job_name, self.namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
            what=f"deleting ConfigMap {job_name}",
            tolerate=(404,),
        )
        self._call(
            lambda: self.core.delete_namespaced_secret(
                job_name, self.namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
            ),
            what=f"deleting Secret {job_name}",
            tolerate=(404,),
        )

    def _create_or_replace(self, create: Callable[[], Any], replace: Callable[[], Any], *, what: str) -> None:
        try:
            create()
        except ApiException as error:
            if error.status != 409:
                raise _error(f"creating {what}", error) from None
            self._call(replace, what=f"replacing {what}")
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise _error(f"creating {what}", error) from None

    def _call(self, call: Callable[[], T], *, what: str, tolerate: tuple[int, ...] = ()) -> T | None:
        try:
            return call()
        except ApiException as error:
            if error.status in tolerate:
                return None
            raise _error(what, error) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise _error(what, error) from None


def job_status(job: k8s.V1Job) -> JobStatus:
    """Map a Job object to a ``JobStatus``: terminating (deleted) → CANCELED, then conditions and pod counts."""
    if job.metadata and job.metadata.deletion_timestamp:
        return JobStatus.CANCELED
    status = job.status
    if status is None:
        return JobStatus.PENDING
    conditions = {c.type: c.status for c in (status.conditions or [])}
    if conditions.get("Complete") == "True" or (status.succeeded or 0) > 0:
        return JobStatus.SUCCEEDED
    if conditions.get("Failed") == "True":
        return JobStatus.FAILED
    if (status.active or 0) > 0:
        # `ready` (Kubernetes ≥ 1.24) tells a running builder from a pod still being scheduled or pulled.
        return JobStatus.RUNNING if status.ready is None or status.ready > 0 else JobStatus.PENDING
    return JobStatus.PENDING


def _error(what: str, error: Exception) -> JobRunnerError:
    # Only the status and reason: an API error body can echo the object sent, Secret data included.
    if isinstance(error, ApiException):
        return JobRunnerError(f"Kubernetes API: {what} failed: HTTP {error.status} {error.reason}")
    return JobRunnerError(f"Kubernetes API unreachable: {what} failed: {type(error).__name__}")


_DOWNWARD_API = {
    "POD_NAME": "metadata.name",
    "POD_UID": "metadata.uid",
    "POD_NAMESPACE": "metadata.namespace",
    "POD_NODE_NAME": "spec.nodeName",
}


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _resources(spec: JobSpec) -> dict[str, dict[str, str]]:
    r = spec.resources
    requests = {k: v for k, v in (("cpu", r.cpu_request), ("memory", r.memory_request)) if v}
    limits = {k: v for k, v in (("cpu", r.cpu_limit), ("memory", r.memory_limit)) if v}
    resources: dict[str, dict[str, str]] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources
