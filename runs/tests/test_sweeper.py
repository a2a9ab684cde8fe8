"""The job sweeper: dead builders fail their run with a reason, stuck cancels end, finished runs' jobs are removed."""

import contextlib
import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from builder.testing import reserve_port
from builds.models import Build
from builds.testing import make_build
from estafette.jobs import JobSpec, JobStatus
from estafette.jobs.testing import FakeJobRunner
from releases.testing import make_release
from runs.job_control import run_job_name
from runs.models import Run, RunStatus
from runs.registry import run_kind
from runs.selectors import log_record_latest, log_steps
from runs.sweeper import API_DOWN, LOST_STEP, ApiWatch, SweepPolicy, _fail_lost_run, jobs_sweep

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
POLICY = SweepPolicy(heartbeat_timeout=60, check_after=20, start_timeout=3600, cleanup_grace=30)


@pytest.fixture
def runner() -> FakeJobRunner:
    runner = FakeJobRunner()
    runner.hold()  # started jobs stay RUNNING until a test ends them
    return runner


def start_job(runner: FakeJobRunner, run: Run, kind: str = "build") -> str:
    pipeline = run.pipeline  # type: ignore[attr-defined]
    spec = JobSpec.for_run(
        job_type=kind,  # type: ignore[arg-type]
        repo_owner=pipeline.repo_owner,
        repo_name=pipeline.repo_name,
        run_id=run.pk,
        config={},
        secret_key="per-job-key",
    )
    return runner.start(spec)


def running_build(*, heartbeat: datetime | None) -> Build:
    build = make_build(status=RunStatus.RUNNING, now=T0 - timedelta(minutes=10), started=T0 - timedelta(minutes=9))
    if heartbeat is not None:
        assert build.record_heartbeat(now=heartbeat)
    return build


def lost_lines(run: Run, kind: str = "build") -> list[str]:
    record = log_record_latest(run_kind=kind, run_id=run.pk)
    assert record is not None, "the run has no log"
    step = next(step for step in log_steps(record=record) if step["step"] == LOST_STEP)
    assert (step["status"], step["exitCode"], step["autoInjected"]) == ("FAILED", -1, True)
    return [line["text"] for line in step["logLines"]]


@pytest.mark.django_db
def test_it_fails_a_run_whose_builder_stopped_heartbeating_and_removes_its_job(runner: FakeJobRunner) -> None:
    # given a running build whose job still exists but whose builder was last heard of 61 s ago
    build = running_build(heartbeat=T0 - timedelta(seconds=61))
    name = start_job(runner, build)
    # when the sweeper passes
    result = jobs_sweep(runner=runner, policy=POLICY, now=T0)
    # then the build failed with a line saying why and what to do, and its job is gone
    build.refresh_from_db()
    assert build.status == RunStatus.FAILED
    assert result.failed == [f"build {build.pk}"]
    text = " ".join(lost_lines(build))
    assert "no heartbeat for 61 s" in text and "Start it again" in text
    assert runner.status(name) is JobStatus.NOT_FOUND
    assert build.job_cleanup_at is None
    build.pipeline.refresh_from_db()
    assert build.pipeline.build_status == RunStatus.FAILED


@pytest.mark.django_db
def test_it_fails_a_run_at_once_when_its_job_ended_without_a_report(runner: FakeJobRunner) -> None:
    # given a running build quiet for 25 s whose builder process died (SIGKILL, OOM)
    build = running_build(heartbeat=T0 - timedelta(seconds=25))
    name = start_job(runner, build)
    runner.fail(name)
    # when the sweeper passes
    jobs_sweep(runner=runner, policy=POLICY, now=T0)
    # then the build failed without waiting for the heartbeat timeout
    build.refresh_from_db()
    assert build.status == RunStatus.FAILED
    assert "job ended (failed) without reporting" in lost_lines(build)[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("quiet", "job"),
    [
        (10, "failed"),  # not quiet long enough to look: heartbeats come every 15 s
        (45, "running"),  # quiet, but its job runs and the timeout has not passed
        (90, "pending"),  # a re-run pod being scheduled, within the start timeout
    ],
)
def test_it_leaves_runs_that_may_still_be_alive(runner: FakeJobRunner, quiet: int, job: str) -> None:
    build = running_build(heartbeat=T0 - timedelta(seconds=quiet))
    name = start_job(runner, build)
    if job == "failed":
        runner.fail(name)
    elif job == "pending":
        runner.jobs[name].status = JobStatus.PENDING
    result = jobs_sweep(runner=runner, policy=POLICY, now=T0)
    build.refresh_from_db()
    assert build.status == RunStatus.RUNNING
    assert not result
    assert runner.status(name) is not JobStatus.NOT_FOUND


@pytest.mark.django_db
def test_a_sweeper_that_lost_the_race_with_the_builders_report_changes_nothing(runner: FakeJobRunner) -> None:
    # given the sweeper holding a running build that the builder has meanwhile reported succeeded
    stale = running_build(heartbeat=T0 - timedelta(seconds=61))
    Build.objects.get(pk=stale.pk).finish(status=RunStatus.SUCCEEDED, now=T0)
    # when it fails the build
    changed = _fail_lost_run(run_kind("build"), stale, lines=["lost"], now=T0)
    # then the guard refused it and no reason was written
    assert not changed
    assert Build.objects.get(pk=stale.pk).status == RunStatus.SUCCEEDED
    assert log_record_latest(run_kind="build", run_id=stale.pk) is None


@pytest.mark.django_db
def test_a_run_being_canceled_whose_job_is_gone_becomes_canceled(runner: FakeJobRunner) -> None:
    # given a build being canceled whose job no longer exists
    build = make_build(status=RunStatus.CANCELING, now=T0 - timedelta(minutes=5), started=T0 - timedelta(minutes=5))
    # when the sweeper passes
    result = jobs_sweep(runner=runner, policy=POLICY, now=T0)
    # then it is canceled
    build.refresh_from_db()
    assert build.status == RunStatus.CANCELED
    assert result.canceled == [f"build {build.pk}"]


@pytest.mark.django_db
def test_it_stops_the_job_of_a_run_being_canceled_again_if_it_still_runs(runner: FakeJobRunner) -> None:
    # given a build being canceled whose job still runs (the stop event was lost)
    build = make_build(status=RunStatus.CANCELING, now=T0 - timedelta(minutes=5), started=T0 - timedelta(minutes=5))
    assert build.record_heartbeat(now=T0 - timedelta(seconds=30))
    name = start_job(runner, build)
    # when the sweeper passes
    jobs_sweep(runner=runner, policy=POLICY, now=T0)
    # then the runner was asked to stop it, and the build waits for the builder's report
    assert runner.canceled == [name]
    build.refresh_from_db()
    assert build.status == RunStatus.CANCELING


@pytest.mark.django_db
def test_a_pending_run_whose_job_ended_before_the_builder_reported_fails(runner: FakeJobRunner) -> None:
    # given a pending build whose builder could not start (bad configuration: it exited at once)
    build = make_build(now=T0 - timedelta(seconds=30))
    runner.fail(start_job(runner, build))
    # when the sweeper passes
    jobs_sweep(runner=runner, policy=POLICY, now=T0)
    # then the build failed with the reason, and the pipeline shows it
    build.refresh_from_db()
    assert build.status == RunStatus.FAILED
    assert "before the builder reported" in lost_lines(build)[0]
    build.pipeline.refresh_from_db()
    assert build.pipeline.build_status == RunStatus.FAILED


@pytest.mark.django_db
@pytest.mark.parametrize(("age", "status"), [(timedelta(minutes=30), "pending"), (timedelta(hours=2), "failed")])
def test_a_pending_run_without_a_job_fails_only_after_the_start_timeout(
    runner: FakeJobRunner, age: timedelta, status: str
) -> None:
    build = make_build(now=T0 - age)
    jobs_sweep(runner=runner, policy=POLICY, now=T0)
    build.refresh_from_db()
    assert build.status == status
    if status == "failed":
        assert "No builder reported for this run within 60 minutes" in lost_lines(build)[0]


@pytest.mark.django_db
def test_it_removes_the_job_of_a_finished_run_once_the_builder_exited(runner: FakeJobRunner) -> None:
    # given two succeeded builds: one whose builder exited, one whose builder is still exiting
    exited, exiting = running_build(heartbeat=T0), running_build(heartbeat=T0)
    exited_job, exiting_job = start_job(runner, exited), start_job(runner, exiting)
    runner.release(exited_job)
    for build in (exited, exiting):
        assert build.finish(status=RunStatus.SUCCEEDED, now=T0)
    # when the sweeper passes 5 s later
    result = jobs_sweep(runner=runner, policy=POLICY, now=T0 + timedelta(seconds=5))
    # then only the exited builder's job is removed
    assert result.cleaned_up == [exited_job]
    # and after the grace the other one is removed too (its process killed)
    result = jobs_sweep(runner=runner, policy=POLICY, now=T0 + timedelta(seconds=31))
    assert result.cleaned_up == [exiting_job]
    assert Build.objects.filter(job_cleanup_at__isnull=False).count() == 0
    # and a later pass has nothing to do
    assert not jobs_sweep(runner=runner, policy=POLICY, now=T0 + timedelta(seconds=60))


@pytest.mark.django_db
def test_it_sweeps_releases_too(runner: FakeJobRunner) -> None:
    # given a running release whose builder died
    build = make_build(status=RunStatus.SUCCEEDED)
    release = make_release(build, status=RunStatus.RUNNING, now=T0 - timedelta(hours=1))
    runner.fail(start_job(runner, release, "release"))
    # when the sweeper passes
    result = jobs_sweep(runner=runner, policy=POLICY, now=T0)
    # then it failed, with the reason in its log, and its job was removed
    release.refresh_from_db()
    assert release.status == RunStatus.FAILED
    assert result.failed == [f"release {release.pk}"]
    assert lost_lines(release, "release")
    assert runner.cleaned_up == [run_job_name(run=release)]


# -- while the API is down ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_run_fails_for_silence_while_the_api_does_not_answer(runner: FakeJobRunner) -> None:
    # given a running build last heard of 10 minutes ago, its job alive (it holds reports the API could not take)
    build = running_build(heartbeat=T0 - timedelta(minutes=10))
    start_job(runner, build)
    # when the sweeper passes while the API is down
    result = jobs_sweep(runner=runner, policy=POLICY, now=T0, api_up_since=API_DOWN)
    # then the build still runs
    build.refresh_from_db()
    assert build.status == RunStatus.RUNNING
    assert not result


@pytest.mark.django_db
def test_silence_counts_from_the_apis_return_once_it_answers_again(runner: FakeJobRunner) -> None:
    # given a running build last heard of 10 minutes ago, and the API back for 59 s
    build = running_build(heartbeat=T0 - timedelta(minutes=10))
    start_job(runner, build)
    # when the sweeper passes, then the build gets the heartbeat timeout from the API's return
    jobs_sweep(runner=runner, policy=POLICY, now=T0, api_up_since=T0 - timedelta(seconds=59))
    build.refresh_from_db()
    assert build.status == RunStatus.RUNNING
    # and once the API has been back for 61 s without a word from the builder, it fails
    jobs_sweep(runner=runner, policy=POLICY, now=T0, api_up_since=T0 - timedelta(seconds=61))
    build.refresh_from_db()
    assert build.status == RunStatus.FAILED
    assert "no heartbeat for 61 s" in lost_lines(build)[0]


@pytest.mark.django_db
def test_a_run_whose_job_ended_fails_even_while_the_api_is_down(runner: FakeJobRunner) -> None:
    # given a running build whose builder process died: it holds no report
    build = running_build(heartbeat=T0 - timedelta(seconds=25))
    runner.fail(start_job(runner, build))
    # when the sweeper passes while the API is down, then the build fails
    jobs_sweep(runner=runner, policy=POLICY, now=T0, api_up_since=API_DOWN)
    build.refresh_from_db()
    assert build.status == RunStatus.FAILED


def test_the_api_watch_notes_when_the_api_comes_back() -> None:
    # given an API answering /liveness on a real port
    port = reserve_port()
    watch = ApiWatch(f"http://127.0.0.1:{port}/liveness", timeout=2)
    with _liveness_server(port):
        # then it counts as up throughout
        assert watch.probe(now=T0) is None
    # when it stops answering, then it is down
    assert watch.probe(now=T0 + timedelta(seconds=5)) == API_DOWN
    # and when it answers again, it is up since that probe
    with _liveness_server(port):
        assert watch.probe(now=T0 + timedelta(seconds=9)) == T0 + timedelta(seconds=9)
        assert watch.probe(now=T0 + timedelta(seconds=14)) == T0 + timedelta(seconds=9)


@contextlib.contextmanager
def _liveness_server(port: int) -> Iterator[None]:
    class Liveness(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/liveness" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Liveness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
