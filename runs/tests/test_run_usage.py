"""What the builder measured arrives with its final status and is kept on the run (Estafette's cpu/memory columns)."""

from __future__ import annotations

import pytest

from builder.contracts import StatusEvent
from builds.testing import make_build
from runs.models import RunStatus
from runs.registry import run_kind
from runs.reports import run_report_status

pytestmark = pytest.mark.django_db


def final(build_id: int, **usage: float) -> StatusEvent:
    return StatusEvent(
        event_type="updateStatus", job_type="build", id=str(build_id), timestamp="t", status="succeeded", **usage
    )


def test_the_final_status_stores_the_runs_cpu_and_memory_maxima() -> None:
    # given a running build
    build = make_build(status=RunStatus.RUNNING)
    # when its builder reports the end with what it measured
    run_report_status(
        kind=run_kind("build"), run=build, event=final(build.pk, cpu_max_usage=1.5, memory_max_usage=2.0**27)
    )
    # then the build is final and keeps the maxima
    build.refresh_from_db()
    assert (build.status, build.cpu_max_usage, build.memory_max_usage) == ("succeeded", 1.5, 2.0**27)


def test_a_builder_that_measured_nothing_leaves_the_columns_empty() -> None:
    build = make_build(status=RunStatus.RUNNING)
    run_report_status(kind=run_kind("build"), run=build, event=final(build.pk))
    build.refresh_from_db()
    assert (build.status, build.cpu_max_usage, build.memory_max_usage) == ("succeeded", None, None)


@pytest.mark.parametrize("bad", [{"cpuMaxUsage": -1}, {"memoryMaxUsage": float("inf")}, {"cpuMaxUsage": "lots"}])
def test_a_measure_that_is_no_number_of_the_right_size_is_refused_as_the_status_is_parsed(bad: dict) -> None:
    from builder.contracts import ContractError

    body = {"eventType": "updateStatus", "jobType": "build", "id": "1", "timestamp": "t", "status": "succeeded", **bad}
    with pytest.raises(ContractError):
        StatusEvent.from_dict(body)
