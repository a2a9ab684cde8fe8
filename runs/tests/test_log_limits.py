"""Logs in bounded memory: log documents are streamed in the shape the API always answered, read a bounded page of
lines at a time; a runaway log line is cut (and marked) by the API too."""

import json
import tracemalloc
from typing import Any

import pytest

from builder.contracts import LOG_LINE_TRUNCATED, MAX_LOG_LINE_CHARS, ImageInfo, TailLogLine
from builds.models import Build
from builds.testing import make_build
from estafette.testing import client_for, make_user, response_json
from runs.log_document import log_document_pieces
from runs.models import LogRecord, RunStatus
from runs.selectors import log_lines_of_step, log_step_tree, log_steps
from runs.services import log_append, log_record_create
from runs.testing import output_line
from runs.tests.test_builder_endpoints import batch, post, texts_of, token_of, urls


def line(step: str, text: str, number: int, **identity: Any) -> TailLogLine:
    return output_line(step, text, number, **identity)


@pytest.fixture
def record() -> LogRecord:
    build = make_build(status=RunStatus.RUNNING)
    return log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)


def document(record: LogRecord) -> dict[str, Any]:
    return json.loads("".join(log_document_pieces(record, run_fields={"buildID": "7"})))


@pytest.mark.django_db
def test_the_streamed_document_has_the_shape_of_the_log_api(record: LogRecord) -> None:
    # given a log with stages, a parallel stage, a service, a re-run, an orphan, images, statuses and text to escape
    log_append(record=record, seq=1, lines=[line("builder-info", 'v1 \u2028 ünï "quoted" \\ [{', 1)])
    log_append(
        record=record,
        seq=2,
        lines=[
            line("db", "up", 1, type="service", parent_stage="tests", depth=1),
            line("unit", "ok", 1, parent_stage="tests", depth=1),
            TailLogLine(step="tests", status="RUNNING", image=ImageInfo(name="golang", tag="1.22", is_pulled=True)),
            line("lost", "no parent", 1, parent_stage="nowhere", depth=1),
        ],
    )
    log_append(
        record=record, seq=3, lines=[line("unit", f"line {n}", n, parent_stage="tests", depth=1) for n in range(2, 50)]
    )
    log_append(record=record, seq=4, lines=[TailLogLine(step="tests", status="SUCCEEDED", exit_code=0, duration=9)])
    log_append(record=record, seq=5, lines=[line("tests", "again", 1, run_index=1)])
    # when the document is streamed
    streamed = document(record)
    # then it is the record's fields and the whole step tree, as the in-memory tree has it
    pipeline = record.pipeline
    assert list(streamed) == ["id", "repoSource", "repoOwner", "repoName", "buildID", "insertedAt", "steps"]
    assert (streamed["id"], streamed["repoName"], streamed["buildID"]) == (str(record.pk), pipeline.repo_name, "7")
    assert streamed["steps"] == log_steps(record=record)
    steps = {step["step"]: step for step in streamed["steps"]}
    assert [step["step"] for step in streamed["steps"]] == ["builder-info", "tests", "tests", "lost"]
    assert steps["builder-info"]["logLines"][0]["text"] == 'v1 \u2028 ünï "quoted" \\ [{'
    first_run, rerun = streamed["steps"][1], streamed["steps"][2]
    assert list(first_run) == [
        "step", "depth", "runIndex", "image", "duration", "exitCode", "status", "autoInjected",
        "logLines", "nestedSteps", "services",
    ]  # fmt: skip
    assert (first_run["status"], first_run["exitCode"], first_run["duration"]) == ("SUCCEEDED", 0, 9)
    assert first_run["image"]["tag"] == "1.22"
    assert rerun["runIndex"] == 1 and rerun["image"] is None
    # (the latest run of a stage is the parent of its parallel stages and services, as in the in-memory tree)
    assert [line["text"] for line in rerun["nestedSteps"][0]["logLines"]] == ["ok"] + [
        f"line {n}" for n in range(2, 50)
    ]
    assert rerun["services"][0]["logLines"][0]["text"] == "up"


@pytest.mark.django_db
def test_the_api_serves_the_streamed_document(record: LogRecord) -> None:
    log_append(record=record, seq=1, lines=[line("build", "hello", 1)])
    build = Build.objects.get(pk=record.run_id)
    pipeline = build.pipeline
    path = f"/api/pipelines/{pipeline.repo_source}/{pipeline.repo_owner}/{pipeline.repo_name}/builds/{build.pk}/logs"
    response = client_for(make_user()).get(path)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/json"
    body = response_json(response)
    assert body["buildID"] == str(build.pk)
    assert body["steps"][0]["logLines"][0]["text"] == "hello"


@pytest.mark.django_db
def test_a_steps_lines_are_read_in_bounded_pages_of_whole_chunks(record: LogRecord) -> None:
    # given a step whose lines are in chunks of 1, 5 (more than a page) and 2 lines
    log_append(record=record, seq=1, lines=[line("build", "a", 1)])
    log_append(record=record, seq=2, lines=[line("build", f"b{n}", n) for n in range(5)])
    log_append(record=record, seq=3, lines=[line("build", "c1", 1), line("build", "c2", 2)])
    [node] = log_step_tree(record=record)
    # when read with pages of at most 3 lines
    chunks = list(log_lines_of_step(record_id=record.pk, step_id=node.step.pk, lines_per_read=3))
    # then every line comes once, in order, a chunk never split
    assert [[line["text"] for line in chunk] for chunk in chunks] == [["a"], [f"b{n}" for n in range(5)], ["c1", "c2"]]


def streaming_peak(record: LogRecord) -> tuple[int, int]:
    """(document size, peak memory allocated while it was streamed with each piece dropped, as a response is sent)."""
    tracemalloc.start()
    try:
        size = sum(len(piece) for piece in log_document_pieces(record, run_fields={}))
        return size, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def fill(record: LogRecord, lines: int) -> None:
    text = "compiling a module of the project with a line of some length " * 4
    for seq, first in enumerate(range(0, lines, 2000), 1):
        log_append(record=record, seq=seq, lines=[line("build", text, n) for n in range(first, first + 2000)])


@pytest.mark.django_db
def test_streaming_a_log_holds_the_same_bounded_part_of_it_however_long_it_is() -> None:
    # given a log of 10 000 lines and one three times as long (about 3 and 10 MB of JSON)
    short, long = (make_build(status=RunStatus.RUNNING) for _ in range(2))
    short_record = log_record_create(pipeline=short.pipeline, run_kind=Build.kind, run_id=short.pk)
    long_record = log_record_create(pipeline=long.pipeline, run_kind=Build.kind, run_id=long.pk)
    fill(short_record, 10000)
    fill(long_record, 30000)
    # when each is streamed
    short_size, short_peak = streaming_peak(short_record)
    long_size, long_peak = streaming_peak(long_record)
    # then the longer log went out whole without costing the reader more memory
    assert long_size > 2.9 * short_size
    assert long_peak < 1.2 * short_peak, f"peak {short_peak / 1e6:.1f} MB, then {long_peak / 1e6:.1f} MB"
    assert long_peak < long_size  # a whole log as dicts takes several times its JSON


@pytest.mark.django_db
def test_the_api_cuts_a_runaway_line_and_marks_it() -> None:
    # given a running build whose builder (or anything holding its token) posts a 1 MB line
    build = make_build(status=RunStatus.RUNNING)
    status, _ = post(urls("build", build.pk)[1], batch(1, "x" * 1_000_000, "next"), token_of(build))
    # then the line is stored cut at the limit, with the marker, and the next line whole
    assert status == 201
    record = LogRecord.objects.get(run_kind="build", run_id=build.pk)
    assert texts_of(record) == ["x" * MAX_LOG_LINE_CHARS + LOG_LINE_TRUNCATED, "next"]
