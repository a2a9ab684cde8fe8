"""Builder reports of many runs at the same moment, on PostgreSQL: their log appends do not abort each other.

PostgreSQL's SERIALIZABLE tracks reads by index page, so appends of different runs, each reading its record's steps
and chunks and inserting into the same last pages of those indexes, used to abort one another (SQLSTATE 40001): about
ten attempts per report in ``bench/cpu_per_build.py --postgres``, most of the web process's CPU per build (issue 17).
The appends and the opening of an attempt's record now run at READ COMMITTED there
(``runs.reports._read_committed_on_postgresql``): none of them may need a retry. Real threads with their own
connections; the PostgreSQL tier only (CockroachDB keeps SERIALIZABLE, where reads are tracked by key; SQLite has one
writer at a time).
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from builds.models import Build
from builds.testing import make_build, make_pipeline
from runs.callbacks import callback_end_url
from runs.models import LogChunk, LogSearchLine, LogStep, RunStatus
from runs.tests.test_builder_endpoints import post, status_event, token_of, urls
from runs.tests.test_report_queries import steps_batch

RUNS = 8
BATCHES = 4

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's page-level SERIALIZABLE conflicts (the postgres tier)"
    ),
]


def retries_of(caplog: pytest.LogCaptureFixture, *functions: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "estafette.lib.db"
        and any(f"serialization failure in {name}," in record.getMessage() for name in functions)
    ]


def at_once(builds: list[Build], send: Callable[[Build], list[int]]) -> list[list[int]]:
    """``send`` for every build, each in its own thread with its own connection, all released together."""
    start = threading.Barrier(len(builds))

    def one(build: Build) -> list[int]:
        try:
            start.wait(timeout=60)
            return send(build)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(builds)) as pool:
        return list(pool.map(one, builds))


def test_concurrent_reports_of_many_runs_store_every_line_without_a_retry(caplog: pytest.LogCaptureFixture) -> None:
    # given pending builds of one pipeline
    caplog.set_level(logging.INFO, logger="estafette.lib.db")
    pipeline = make_pipeline("busy")
    builds = [make_build(pipeline, status=RunStatus.PENDING) for _ in range(RUNS)]

    def report(build: Build) -> list[int]:
        status_url, logs_url = urls("build", build.pk)
        token = token_of(build)
        answers = [post(status_url, status_event(build.pk, "running"), token)[0]]
        for seq in range(1, BATCHES + 1):
            steps = [(f"stage-{seq}-{n}", "SUCCEEDED") for n in range(3)]
            answers.append(post(logs_url, steps_batch(seq, steps), token)[0])
        final = status_event(build.pk, "succeeded")
        end = {"status": final, "batch": steps_batch(BATCHES + 1, [("last", "SUCCEEDED")])}
        answers.append(post(callback_end_url(kind="build", run_id=build.pk, base_url=""), end, token)[0])
        return answers

    # when each one's builder reports running, its batches and its end at the same moment as the others'
    answers = at_once(builds, report)

    # then every report was applied, no append or record opening was retried, and every line was stored once
    assert answers == [[200, *([201] * BATCHES), 200]] * RUNS
    assert retries_of(caplog, "_append_unless_ended", "_open_attempt") == []
    assert set(Build.objects.filter(pk__in=[b.pk for b in builds]).values_list("status", flat=True)) == {"succeeded"}
    assert LogStep.objects.filter(status="SUCCEEDED").count() == RUNS * (BATCHES * 3 + 1)
    assert LogChunk.objects.count() == RUNS * (BATCHES * 3 + 1)
    assert LogSearchLine.objects.count() == RUNS * (BATCHES * 3 + 1)


def test_the_same_batch_sent_twice_at_once_is_stored_once(caplog: pytest.LogCaptureFixture) -> None:
    # given a running build (READ COMMITTED: the unique (record, seq, step) key decides between two copies)
    build = make_build(status=RunStatus.PENDING)
    status_url, logs_url = urls("build", build.pk)
    token = token_of(build)
    assert post(status_url, status_event(build.pk, "running"), token)[0] == 200
    body: dict[str, Any] = steps_batch(1, [("build", "SUCCEEDED"), ("push", "SUCCEEDED")])

    # when its builder's retry races the first copy of a batch
    answers = at_once([build, build, build], lambda _: [post(logs_url, body, token)[0]])

    # then one copy stored it and the others were told it was stored before
    assert sorted(answer for [answer] in answers) == [200, 200, 201]
    assert LogChunk.objects.count() == 2
    assert LogSearchLine.objects.count() == 2
