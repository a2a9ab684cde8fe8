"""``JobRunnerContract``: the one behaviour every ``JobRunner`` shows, run against each runner.

A subclass provides two fixtures: ``runner`` (the runner under test) and ``driver`` (a ``JobDriver``
that plays the job's side: what the job received, ending it with an exit code, what is left over).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any, Protocol

import pytest

from estafette.jobs.base import JobRunner, JobSpec, JobStatus
from tests.tooling.waiting import wait_until

_ids = itertools.count(1)


class JobDriver(Protocol):
    def received(self, job_name: str) -> tuple[dict[str, Any], str]:
        """The configuration and key the job's builder gets to read (waits until it has started)."""

    def finish(self, job_name: str, *, exit_code: int) -> None:
        """The builder process ends with ``exit_code`` (or its pod ends with that code)."""

    def is_stopped(self, job_name: str) -> bool:
        """Nothing of the job runs any more."""

    def leftovers(self, job_name: str) -> list[str]:
        """What the runner made for the job and has not removed (files, Kubernetes objects)."""


def make_spec(*, key: str = "per-job-key-0123456789abcdef", config: dict[str, Any] | None = None) -> JobSpec:
    run_id = next(_ids)
    return JobSpec.for_run(
        job_type="build",
        repo_owner="estafette",
        repo_name="estafette-ci-api",
        run_id=run_id,
        config=config or {"jobType": "build", "build": {"id": str(run_id)}, "stages": []},
        secret_key=key,
        labels={"pipeline": "estafette-ci-api"},
    )


class JobRunnerContract:
    @pytest.fixture
    def runner(self) -> JobRunner:
        raise NotImplementedError

    @pytest.fixture
    def driver(self, runner: JobRunner) -> JobDriver:
        raise NotImplementedError

    def test_it_is_a_job_runner(self, runner: JobRunner) -> None:
        assert isinstance(runner, JobRunner)

    def test_it_starts_a_job_that_receives_its_configuration_and_key(
        self, runner: JobRunner, driver: JobDriver
    ) -> None:
        # given
        spec = make_spec()

        # when
        name = runner.start(spec)

        # then
        assert name == spec.name == "build-estafette-estafette-ci-api-" + spec.run_id
        assert runner.status(name) in (JobStatus.PENDING, JobStatus.RUNNING)
        assert driver.received(name) == (dict(spec.config), spec.secret_key)

    def test_it_reports_a_job_whose_builder_exits_0_as_succeeded(self, runner: JobRunner, driver: JobDriver) -> None:
        # given
        name = runner.start(make_spec())
        driver.received(name)

        # when
        driver.finish(name, exit_code=0)

        # then
        wait_until(lambda: runner.status(name) is JobStatus.SUCCEEDED, what=f"{name} to succeed")

    def test_it_reports_a_job_whose_builder_exits_non_zero_as_failed(
        self, runner: JobRunner, driver: JobDriver
    ) -> None:
        # given
        name = runner.start(make_spec())
        driver.received(name)

        # when
        driver.finish(name, exit_code=3)

        # then
        wait_until(lambda: runner.status(name) is JobStatus.FAILED, what=f"{name} to fail")

    def test_starting_a_job_again_leaves_the_running_one_alone(self, runner: JobRunner, driver: JobDriver) -> None:
        # given
        first = make_spec(key="the-first-key")
        runner.start(first)
        driver.received(first.name)

        # when: a redelivered event starts it again, with a fresh key
        again = replace(first, secret_key="a-second-key", config={"other": True})
        name = runner.start(again)

        # then
        assert name == first.name
        assert driver.received(name) == (dict(first.config), "the-first-key")
        assert runner.status(name) in (JobStatus.PENDING, JobStatus.RUNNING)

    def test_cancel_stops_a_running_job(self, runner: JobRunner, driver: JobDriver) -> None:
        # given
        name = runner.start(make_spec())
        driver.received(name)

        # when
        canceled = runner.cancel(name)

        # then
        assert canceled is True
        assert runner.status(name) in (JobStatus.CANCELED, JobStatus.NOT_FOUND)
        wait_until(lambda: driver.is_stopped(name), what=f"{name} to stop")
        assert runner.cancel(name) in (True, False)  # again: harmless

    def test_cancel_of_a_finished_or_unknown_job_does_nothing(self, runner: JobRunner, driver: JobDriver) -> None:
        # given
        name = runner.start(make_spec())
        driver.received(name)
        driver.finish(name, exit_code=0)
        wait_until(lambda: runner.status(name) is JobStatus.SUCCEEDED, what=f"{name} to succeed")

        # when / then
        assert runner.cancel(name) is False
        assert runner.status(name) is JobStatus.SUCCEEDED
        assert runner.cancel("build-no-such-job-1") is False

    def test_cleanup_removes_everything_made_for_the_job_and_can_be_repeated(
        self, runner: JobRunner, driver: JobDriver
    ) -> None:
        # given: one job still running, one finished
        running = runner.start(make_spec())
        finished = runner.start(make_spec())
        driver.received(running)
        driver.received(finished)
        driver.finish(finished, exit_code=0)
        wait_until(lambda: runner.status(finished) is JobStatus.SUCCEEDED, what=f"{finished} to succeed")

        # when
        for name in (running, finished, running, "build-no-such-job-2"):
            runner.cleanup(name)

        # then
        for name in (running, finished):
            assert runner.status(name) is JobStatus.NOT_FOUND
            assert driver.leftovers(name) == []
            wait_until(lambda name=name: driver.is_stopped(name), what=f"{name} to stop")

    def test_an_unknown_job_is_not_found(self, runner: JobRunner) -> None:
        assert runner.status("build-never-started-3") is JobStatus.NOT_FOUND
