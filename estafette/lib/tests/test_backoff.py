"""The server's back-off helpers (estafette.lib.backoff): retried until success, stopped when told, errors kept."""

from __future__ import annotations

import asyncio
import logging

import pytest

from estafette.lib.backoff import until_ready, until_started

logger = logging.getLogger(__name__)


def test_waiting_for_a_service_returns_its_answer_once_it_is_up() -> None:
    # given a service that refuses twice, then answers
    calls: list[int] = []
    failures: list[tuple[int, str]] = []

    async def connect() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"refused {len(calls)}")
        return "bound"

    # when a consumer waits for it
    result = asyncio.run(
        until_ready(connect, stop=asyncio.Event(), on_failure=lambda n, error: failures.append((n, str(error))))
    )

    # then it gets the answer, and was told of each failure
    assert result == "bound"
    assert failures == [(1, "refused 1"), (2, "refused 2")]


def test_waiting_for_a_service_ends_when_the_process_stops() -> None:
    # given a service that never answers, and a process told to stop after its first failure
    async def wait() -> object:
        stop = asyncio.Event()

        async def connect() -> str:
            stop.set()
            raise ConnectionError("refused")

        return await until_ready(connect, stop=stop, on_failure=lambda n, error: None)

    # when it waits, then it gives up with nothing
    assert asyncio.run(wait()) is None


def test_starting_a_helper_retries_failures_and_gives_up_when_told(caplog: pytest.LogCaptureFixture) -> None:
    # given a helper that fails to start once with an error, then says no once more (logging why itself)
    outcomes: list[object] = [RuntimeError("exec format error"), None, "started"]

    def start() -> str | None:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[return-value]

    # when it is started with back-off
    with caplog.at_level(logging.INFO):
        result = until_started(start, given_up=lambda: False, logger=logger, what="a helper")

    # then it started on the third try, and the error was logged with its traceback
    assert result == "started"
    assert any(record.exc_info and "exec format error" in str(record.exc_info[1]) for record in caplog.records)

    # and a pool that closed meanwhile stops trying
    assert until_started(lambda: None, given_up=lambda: True, logger=logger, what="a helper") is None
