"""The fake runner passes the contract, and its controls (hold, release, fail, on_run) work."""

from __future__ import annotations

from typing import Any

import pytest

from estafette.jobs.base import JobSpec, JobStatus
from estafette.jobs.testing import FakeJobRunner
from estafette.jobs.tests.contract import JobRunnerContract, make_spec


class FakeDriver:
    def __init__(self, runner: FakeJobRunner) -> None:
        self.runner = runner

    def received(self, job_name: str) -> tuple[dict[str, Any], str]:
        spec = self.runner.spec(job_name)
        return dict(spec.config), spec.secret_key

    def finish(self, job_name: str, *, exit_code: int) -> None:
        if exit_code == 0:
            self.runner.release(job_name)
        else:
            self.runner.fail(job_name)

    def is_stopped(self, job_name: str) -> bool:
        return not self.runner.status(job_name).is_active

    def leftovers(self, job_name: str) -> list[str]:
        return [job_name] if job_name in self.runner.jobs else []


class TestFakeJobRunnerContract(JobRunnerContract):
    @pytest.fixture
    def runner(self) -> FakeJobRunner:
        runner = FakeJobRunner()
        runner.hold()
        return runner

    @pytest.fixture
    def driver(self, runner: FakeJobRunner) -> FakeDriver:
        return FakeDriver(runner)


def test_it_runs_jobs_at_once_unless_held() -> None:
    # given
    ran: list[str] = []
    runner = FakeJobRunner(on_run=lambda spec: ran.append(spec.name))

    # when
    name = runner.start(make_spec())

    # then
    assert ran == [name]
    assert runner.status(name) is JobStatus.SUCCEEDED
    assert [s.name for s in runner.started] == [name]


def test_it_releases_held_jobs_by_pattern_in_start_order() -> None:
    # given
    ran: list[str] = []
    runner = FakeJobRunner(on_run=lambda spec: ran.append(spec.name))
    runner.hold()
    specs = [make_spec() for _ in range(3)]
    names = [runner.start(spec) for spec in specs]

    # when
    released = runner.release(names[1])

    # then
    assert released == [names[1]] == ran
    assert [runner.status(n) for n in names] == [JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.RUNNING]
    assert runner.release() == [names[0], names[2]]
    assert runner.holding is False


def test_a_job_whose_run_raises_fails_and_the_error_reaches_the_test() -> None:
    # given
    def crash(spec: JobSpec) -> None:
        raise RuntimeError("builder crashed")

    runner = FakeJobRunner(on_run=crash)
    spec = make_spec()

    # when / then
    with pytest.raises(RuntimeError, match="builder crashed"):
        runner.start(spec)
    assert runner.status(spec.name) is JobStatus.FAILED


def test_the_key_stays_out_of_the_specs_repr() -> None:
    spec = make_spec(key="do-not-print-me")
    assert "do-not-print-me" not in repr(spec)
