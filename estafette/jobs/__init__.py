"""Builder jobs: the ``JobRunner`` protocol and its runners (local processes, Kubernetes Jobs, a fake).

``get_job_runner()`` returns the runner ``ESTAFETTE_JOB_RUNNER`` selects (``local`` or ``kubernetes``).
"""

from __future__ import annotations

import functools

from estafette.jobs.base import JobResources, JobRunner, JobRunnerError, JobSpec, JobStatus, JobType, job_name

__all__ = [
    "JobResources",
    "JobRunner",
    "JobRunnerError",
    "JobSpec",
    "JobStatus",
    "JobType",
    "get_job_runner",
    "job_name",
]


@functools.cache
def get_job_runner() -> JobRunner:
    """The configured runner, made once per process (tests swap runners by passing them in instead)."""
    from django.conf import settings

    if settings.JOB_RUNNER == "kubernetes":
        from estafette.jobs.kubernetes import KubernetesJobRunner

        return KubernetesJobRunner.from_settings()
    from estafette.jobs.local import LocalProcessJobRunner

    return LocalProcessJobRunner.from_settings()
