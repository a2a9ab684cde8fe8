"""How many SQL queries each of a build's reports makes: the builder endpoints are most of the web process's CPU per
build, and most of that is compiling and running these queries (issue 17). A change that adds one fails here; a
change that removes one lowers the figure."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builder.contracts import CONTRACT_VERSION
from builds.testing import make_build
from runs.callbacks import callback_end_url
from runs.models import LogStep, RunStatus
from runs.tests.test_builder_endpoints import post, status_event, token_of, urls


def steps_batch(seq: int, steps: list[tuple[str, str]]) -> dict[str, Any]:
    """A batch as a trivial build sends it: each step's line and its state."""
    lines: list[dict[str, Any]] = []
    for number, (name, status) in enumerate(steps, start=1):
        line = {"line": number, "timestamp": "2024-01-01T00:00:00Z", "streamType": "stdout", "text": "hello"}
        lines.append({"step": name, "logLine": line})
        lines.append({"step": name, "status": status, "exitCode": 0, "duration": 5})
    return {"contractVersion": CONTRACT_VERSION, "seq": seq, "lines": lines, "attempt": "a1"}


# Transaction control is left out of the count: SQLite's backend logs its BEGIN, PostgreSQL's does not; a log
# append's transaction sets its isolation level on PostgreSQL only (runs.reports._read_committed_on_postgresql).
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "SET TRANSACTION")


def queries_of(url: str, body: dict[str, Any], token: str) -> tuple[int, int]:
    """The answer's status and how many statements (not counting transaction control) it took."""
    with CaptureQueriesContext(connection) as captured:
        status, _ = post(url, body, token)
    statements = [query["sql"] for query in captured.captured_queries]
    return status, sum(1 for sql in statements if not sql.upper().startswith(TRANSACTION_CONTROL))


@pytest.mark.django_db(transaction=True)  # real transactions: BEGIN and COMMIT are counted as on a server
def test_a_trivial_builds_reports_make_this_many_queries() -> None:
    # given a pending build
    build = make_build(status=RunStatus.PENDING)
    status_url, logs_url = urls("build", build.pk)
    token = token_of(build)
    final_event = status_event(build.pk, "succeeded") | {"logBatches": 2, "cpuMaxUsage": 0.5, "memoryMaxUsage": 1e6}
    # when its builder reports running, two batches (new steps with their state; a known step's new state) and the end
    figures = {
        "running": queries_of(status_url, status_event(build.pk, "running"), token),
        "first batch": queries_of(
            logs_url, steps_batch(1, [("builder-info", "SUCCEEDED"), ("git-clone", "RUNNING")]), token
        ),
        "second batch": queries_of(
            logs_url, steps_batch(2, [("git-clone", "SUCCEEDED"), ("build", "SUCCEEDED")]), token
        ),
        "final status": queries_of(status_url, final_event, token),
    }
    # then each was accepted with no more queries than these (see the module doc before raising one)
    assert figures == {
        "running": (200, 10),
        "first batch": (201, 9),  # the new steps: one INSERT with their state, no UPDATE after it
        "second batch": (201, 10),
        "final status": (200, 8),
    }
    assert list(LogStep.objects.order_by("position").values_list("name", "status")) == [
        ("builder-info", "SUCCEEDED"),
        ("git-clone", "SUCCEEDED"),
        ("build", "SUCCEEDED"),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_end_in_one_request_makes_fewer_queries_than_its_batch_and_status_apart() -> None:
    # given a running build whose builder reported running and a first batch
    build = make_build(status=RunStatus.PENDING)
    status_url, logs_url = urls("build", build.pk)
    token = token_of(build)
    assert post(status_url, status_event(build.pk, "running"), token)[0] == 200
    assert post(logs_url, steps_batch(1, [("builder-info", "SUCCEEDED"), ("git-clone", "RUNNING")]), token)[0] == 201
    final_event = status_event(build.pk, "succeeded") | {"logBatches": 2, "cpuMaxUsage": 0.5, "memoryMaxUsage": 1e6}
    end = {"status": final_event, "batch": steps_batch(2, [("git-clone", "SUCCEEDED"), ("build", "SUCCEEDED")])}
    # when it sends the last batch and the final status in one request
    answer = queries_of(callback_end_url(kind="build", run_id=build.pk, base_url=""), end, token)
    # then both are applied with fewer queries than the second batch and the final status took apart (10 + 8)
    assert answer == (200, 16)
    build.refresh_from_db()
    assert (build.status, build.cpu_max_usage) == (RunStatus.SUCCEEDED, 0.5)
    assert LogStep.objects.get(name="build").status == "SUCCEEDED"
