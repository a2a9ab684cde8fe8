"""The server's back-off loops, on tenacity: how long each kind of retry waits, said once, here.

* a transaction that lost a serialization conflict (``estafette.lib.db``): re-run at once-ish — a few milliseconds,
  doubling to at most 0.5 s, with full jitter so the conflicting transactions do not meet again — a bounded number
  of times;
* a service that is not up yet (JetStream, for a consumer binding its durable): 0.1 s more each time, at most 2 s,
  until it answers or the process stops;
* a helper process that fails to start (a builder standby): 0.5 s doubling to 30 s, until it starts or its pool
  closes.

Loops that poll rather than retry (the outbox relay's interval, a consumer's fetch) are not back-off and stay where
they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_incrementing,
    wait_random_exponential,
)

P = ParamSpec("P")
R = TypeVar("R")

SERIALIZATION_WAIT = wait_random_exponential(multiplier=0.005, max=0.5)
SERVICE_WAIT = wait_incrementing(start=0.1, increment=0.1, max=2.0)
RESTART_WAIT = wait_exponential(multiplier=0.5, max=30.0)


def retry_transaction(
    func: Callable[P, R],
    *,
    attempts: int,
    retryable: Callable[[BaseException], bool],
    logger: logging.Logger,
) -> Callable[P, R]:
    """``func`` re-run (up to ``attempts`` times in all) while it raises an error ``retryable`` accepts; the last
    error, or any other one, is raised as it was."""

    def log(state: RetryCallState) -> None:
        logger.info(
            "serialization failure in %s, retry %d in %.3fs",
            getattr(func, "__qualname__", func),
            state.attempt_number,
            state.upcoming_sleep,
        )

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=SERIALIZATION_WAIT,
        retry=retry_if_exception(retryable),
        before_sleep=log,
        reraise=True,
    )
    return retrying.wraps(func)


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
