"""A stage printing 50 MB without a newline, in the real builder against the real stack.

Such a line used to become ~800 log lines of 64 KiB: 50 MB carried by the builder, stored by the API and sent to every
reader of the log. Now the builder keeps the first 64 KiB of the line with a truncation marker and drops the rest of it
(the API cuts again for anything else holding a job token: runs/tests/test_log_limits.py).
"""

from __future__ import annotations

import json

import pytest

from builder.contracts import LOG_LINE_TRUNCATED, MAX_LOG_LINE_CHARS
from tests.harness.asserts import printed, steps_of
from tests.harness.system import System

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

FLOOD = """\
stages:
  flood:
    image: alpine:3.20
    commands:
    - head -c 50000000 /dev/zero | tr '\\0' x
    - echo
    - echo "after the flood"
"""


def test_a_50_mb_line_is_kept_as_one_cut_and_marked_line(system: System) -> None:
    # given a pipeline whose stage prints 50 MB without a newline, then a line
    repository = system.repository("acme", "flood", FLOOD)
    # when it builds
    system.push(repository)
    build = system.wait_for_build("local/acme/flood")
    path = f"/pipelines/local/acme/flood/builds/{build['id']}"
    assert system.wait_until_final(path, "buildStatus", timeout=180)["buildStatus"] == "succeeded"
    # then the log holds the line once, cut at the documented length and marked, and what followed it
    log = system.api.get(f"{path}/logs")
    lines = printed(steps_of(log)["flood"])
    assert lines == ["x" * MAX_LOG_LINE_CHARS + LOG_LINE_TRUNCATED, "", "after the flood"]  # ("" is the echo's)
    assert len(json.dumps(log)) < 200_000
