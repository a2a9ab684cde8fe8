"""Cancel → job stop: the cancel services queue a stop event; the jobs-stop consumer has the runner stop the job."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from builds.models import Build
from builds.services import build_cancel
from builds.testing import make_build
from estafette.jobs import JobSpec, JobStatus, get_job_runner
from estafette.jobs.local import LocalProcessJobRunner
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.consumer import Verdict
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import deliver
from releases.services import bot_cancel, bot_create, release_cancel
from releases.testing import make_release
from runs.consumers import JobStopConsumer
from runs.job_control import JOB_STOP_SUBJECT, run_job_name, run_stop_job
from runs.models import RunStatus
from tests.tooling.waiting import wait_until


def spec_for(run: Any, kind: str = "build") -> JobSpec:
    return JobSpec.for_run(
        job_type=kind,  # type: ignore[arg-type]
        repo_owner=run.pipeline.repo_owner,
        repo_name=run.pipeline.repo_name,
        run_id=run.pk,
        config={},
        secret_key="per-job-key",
    )


@pytest.fixture
def local_runner() -> Iterator[LocalProcessJobRunner]:
    """The configured runner (local processes), whose jobs are a ``sleep`` standing in for a builder."""
    get_job_runner.cache_clear()
    with override_settings(LOCAL_JOB_COMMAND="sleep 120", JOB_CANCEL_GRACE_SECONDS=5):
        runner = get_job_runner()
        assert isinstance(runner, LocalProcessJobRunner)
        yield runner
        for workspace in runner.jobs_dir.glob("*"):
            runner.cleanup(workspace.name)
    get_job_runner.cache_clear()


def stop_events() -> list[dict]:
    return [json.loads(row.payload) for row in OutboxMessage.objects.filter(subject=JOB_STOP_SUBJECT).order_by("id")]


@pytest.mark.django_db
def test_every_cancel_queues_a_stop_of_the_runs_job() -> None:
    # given a running build, a pending release and a pending bot run
    build = make_build(status=RunStatus.RUNNING)
    release = make_release(make_build(status=RunStatus.SUCCEEDED))
    bot_run = bot_create(pipeline=build.pipeline, name="tidy")
    # when each is canceled, and the build once more (forced)
    build_cancel(build=build)
    release_cancel(release=release)
    bot_cancel(bot_run=bot_run)
    build_cancel(build=build)
    # then one stop event per run and status reached was queued with the cancel
    assert stop_events() == [
        {"kind": "build", "runId": str(build.pk)},
        {"kind": "release", "runId": str(release.pk)},
        {"kind": "bot", "runId": str(bot_run.pk)},
        {"kind": "build", "runId": str(build.pk)},
    ]
    keys = list(OutboxMessage.objects.filter(subject=JOB_STOP_SUBJECT).values_list("dedup_key", flat=True))
    assert keys[0] == f"job-stop-build-{build.pk}-canceling" and keys[3] == f"job-stop-build-{build.pk}-canceled"


@pytest.mark.django_db
def test_it_stops_the_job_of_a_run_being_canceled_and_removes_that_of_a_canceled_one() -> None:
    # given a runner with the jobs of a build being canceled, a canceled one and a succeeded one
    runner = FakeJobRunner()
    runner.hold()
    canceling, canceled, succeeded = (make_build(status=RunStatus.RUNNING) for _ in range(3))
    for build in (canceling, canceled, succeeded):
        runner.start(spec_for(build))
    build_cancel(build=canceling)
    build_cancel(build=canceled)
    build_cancel(build=canceled)
    assert succeeded.finish(status=RunStatus.SUCCEEDED)
    # when the stop is run for each (twice: events are delivered at least once)
    for _ in range(2):
        for build in (canceling, canceled, succeeded):
            run_stop_job(kind="build", run_id=build.pk, runner=runner)
    # then the first job was asked to stop, the second removed, the third left to the sweeper
    assert runner.canceled == [run_job_name(run=canceling)]
    assert runner.cleaned_up == [run_job_name(run=canceled)]
    assert runner.status(run_job_name(run=succeeded)) is JobStatus.RUNNING
    assert Build.objects.get(pk=canceled.pk).job_cleanup_at is None


@pytest.mark.django_db
def test_the_consumer_sigterms_a_local_job_and_removes_a_canceled_pending_ones(
    local_runner: LocalProcessJobRunner,
) -> None:
    # given two builds with running local jobs: one running, one still pending (its builder not reported yet)
    running, pending = make_build(status=RunStatus.RUNNING), make_build()
    running_job, pending_job = local_runner.start(spec_for(running)), local_runner.start(spec_for(pending))
    wait_until(lambda: local_runner.status(running_job) is JobStatus.RUNNING, what="the job to run")
    # when both are canceled and the queued stop events are delivered to the consumer
    build_cancel(build=running)
    build_cancel(build=pending)
    outcomes = [deliver(JobStopConsumer(), event, event_id=f"e{n}") for n, event in enumerate(stop_events())]
    # then the running build's job got SIGTERM, and the canceled pending build's job is gone
    assert [outcome.verdict for outcome in outcomes] == [Verdict.ACK, Verdict.ACK]
    assert local_runner.status(running_job) is JobStatus.CANCELED
    wait_until(lambda: not local_runner.is_process_alive(running_job), timeout=10, what="the job to stop")
    assert local_runner.status(pending_job) is JobStatus.NOT_FOUND


@pytest.mark.django_db
def test_the_consumer_drops_events_it_can_never_handle() -> None:
    outcome = deliver(JobStopConsumer(), {"kind": "build", "runId": "987654321"})
    assert outcome.verdict is Verdict.TERMINATE
    outcome = deliver(JobStopConsumer(), {"kind": "job", "runId": "1"}, event_id="other")
    assert outcome.verdict is Verdict.TERMINATE


@pytest.mark.nats
@pytest.mark.django_db(transaction=True)
def test_a_cancel_stops_the_job_through_a_real_nats_server(local_runner: LocalProcessJobRunner, queue_settings) -> None:  # type: ignore[no-untyped-def]
    from estafette.queue.outbox import relay_pending
    from estafette.queue.worker import run_consumers
    from tests.tooling.nats import BackgroundLoop

    # given a running build with a local job and the jobs-stop consumer on a real nats-server
    build = make_build(status=RunStatus.RUNNING)
    job = local_runner.start(spec_for(build))
    wait_until(lambda: local_runner.status(job) is JobStatus.RUNNING, what="the job to run")
    loop = BackgroundLoop(lambda stop: run_consumers([JobStopConsumer()], queue_settings, stop=stop)).start()
    try:
        # when the build is canceled and the outbox relayed
        build_cancel(build=build)
        assert relay_pending(queue_settings) >= 1
        # then the job is stopped
        wait_until(lambda: not local_runner.is_process_alive(job), timeout=20, what="the job to stop")
        assert local_runner.status(job) is JobStatus.CANCELED
    finally:
        loop.stop()
