from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from builder.contracts import TailLogLine
from builds.models import Build
from builds.testing import make_build, make_pipeline
from runs.models import LogChunk, LogRecord, LogStep
from runs.services import log_append, log_record_create
from runs.testing import output_line


def logged_build(days_ago: int) -> LogRecord:
    build = make_build(make_pipeline("api"))
    record = log_record_create(
        pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk, now=timezone.now() - timedelta(days=days_ago)
    )
    lines = [output_line("build", f"line {n}", n) for n in range(3)]
    log_append(
        record=record,
        seq=1,
        lines=[*lines, TailLogLine(step="test", parent_stage="build", depth=1, status="SUCCEEDED")],
    )
    return record


@pytest.mark.django_db
def test_it_prunes_logs_older_than_the_age_and_keeps_the_runs() -> None:
    # given
    old, recent = logged_build(100), logged_build(10)
    out, err = StringIO(), StringIO()

    # when
    call_command("prune_logs", "--older-than", "90d", "--batch-size", "1", stdout=out, stderr=err)

    # then
    assert list(LogRecord.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not LogStep.objects.filter(record_id=old.pk).exists()
    assert not LogChunk.objects.filter(record_id=old.pk).exists()
    assert LogChunk.objects.filter(record=recent).exists()
    assert Build.objects.count() == 2
    assert out.getvalue().startswith("pruned 1 log records (3 lines) older than 90d in ")
    assert "pruning logs [" in err.getvalue()
    assert "1/1" in err.getvalue()


@pytest.mark.django_db
def test_it_counts_without_deleting_on_a_dry_run() -> None:
    logged_build(100)
    out = StringIO()
    call_command("prune_logs", "--older-than", "12w", "--dry-run", stdout=out)
    assert out.getvalue().startswith("would prune 1 log records older than 12w")
    assert LogRecord.objects.count() == 1


@pytest.mark.parametrize("age", ["90", "0d", "3 months", "-1d"])
def test_it_explains_a_malformed_age(age: str) -> None:
    with pytest.raises(CommandError, match="--older-than takes a positive age such as 12h, 90d or 8w"):
        call_command("prune_logs", f"--older-than={age}")
