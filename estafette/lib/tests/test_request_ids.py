"""Request ids on HTTP answers and in the logs, plain and JSON (ESTAFETTE_LOG_FORMAT=json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

LOG_ONE_LINE = """
import logging, django
django.setup()
from estafette.lib.request_ids import bound
with bound("req-42"):
    logging.getLogger("estafette.test").warning("something happened")
"""


def test_it_answers_with_a_new_request_id_or_the_callers_token(client: Client) -> None:
    made = client.get("/liveness")["X-Request-ID"]
    assert len(made) == 32
    assert client.get("/liveness", HTTP_X_REQUEST_ID="lb-7f3a.1")["X-Request-ID"] == "lb-7f3a.1"


@pytest.mark.parametrize("forged", ["a\nlevel=ERROR fake", 'x" "admin', "x" * 101, " spaced"])
def test_a_request_id_that_could_forge_log_lines_is_replaced(client: Client, forged: str) -> None:
    # attack: an id with a newline, quotes or overlong, to forge or bloat the server's log lines → a new id
    answer = client.get("/liveness", HTTP_X_REQUEST_ID=forged)
    assert answer["X-Request-ID"] != forged and len(answer["X-Request-ID"]) == 32


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_log_lines_carry_the_request_id_in_either_format(log_format: str) -> None:
    env = {**os.environ, "ESTAFETTE_LOG_FORMAT": log_format, "DJANGO_SETTINGS_MODULE": "estafette.settings"}
    done = subprocess.run(
        [sys.executable, "-c", LOG_ONE_LINE],
        check=False,
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    if log_format == "json":
        record = json.loads(line)
        assert record["request_id"] == "req-42"
        assert (record["level"], record["logger"], record["message"]) == (
            "WARNING",
            "estafette.test",
            "something happened",
        )
        assert "time" in record
    else:
        assert "[req-42] something happened" in line


def test_an_unknown_log_format_stops_the_server_at_start() -> None:
    env = {**os.environ, "ESTAFETTE_LOG_FORMAT": "xml", "DJANGO_SETTINGS_MODULE": "estafette.settings"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        check=False,
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ESTAFETTE_LOG_FORMAT is plain or json" in done.stderr
