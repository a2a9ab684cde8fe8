import json
from typing import Any

import pytest

from builder.contracts import LOG_LINE_TRUNCATED, MAX_LOG_LINE_CHARS, ImageInfo, LogLine, TailLogLine
from builder.secrets import Masker
from builds.models import Build
from builds.testing import make_build
from runs.logs import log_entries
from runs.models import LogChunk, LogRecord
from runs.selectors import log_entries_after, log_steps
from runs.services import log_append, log_record_create
from runs.testing import output_line


def line(step: str, text: str, number: int, **identity: Any) -> TailLogLine:
    return output_line(step, text, number, **identity)


def status(step: str, value: str, **identity: Any) -> TailLogLine:
    return TailLogLine(step=step, status=value, **identity)  # type: ignore[arg-type]


@pytest.fixture
def record() -> LogRecord:
    build = make_build()
    return log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)


@pytest.mark.django_db
def test_it_stores_a_batch_sent_twice_once(record: LogRecord) -> None:
    # given
    batch = [status("build", "RUNNING"), line("build", "compiling", 1), line("build", "done", 2)]

    # when
    first = log_append(record=record, seq=1, lines=batch)
    again = log_append(record=record, seq=1, lines=batch)

    # then
    assert (first, again) == (True, False)
    [step] = log_steps(record=record)
    assert [entry["text"] for entry in step["logLines"]] == ["compiling", "done"]
    assert step["status"] == "RUNNING"
    assert LogChunk.objects.filter(record=record).count() == 1


@pytest.mark.django_db
def test_it_builds_the_step_tree_with_parallel_stages_and_services(record: LogRecord) -> None:
    # given
    log_append(record=record, seq=1, lines=[line("builder-info", "v1", 1, auto_injected=True)])
    log_append(
        record=record,
        seq=2,
        lines=[
            line("test", "db up", 1, type="service", parent_stage="tests"),
            line("unit", "ok", 1, parent_stage="tests", depth=1),
            line("lint", "clean", 1, parent_stage="tests", depth=1),
            status("tests", "RUNNING"),
        ],
    )
    log_append(
        record=record,
        seq=3,
        lines=[
            status("unit", "SUCCEEDED", parent_stage="tests", depth=1, exit_code=0, duration=1_500_000_000),
            status("tests", "SUCCEEDED", image=ImageInfo(name="golang", tag="1.22", is_pulled=True)),
        ],
    )

    # when
    steps = log_steps(record=record)

    # then
    assert [step["step"] for step in steps] == ["builder-info", "tests"]
    assert steps[0]["autoInjected"] is True
    tests = steps[1]
    assert [nested["step"] for nested in tests["nestedSteps"]] == ["unit", "lint"]
    assert [service["step"] for service in tests["services"]] == ["test"]
    assert tests["services"][0]["logLines"][0]["text"] == "db up"
    assert tests["status"] == "SUCCEEDED"
    assert tests["image"] == ImageInfo(name="golang", tag="1.22", is_pulled=True).to_dict()
    unit = tests["nestedSteps"][0]
    assert (unit["status"], unit["exitCode"], unit["duration"], unit["depth"]) == ("SUCCEEDED", 0, 1_500_000_000, 1)


@pytest.mark.django_db
def test_it_keeps_each_run_of_a_retried_stage_apart(record: LogRecord) -> None:
    log_append(record=record, seq=1, lines=[line("flaky", "try 1", 1), status("flaky", "FAILED")])
    log_append(
        record=record, seq=2, lines=[line("flaky", "try 2", 1, run_index=1), status("flaky", "SUCCEEDED", run_index=1)]
    )

    steps = log_steps(record=record)

    assert [(step["step"], step["runIndex"], step["status"]) for step in steps] == [
        ("flaky", 0, "FAILED"),
        ("flaky", 1, "SUCCEEDED"),
    ]


@pytest.mark.django_db
def test_it_reads_everything_after_a_cursor_for_the_live_tail(record: LogRecord) -> None:
    # given
    for seq in range(1, 6):
        log_append(record=record, seq=seq, lines=[line("build", f"line {seq}", seq), line("lint", f"lint {seq}", seq)])

    # when
    first, cursor = log_entries_after(record=record, after_seq=0, limit=5)
    rest, end = log_entries_after(record=record, after_seq=cursor)
    nothing, same = log_entries_after(record=record, after_seq=end)

    # then batches are never split between reads, and every line comes exactly once
    texts = [entry["logLine"]["text"] for entry in first + rest]
    assert sorted(texts) == sorted([f"line {n}" for n in range(1, 6)] + [f"lint {n}" for n in range(1, 6)])
    assert cursor == 2
    assert (end, nothing, same) == (5, [], 5)
    assert first[0] == {
        "step": "build",
        "parentStage": "",
        "type": "stage",
        "depth": 0,
        "runIndex": 0,
        "autoInjected": False,
        "logLine": {"line": 1, "timestamp": "2030-01-01T00:00:00Z", "streamType": "stdout", "text": "line 1"},
    }


IDENTITY = ("step", "parentStage", "type", "depth", "runIndex", "autoInjected")


def test_a_chunk_entry_is_the_builders_json_of_the_line_without_the_steps_identity() -> None:
    # given lines as a builder sends them: every field a TailLogLine has
    image = ImageInfo(name="golang", tag="1.22", is_pulled=True, image_size=5, pull_duration=7, is_trusted=True)
    tails = [
        line("build", 'ünï \u2028 "q"', 1, parent_stage="tests", type="service", depth=1, run_index=2),
        TailLogLine(step="build", status="FAILED", exit_code=-1, duration=9, image=image, auto_injected=True),
        TailLogLine(step="build", log_line=LogLine(line=3, timestamp="t", stream_type="stderr", text=""), duration=0),
    ]
    # when the log store makes its entries
    entries = [entry for _, entry in log_entries(tails)]
    # then each is the line's JSON without the step's identity, its keys in the order the store has always written
    assert entries == [{k: v for k, v in tail.to_dict().items() if k not in IDENTITY} for tail in tails]
    assert [json.dumps(entry, ensure_ascii=False) for entry in entries] == [
        '{"logLine": {"line": 1, "timestamp": "2030-01-01T00:00:00Z", "streamType": "stdout", '
        '"text": "ünï \u2028 \\"q\\""}}',
        '{"status": "FAILED", "exitCode": -1, "duration": 9, "image": {"name": "golang", "tag": "1.22", '
        '"isPulled": true, "imageSize": 5, "pullDuration": 7, "error": "", "isTrusted": true, '
        '"hasInjectedCredentials": false}}',
        '{"logLine": {"line": 3, "timestamp": "t", "streamType": "stderr", "text": ""}, "duration": 0}',
    ]


def test_it_masks_a_line_before_cutting_it_so_a_secret_at_the_cut_is_hidden_whole() -> None:
    # given a runaway line with a secret across the place it is cut
    secret = "hunter2-is-secret"
    text = "x" * (MAX_LOG_LINE_CHARS - 5) + secret + "y" * 100
    # when the log store makes its entry with a masker knowing the secret
    [(_, entry)] = log_entries([line("build", text, 1)], Masker([secret]))
    # then the secret was masked, then the line cut and marked: no part of the secret is kept
    stored = entry["logLine"]["text"]
    assert stored == "x" * (MAX_LOG_LINE_CHARS - 5) + "***" + "y" * 2 + LOG_LINE_TRUNCATED
    assert "hunte" not in stored


@pytest.mark.django_db
def test_it_opens_a_new_record_for_each_attempt_of_a_run() -> None:
    build = make_build()
    first = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    second = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    assert (first.attempt, second.attempt) == (1, 2)
