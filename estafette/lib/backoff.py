"""The server's back-off loops, on tenacity: how long each kind of retry waits, said once, here.

* a service that is not up yet (JetStream, for a consumer binding its durable): 0.1 s more each time, at most 2 s,
  until it answers or the process stops;
* a helper process that fails to start (a builder standby): 0.5 s doubling to 30 s, until it starts or its pool
  closes.

Loops that poll rather than retry (the outbox relay's interval, a consumer's fetch) are not back-off and stay where
they are. The serialization-conflict retry (``estafette.lib.db``) stays hand-written: it wraps every write
transaction, and tenacity's per-call set-up would cost it about 650 times its own (measured, see there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    wait_exponential,
    wait_incrementing,
)

R = TypeVar("R")

SERVICE_WAIT = wait_incrementing(start=0.1, increment=0.1, max=2.0)
RESTART_WAIT = wait_exponential(multiplier=0.5, max=30.0)


async def until_ready(
    connect: Callable[[], Awaitable[R]],
    *,
    stop: asyncio.Event,
    on_failure: Callable[[int, BaseException], None],
) -> R | None:
    """``connect()``'s result once it succeeds, or None when ``stop`` is set first. ``on_failure(attempt, error)`` is
    told of each failure (to log the first and every so often, not each one)."""

    def told(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if error is not None:
            on_failure(state.attempt_number, error)

    retrying = AsyncRetrying(
        stop=lambda _state: stop.is_set(),
        wait=SERVICE_WAIT,
        retry=retry_if_exception_type(Exception),
        before_sleep=told,
        retry_error_callback=lambda _state: None,
    )
    if stop.is_set():
        return None
    return await retrying(connect)


def until_started(
    start: Callable[[], R | None],
    *,
    given_up: Callable[[], bool],
    logger: logging.Logger,
    what: str,
) -> R | None:
    """``start()``'s first result that is not None, retried after an exception or a None (which ``start`` logged),
    or None once ``given_up()`` says to stop trying."""

    def log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if error is not None:  # a None result was logged by ``start`` with its reason
            logger.error("starting %s failed", what, exc_info=error)
        logger.info("starting %s again in %.1fs", what, state.upcoming_sleep)

    retrying = Retrying(
        stop=lambda _state: given_up(),
        wait=RESTART_WAIT,
        retry=retry_if_exception_type(Exception) | retry_if_result(lambda result: result is None),
        before_sleep=log,
        retry_error_callback=lambda _state: None,
    )
    return retrying(start)
