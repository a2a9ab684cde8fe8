"""What a job runner is given and what it promises: ``JobSpec``, ``JobStatus``, the ``JobRunner`` protocol.

A *job* runs the builder once for one build, release or bot run. The runner receives the builder
configuration (``BuilderConfig`` JSON) and a per-job secret key, starts the builder somewhere (a
local process, a Kubernetes Job), and can report, cancel and clean it up by the job's name.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

# The kind of run a job runs (build, release, bot…): the run engine's kinds (``runs.registry``), not a list of this
# layer's. A job type is a lowercase word: it starts the job's name and labels its Kubernetes objects.
JobType = str
_JOB_TYPE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
MAX_NAME_LENGTH = 63  # a DNS label, and the value of the `job-name` label Kubernetes puts on pods

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


class JobRunnerError(Exception):
    """A runner could not do what was asked (the backend refused or is unreachable). Never carries secrets."""


class JobStatus(enum.Enum):
    """Where a job is, as far as its runner can tell.

    ``PENDING`` created, builder not running yet; ``RUNNING``; ``SUCCEEDED``/``FAILED`` the builder
    process ended with exit code 0 / not 0 (or was lost); ``CANCELED`` cancel was requested (the
    builder may still be shutting down); ``NOT_FOUND`` no such job (never started, or cleaned up).
    The builder exits 0 even when the build fails: a build's result comes from its reports, not here.
    """

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    NOT_FOUND = "not_found"

    @property
    def is_active(self) -> bool:
        return self in (JobStatus.PENDING, JobStatus.RUNNING)


@dataclass(frozen=True)
class JobResources:
    """CPU and memory for the job, as Kubernetes quantities (``"500m"``, ``"2"``, ``"1Gi"``); None = not set."""

    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None


def job_name(*, job_type: JobType, repo_owner: str, repo_name: str, run_id: str | int) -> str:
    """``<type>-<owner-repo, non-alphanumerics as '-', truncated>-<id>``, lowercase, at most 63 characters.

    Estafette's naming (ESTAFETTE.md §3.6): the same name is used for the Job, its ConfigMap and Secret,
    and the local workspace. The id is kept whole; the repository part is what gets truncated.
    """
    _check_job_type(job_type)
    run = _NOT_ALPHANUMERIC.sub("-", str(run_id).lower()).strip("-")
    if not run:
        raise ValueError(f"run id {run_id!r} has no letters or digits")
    budget = MAX_NAME_LENGTH - len(job_type) - len(run) - 2
    if budget < 0:
        raise ValueError(f"run id {run_id!r} is too long for a job name")
    repo = _NOT_ALPHANUMERIC.sub("-", f"{repo_owner}-{repo_name}".lower()).strip("-")[:budget].rstrip("-")
    return f"{job_type}-{repo}-{run}" if repo else f"{job_type}-{run}"


def _check_job_type(job_type: str) -> None:
    if not isinstance(job_type, str) or not _JOB_TYPE.match(job_type):
        raise ValueError(
            f"job type must be a run kind, a lowercase word of 8 letters or digits at most, got {job_type!r}"
        )


@dataclass(frozen=True)
class JobSpec:
    """Everything a runner needs to start one builder job.

    ``config`` is the builder configuration (``BuilderConfig`` JSON object) and ``secret_key`` the
    per-job key its secret envelopes are encrypted with; the key never appears in ``repr``.
    ``labels`` are added to the runner's own (Kubernetes labels: keys and values must be valid there).
    """

    name: str
    job_type: JobType
    run_id: str
    config: Mapping[str, Any]
    secret_key: str = field(repr=False)
    labels: Mapping[str, str] = field(default_factory=dict)
    resources: JobResources = field(default_factory=JobResources)
    operating_system: Literal["linux", "windows"] = "linux"

    def __post_init__(self) -> None:
        _check_job_type(self.job_type)
        if len(self.name) > MAX_NAME_LENGTH or not _DNS_LABEL.match(self.name):
            raise ValueError(f"job name {self.name!r} must be a lowercase DNS label of at most 63 characters")
        if not self.secret_key:
            raise ValueError("a job needs its per-job secret key")

    @classmethod
    def for_run(
        cls,
        *,
        job_type: JobType,
        repo_owner: str,
        repo_name: str,
        run_id: str | int,
        config: Mapping[str, Any],
        secret_key: str,
        labels: Mapping[str, str] | None = None,
        resources: JobResources | None = None,
        operating_system: Literal["linux", "windows"] = "linux",
    ) -> JobSpec:
        """The spec for one build/release/bot run, named by ``job_name``."""
        return cls(
            name=job_name(job_type=job_type, repo_owner=repo_owner, repo_name=repo_name, run_id=run_id),
            job_type=job_type,
            run_id=str(run_id),
            config=config,
            secret_key=secret_key,
            labels=dict(labels or {}),
            resources=resources or JobResources(),
            operating_system=operating_system,
        )


@runtime_checkable
class JobRunner(Protocol):
    """Starts, watches, cancels and removes builder jobs by name. Every method is idempotent.

    ``start`` returns the job name; starting a name that already exists leaves that job alone.
    ``cancel`` returns whether there was an unfinished job to cancel; afterwards ``status`` is
    ``CANCELED`` or ``NOT_FOUND``. ``cleanup`` removes the job and everything made for it (stopping it
    if it still runs); afterwards ``status`` is ``NOT_FOUND``. Backend failures raise ``JobRunnerError``.
    """

    def start(self, spec: JobSpec) -> str: ...

    def cancel(self, job_name: str) -> bool: ...

    def cleanup(self, job_name: str) -> None: ...

    def status(self, job_name: str) -> JobStatus: ...
