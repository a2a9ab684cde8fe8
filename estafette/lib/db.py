"""Database helpers that keep write paths safe on CockroachDB, PostgreSQL and SQLite."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar, overload

from django.db import OperationalError, connection, transaction
from django.db.utils import DatabaseError

from estafette.lib.backoff import retry_transaction

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

SERIALIZATION_FAILURE = "40001"
MAX_ATTEMPTS = 8


def is_serialization_failure(error: BaseException) -> bool:
    """True for SQLSTATE 40001 (PostgreSQL SERIALIZABLE, CockroachDB) and SQLite's busy lock."""
    cause: BaseException | None = error
    while cause is not None:
        if getattr(cause, "pgcode", None) == SERIALIZATION_FAILURE:
            return True
        sqlstate = getattr(getattr(cause, "diag", None), "sqlstate", None)
        if sqlstate == SERIALIZATION_FAILURE:
            return True
        if isinstance(cause, OperationalError) and "database is locked" in str(cause):
            return True
        if "restart transaction" in str(cause) and "40001" in str(cause):
            return True
        cause = cause.__cause__
    return False


@overload
def retry_on_serialization_failure(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def retry_on_serialization_failure(*, attempts: int = ...) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def retry_on_serialization_failure(
    func: Callable[P, R] | None = None, /, *, attempts: int = MAX_ATTEMPTS
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Re-run ``func`` when its transaction loses a serialization conflict.

    Put it *outside* ``transaction.atomic``: a retry must start a fresh transaction. Inside an
    already-open atomic block there is nothing safe to retry, so the error is re-raised and the
    outermost decorated caller retries instead. ``attempts`` (with ``@retry_on_serialization_failure(
    attempts=…)``) raises the limit for transactions that write a hot row many callers share.
    """
    if func is None:
        return functools.partial(_with_retries, attempts=attempts)
    return _with_retries(func, attempts=attempts)


def _retryable(error: BaseException) -> bool:
    # Inside an open atomic block there is nothing safe to retry: the outermost decorated caller does it.
    return isinstance(error, DatabaseError) and not connection.in_atomic_block and is_serialization_failure(error)


def _with_retries(func: Callable[P, R], *, attempts: int) -> Callable[P, R]:
    # Jittered exponential back-off (estafette.lib.backoff) so the conflicting transactions do not collide again.
    return retry_transaction(func, attempts=attempts, retryable=_retryable, logger=logger)


@overload
def atomic_with_retry(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def atomic_with_retry(*, attempts: int = ...) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def atomic_with_retry(
    func: Callable[P, R] | None = None, /, *, attempts: int = MAX_ATTEMPTS
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """``retry_on_serialization_failure`` around ``transaction.atomic``: one retried transaction."""
    if func is None:
        return functools.partial(atomic_with_retry, attempts=attempts)
    return _with_retries(transaction.atomic(func), attempts=attempts)
