"""The real builder (``python -m builder job``, host executor) as a local job, reporting to the API over real HTTP.

A build succeeds with its lines stored; a cancel SIGTERMs it and it ends ``canceled``; a SIGKILLed builder's build is
failed by the sweeper within 60 s. The job runner is the configured local one, so the jobs-stop consumer and the
sweeper find the jobs as they do in production.
"""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from builder.secrets import generate_key
from builds.models import Build
from builds.services import build_cancel
from builds.testing import builder_config_for, make_build
from estafette.jobs import JobSpec, JobStatus, get_job_runner
from estafette.jobs.local import LocalProcessJobRunner
from estafette.queue.consumer import Verdict
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import deliver
from runs.consumers import JobStopConsumer
from runs.job_control import run_job_name
from runs.models import RunStatus
from runs.selectors import log_record_latest, log_steps
from runs.sweeper import LOST_STEP, jobs_sweep
from tests.tooling.waiting import wait_until

HOST_BUILDER = (
    "{python} -m builder job --config {config} --secret-key-file {secret_key_file} --workspace {workdir} "
    "--executor host"
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def runner() -> Iterator[LocalProcessJobRunner]:
    get_job_runner.cache_clear()
    with override_settings(LOCAL_JOB_COMMAND=HOST_BUILDER, JOB_CANCEL_GRACE_SECONDS=20):
        runner = get_job_runner()
        assert isinstance(runner, LocalProcessJobRunner)
        yield runner
        for workspace in runner.jobs_dir.glob("*"):
            runner.cleanup(workspace.name)
    get_job_runner.cache_clear()


def start(runner: LocalProcessJobRunner, build: Build, base_url: str, commands: list[str]) -> str:
    name = run_job_name(run=build)
    stages = [{"name": "build", "image": "alpine:3.20", "commands": commands}]
    config = builder_config_for(build, base_url=base_url, stages=stages, job_name=name)
    spec = JobSpec.for_run(
        job_type="build",
        repo_owner=build.pipeline.repo_owner,
        repo_name=build.pipeline.repo_name,
        run_id=build.pk,
        config=config,
        secret_key=generate_key(),
    )
    return runner.start(spec)


def status_of(build: Build) -> str:
    return str(Build.objects.values_list("status", flat=True).get(pk=build.pk))


def steps_of(build: Build) -> dict[str, dict]:
    record = log_record_latest(run_kind="build", run_id=build.pk)
    return {step["step"]: step for step in log_steps(record=record)} if record else {}


def texts(build: Build, step: str) -> list[str]:
    return [line["text"] for line in steps_of(build).get(step, {}).get("logLines", [])]


def output(build: Build) -> list[str]:
    """What the build stage printed (without the builder's echo of each command, ``> command``)."""
    return [text for text in texts(build, "build") if "> " not in text]


def job_log(runner: LocalProcessJobRunner, name: str) -> str:
    path = runner.workspace(name) / "job.log"
    return path.read_text() if path.exists() else "(no job log)"


def test_a_build_run_by_the_real_builder_succeeds_with_its_lines_stored(live_server, runner) -> None:  # type: ignore[no-untyped-def]
    # given a pending build and its job: the real builder on the host executor
    build = make_build()
    name = start(runner, build, live_server.url, ["echo hello from the build", "echo done"])
    # when it runs
    wait_until(lambda: status_of(build) in ("succeeded", "failed"), timeout=90, what=f"the build to end: {name}")
    # then the build succeeded, with the builder's steps and the stage's lines stored
    assert status_of(build) == RunStatus.SUCCEEDED, (texts(build, "init"), job_log(runner, name))
    steps = steps_of(build)
    assert steps["builder-info"]["autoInjected"] is True
    assert (steps["build"]["status"], steps["build"]["exitCode"]) == ("SUCCEEDED", 0)
    assert output(build) == ["hello from the build", "done"]
    record = log_record_latest(run_kind="build", run_id=build.pk)
    assert record is not None and record.attempt == 1 and record.attempt_key
    # and once the builder exited, the sweeper removes its job
    wait_until(lambda: runner.status(name) is JobStatus.SUCCEEDED, timeout=30, what="the builder to exit")
    result = jobs_sweep(runner=runner)
    assert result.cleaned_up == [name]
    assert runner.status(name) is JobStatus.NOT_FOUND


def test_a_cancel_sigterms_the_builder_mid_stage_and_the_build_ends_canceled(live_server, runner) -> None:  # type: ignore[no-untyped-def]
    # given a build whose stage is running (it printed its first line and sleeps)
    build = make_build()
    name = start(runner, build, live_server.url, ["echo started", "sleep 120", "echo never"])
    wait_until(lambda: "started" in output(build), timeout=90, what=f"the stage to run: {name}")
    # when it is canceled through the API's service and the stop event reaches the consumer
    build_cancel(build=build)
    assert status_of(build) == RunStatus.CANCELING
    event = OutboxMessage.objects.get(dedup_key=f"job-stop-build-{build.pk}-canceling")
    assert deliver(JobStopConsumer(), event.payload.encode(), event_id=event.dedup_key).verdict is Verdict.ACK
    # then the builder stops the stage, reports canceled, and the build is canceled
    wait_until(lambda: status_of(build) == RunStatus.CANCELED, timeout=60, what="the build to be canceled")
    assert steps_of(build)["build"]["status"] == "CANCELED"
    assert "never" not in output(build)
    wait_until(lambda: not runner.is_process_alive(name), timeout=30, what="the builder to exit")


def builder_pid(runner: LocalProcessJobRunner, name: str) -> int:
    """The builder process: the child of the job's wrapper shell."""
    import json

    wrapper = json.loads((runner.workspace(name) / "job.json").read_text())["pid"]
    children = Path(f"/proc/{wrapper}/task/{wrapper}/children").read_text().split()
    return int(children[0])


def test_a_sigkilled_builder_s_build_is_failed_by_the_sweeper_within_60_seconds(live_server, runner) -> None:  # type: ignore[no-untyped-def]
    # given a build whose stage is running
    build = make_build()
    name = start(runner, build, live_server.url, ["echo started", "sleep 300"])
    wait_until(lambda: "started" in output(build), timeout=90, what=f"the stage to run: {name}")
    # when the builder is SIGKILLed (out of memory, a lost pod) and the sweeper runs every few seconds
    os.kill(builder_pid(runner, name), signal.SIGKILL)
    killed_at = time.monotonic()

    def swept_to_failure() -> bool:
        jobs_sweep()  # the configured runner and timings, as `manage.py sweep_jobs`
        return status_of(build) == RunStatus.FAILED

    wait_until(swept_to_failure, timeout=60, interval=2, what="the sweeper to fail the build")
    # then the build failed within 60 s, saying why, and its job is gone
    assert time.monotonic() - killed_at < 60
    assert "job ended (failed) without reporting the outcome" in texts(build, LOST_STEP)[0]
    assert steps_of(build)[LOST_STEP]["status"] == "FAILED"
    assert runner.status(name) is JobStatus.NOT_FOUND
