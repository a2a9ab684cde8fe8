from typing import Any

import pytest

from builds.models import Build
from builds.testing import make_build
from estafette.lib.errors import BadRequest
from runs.models import LogChunk, LogRecord, LogStep
from runs.selectors import log_entries_after, log_steps
from runs.services import log_append, log_record_create


def line(step: str, text: str, number: int, **identity: Any) -> dict[str, Any]:
    return {
        "step": step,
        "type": "stage",
        "depth": 0,
        "runIndex": 0,
        **identity,
        "logLine": {"line": number, "timestamp": "2030-01-01T00:00:00Z", "streamType": "stdout", "text": text},
    }


def status(step: str, value: str, **identity: Any) -> dict[str, Any]:
    return {"step": step, "type": "stage", "depth": 0, "runIndex": 0, **identity, "status": value}


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
    log_append(record=record, seq=1, lines=[line("builder-info", "v1", 1, autoInjected=True)])
    log_append(
        record=record,
        seq=2,
        lines=[
            line("test", "db up", 1, type="service", parentStage="tests"),
            line("unit", "ok", 1, parentStage="tests", depth=1),
            line("lint", "clean", 1, parentStage="tests", depth=1),
            status("tests", "RUNNING"),
        ],
    )
    log_append(
        record=record,
        seq=3,
        lines=[
            {**status("unit", "SUCCEEDED", parentStage="tests", depth=1), "exitCode": 0, "duration": 1_500_000_000},
            {**status("tests", "SUCCEEDED"), "image": {"name": "golang", "tag": "1.22", "isPulled": True}},
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
    assert tests["image"] == {"name": "golang", "tag": "1.22", "isPulled": True}
    unit = tests["nestedSteps"][0]
    assert (unit["status"], unit["exitCode"], unit["duration"], unit["depth"]) == ("SUCCEEDED", 0, 1_500_000_000, 1)


@pytest.mark.django_db
def test_it_keeps_each_run_of_a_retried_stage_apart(record: LogRecord) -> None:
    log_append(record=record, seq=1, lines=[line("flaky", "try 1", 1), status("flaky", "FAILED")])
    log_append(
        record=record, seq=2, lines=[line("flaky", "try 2", 1, runIndex=1), status("flaky", "SUCCEEDED", runIndex=1)]
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


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ({"type": "stage"}, r"lines\[0\]\.step must be"),
        ({"step": "x", "type": "sidecar"}, r"lines\[0\]\.type must be stage or service"),
        ({"step": "x", "status": "DONE"}, r"lines\[0\]\.status must be one of"),
        ({"step": "x", "logLine": {"text": 5}}, r"lines\[0\]\.logLine\.text must be a string"),
        ({"step": "x", "logLine": {"text": "a", "streamType": "stdin"}}, r"streamType must be stdout or stderr"),
        ({"step": "x", "exitCode": "1"}, r"lines\[0\]\.exitCode must be a whole number"),
        ({"step": "x", "runIndex": -1}, r"lines\[0\]\.runIndex must be at least 0"),
    ],
)
def test_it_refuses_a_malformed_line_and_stores_nothing(record: LogRecord, bad_line: dict, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        log_append(record=record, seq=1, lines=[bad_line])
    assert not LogStep.objects.filter(record=record).exists()


@pytest.mark.django_db
def test_it_opens_a_new_record_for_each_attempt_of_a_run() -> None:
    build = make_build()
    first = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    second = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    assert (first.attempt, second.attempt) == (1, 2)
