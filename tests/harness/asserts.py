"""What the system tests assert on: a run's log as the API shows it, the API's error answers, the server's own log."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

SIGNS_OF_A_CRASH = ("Traceback", "RecursionError", "RequestDataTooBig", "Internal Server Error")


class HttpAnswer(Protocol):
    status: int
    headers: Mapping[str, str]
    body: bytes


def steps_of(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's log (``…/logs``) by step name."""
    return {step["step"]: step for step in log["steps"]}


def printed(step: dict[str, Any]) -> list[str]:
    """What a stage's commands printed (without the builder's echo of each command, ``> command``)."""
    return [line["text"] for line in step["logLines"] if "> " not in line["text"]]


def assert_json_error(answer: HttpAnswer, status: int, reason: str, *, where: str) -> None:
    """The API's error answer: ``status``, a JSON ``{"code", "message"}`` whose message says ``reason``."""
    assert answer.status == status, (where, answer.status, answer.body[:300])
    content_type = next((value for name, value in answer.headers.items() if name.lower() == "content-type"), "")
    assert content_type.startswith("application/json"), (where, answer.headers)
    body = json.loads(answer.body)
    assert set(body) == {"code", "message"}, where
    assert reason in body["message"], (where, body)


def assert_no_crash_in(log: str) -> None:
    """No process of the system crashed or failed a request with a 500 (a limit answers 4xx, quietly)."""
    for sign_of_a_crash in SIGNS_OF_A_CRASH:
        assert sign_of_a_crash not in log, f"{sign_of_a_crash} in the server's log:\n{log[-6000:]}"
