"""A job token ends with its run: once the run is final, every report of its builder is refused (409) and changes
nothing — no status, no heartbeat, no new log record (attempt), no line. Runs being canceled still take reports."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from builds.models import Build
from builds.testing import make_build
from estafette.jobs.testing import FakeJobRunner
from runs.callbacks import callback_end_url
from runs.models import LogChunk, LogRecord, RunStatus
from runs.registry import run_kind
from runs.reports import RunEnded, run_append_log_batch
from runs.selectors import log_record_latest
from runs.sweeper import LOST_STEP, SweepPolicy, jobs_sweep
from runs.tests.test_builder_endpoints import batch, post, report, status_event, texts_of, token_of, urls

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def finished_build(status: str) -> Build:
    """A build whose builder (attempt "a1") reported running and a line, then ``status`` (or was canceled)."""
    build = make_build(status=RunStatus.PENDING)
    assert report(build, "running")[0] == 200
    assert post(urls("build", build.pk)[1], batch(1, "the real log"), token_of(build))[0] == 201
    if status == RunStatus.CANCELED:
        assert report(build, "canceled")[0] == 200
    else:
        assert report(build, status)[0] == 200
    build.refresh_from_db()
    assert build.status == status
    return build


def snapshot(build: Build) -> dict[str, Any]:
    build.refresh_from_db()
    records = LogRecord.objects.filter(run_kind="build", run_id=build.pk)
    return {
        "status": build.status,
        "updated_at": build.updated_at,
        "heartbeat": build.last_heartbeat_at,
        "records": list(records.values_list("pk", "attempt", "attempt_key", "updated_at").order_by("attempt")),
        "chunks": LogChunk.objects.filter(record__in=records).count(),
    }


LATE_REPORTS = {
    "final status again (its first answer was lost)": lambda b: (urls("build", b.pk)[0], status_event(b.pk, "failed")),
    "running from a new attempt": lambda b: (urls("build", b.pk)[0], status_event(b.pk, "running", attempt="forged")),
    "heartbeat": lambda b: (urls("build", b.pk)[0], status_event(b.pk, None)),
    "log batch of its attempt": lambda b: (urls("build", b.pk)[1], batch(2, "forged line")),
    "log batch of a new attempt": lambda b: (urls("build", b.pk)[1], batch(1, "forged", attempt="forged")),
    "log batch repeating a stored seq": lambda b: (urls("build", b.pk)[1], batch(1, "the real log")),
}


@pytest.mark.django_db
@pytest.mark.parametrize("final", [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED])
@pytest.mark.parametrize("late", list(LATE_REPORTS))
def test_it_refuses_every_report_after_the_run_ended_and_changes_nothing(final: str, late: str) -> None:
    # given a finished build
    build = finished_build(final)
    before = snapshot(build)
    # when its job token reports anything more
    url, body = LATE_REPORTS[late](build)
    status, answer = post(url, body, token_of(build))
    # then it is refused with a reason, and the API shows what it showed before
    assert status == 409
    assert set(answer) == {"code", "message"}
    assert answer["code"] == "Conflict"
    assert f"build {build.pk} has ended ({final})" in answer["message"]
    assert snapshot(build) == before
    record = log_record_latest(run_kind="build", run_id=build.pk)
    assert record is not None and texts_of(record) == ["the real log"]


@pytest.mark.django_db
def test_a_run_being_canceled_still_takes_reports_until_it_ends() -> None:
    # given a running build being canceled from the UI
    build = make_build(status=RunStatus.PENDING)
    report(build, "running")
    run_kind("build").cancel(build, None)
    build.refresh_from_db()
    assert build.status == RunStatus.CANCELING
    logs_url = urls("build", build.pk)[1]
    # when its builder sends its last lines, a heartbeat and its final status
    assert post(logs_url, batch(1, "stopping"), token_of(build))[0] == 201
    assert report(build, None) == (200, {"status": "canceling"})
    assert report(build, "failed") == (200, {"status": "canceled"})
    # then they were taken, and after that the run is closed to it
    assert post(logs_url, batch(2, "too late"), token_of(build))[0] == 409
    assert texts_of(log_record_latest(run_kind="build", run_id=build.pk)) == ["stopping"]  # type: ignore[arg-type]


@pytest.mark.django_db
def test_a_batch_is_refused_when_the_run_ends_after_the_builder_loaded_it() -> None:
    # given a running build as the endpoint loaded it, and then the sweeper (or a cancel) ended it
    build = make_build(status=RunStatus.PENDING)
    report(build, "running")
    build.refresh_from_db()
    loaded = Build.objects.select_related("pipeline").get(pk=build.pk)
    assert run_kind("build").finish(build, RunStatus.FAILED, None)
    # when the batch is stored for the run as loaded (still "running" in memory)
    from builder.contracts import LogBatch

    body = batch(1, "late", attempt="a-new-one")
    with pytest.raises(RunEnded):
        run_append_log_batch(kind=run_kind("build"), run=loaded, batch=LogBatch.from_dict(body))
    # then the transaction that would have stored it saw the end: no new attempt, no line
    assert list(LogRecord.objects.filter(run_kind="build", run_id=build.pk).values_list("attempt_key", flat=True)) == [
        "a1"
    ]
    assert not LogChunk.objects.filter(record__run_id=build.pk).exists()


@pytest.mark.django_db
def test_a_late_builder_cannot_report_on_a_run_the_sweeper_failed() -> None:
    # given a build whose builder went quiet, failed by the sweeper with the reason in its log
    build = make_build(status=RunStatus.RUNNING, now=T0 - timedelta(minutes=10), started=T0 - timedelta(minutes=9))
    result = jobs_sweep(runner=FakeJobRunner(), policy=SweepPolicy(heartbeat_timeout=60, check_after=20), now=T0)
    assert result.failed == [f"build {build.pk}"]
    before = snapshot(build)
    # when the builder comes back and reports its lines and success
    logs = post(urls("build", build.pk)[1], batch(1, "I was only slow", attempt="late"), token_of(build))
    final = report(build, "succeeded", attempt="late")
    # then both are refused: the run stays failed, with the sweeper's reason as its latest log
    assert (logs[0], final[0]) == (409, 409)
    assert snapshot(build) == before
    record = log_record_latest(run_kind="build", run_id=build.pk)
    assert record is not None
    assert {entry["step"] for entry in _entries(record)} == {LOST_STEP}


def _entries(record: LogRecord) -> list[dict[str, Any]]:
    from runs.selectors import log_entries_after

    return log_entries_after(record=record, after_seq=0)[0]


@pytest.mark.django_db
def test_an_end_whose_status_was_not_applied_after_its_batch_was_stored_is_completed_by_its_retry() -> None:
    # given a running build whose end stored its last batch (seq 2), and whose status transaction then failed (an end
    # commits its batch first: runs.reports.run_report_end), so its builder retries the end
    build = make_build(status=RunStatus.PENDING)
    status_url, logs_url = urls("build", build.pk)
    token = token_of(build)
    assert post(status_url, status_event(build.pk, "running"), token)[0] == 200
    assert post(logs_url, batch(1, "first"), token)[0] == 201
    assert post(logs_url, batch(2, "last"), token)[0] == 201
    end = {"status": status_event(build.pk, "succeeded") | {"cpuMaxUsage": 0.5}, "batch": batch(2, "last")}
    # when the retried end arrives
    status, answer = post(callback_end_url(kind="build", run_id=build.pk, base_url=""), end, token)
    # then the status is applied, the batch was found stored before, and each line is kept once
    assert (status, answer) == (200, {"status": "succeeded", "stored": False})
    build.refresh_from_db()
    assert (build.status, build.cpu_max_usage) == (RunStatus.SUCCEEDED, 0.5)
    record = log_record_latest(run_kind="build", run_id=build.pk)
    assert record is not None
    assert texts_of(record) == ["first", "last"]
