"""``FakeJobRunner``: records job specs and lets a test decide when and how jobs end.

Without ``hold()``, a started job runs at once: ``on_run(spec)`` is called (a harness can run the
builder in-process there, or post its reports) and the job ends ``SUCCEEDED``. After ``hold()``,
started jobs stay ``RUNNING`` until ``release(pattern)`` runs them or ``fail(name)`` ends them as a
crashed builder or lost pod would (no reports). It passes the same contract tests as the real runners.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from estafette.jobs.base import JobSpec, JobStatus


@dataclass
class FakeJob:
    spec: JobSpec
    status: JobStatus


class FakeJobRunner:
    def __init__(self, *, on_run: Callable[[JobSpec], None] | None = None) -> None:
        self.on_run = on_run
        self.jobs: dict[str, FakeJob] = {}
        self.started: list[JobSpec] = []  # every start that created a job, in order
        self.canceled: list[str] = []
        self.cleaned_up: list[str] = []
        self.holding = False
        self._lock = threading.RLock()

    # --- test controls -------------------------------------------------------------------------------

    def hold(self) -> None:
        """Jobs started from now on stay RUNNING until released or failed."""
        self.holding = True

    def release(self, pattern: str = ".*") -> list[str]:
        """Run the held jobs whose names match ``pattern`` (a regular expression, full match); stop holding
        when releasing everything. Returns the names released, in start order."""
        with self._lock:
            names = [
                name
                for name, job in self.jobs.items()
                if job.status is JobStatus.RUNNING and re.fullmatch(pattern, name)
            ]
            if pattern == ".*":
                self.holding = False
        for name in names:
            self._run(self.jobs[name])
        return names

    def fail(self, job_name: str) -> None:
        """End a job as a crashed builder would: FAILED, without running ``on_run``."""
        with self._lock:
            self.jobs[job_name].status = JobStatus.FAILED

    def spec(self, job_name: str) -> JobSpec:
        return self.jobs[job_name].spec

    # --- the protocol --------------------------------------------------------------------------------

    def start(self, spec: JobSpec) -> str:
        with self._lock:
            if spec.name in self.jobs:
                return spec.name
            job = self.jobs[spec.name] = FakeJob(spec=spec, status=JobStatus.RUNNING)
            self.started.append(spec)
            if self.holding:
                return spec.name
        self._run(job)
        return spec.name

    def status(self, job_name: str) -> JobStatus:
        with self._lock:
            job = self.jobs.get(job_name)
            return job.status if job else JobStatus.NOT_FOUND

    def cancel(self, job_name: str) -> bool:
        with self._lock:
            job = self.jobs.get(job_name)
            if job is None or not job.status.is_active:
                return False
            job.status = JobStatus.CANCELED
            self.canceled.append(job_name)
            return True

    def cleanup(self, job_name: str) -> None:
        with self._lock:
            if self.jobs.pop(job_name, None) is not None:
                self.cleaned_up.append(job_name)

    def _run(self, job: FakeJob) -> None:
        try:
            if self.on_run is not None:
                self.on_run(job.spec)
        except BaseException:
            with self._lock:
                job.status = JobStatus.FAILED
            raise
        with self._lock:
            if job.status is JobStatus.RUNNING:  # not canceled or failed meanwhile
                job.status = JobStatus.SUCCEEDED
