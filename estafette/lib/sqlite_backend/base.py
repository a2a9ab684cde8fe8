"""Django's SQLite backend with write transactions queued on a lock file.

SQLite allows one writer. A ``BEGIN IMMEDIATE`` that finds the write lock taken waits in SQLite's
busy handler, which polls with growing sleeps (1, 2, 5, 10 … up to 100 ms): a writer that arrives
just after another one started may sleep 100 ms after the lock was already free, and under load
(the web workers' threads, the consumers, the relay and every builder's reports write at once) most
of a request's time went into those sleeps. Here each connection first takes an exclusive
``flock`` on ``<database>-writelock`` — polled every 0.2 to 1 ms while another transaction holds it,
so a waiter is never left asleep long after the lock was freed — then begins its transaction; it
releases the lock when the transaction ends (commit, rollback or closed connection). Writes made
outside a transaction (autocommit) do not take it and still queue on the busy timeout, as before.
In bench/trigger_latency.py's burst the webhook accepted 33 pushes/s with Django's backend and 93/s
with this one; pushed one at a time, the p99 from webhook to build created fell from 118 ms to 14 ms.

Each connection opens the lock file itself: ``flock`` locks belong to an open file, so two threads of
one process exclude each other as two processes do. Waiting for the lock gives up after the
connection's ``timeout`` with SQLite's own error, "database is locked".

Threads of one process first queue on a ``threading.Lock`` per database (a blocking wait with a timeout, which costs
no CPU), so only one thread per process polls the file lock. Polled by every waiting thread, as before, the polls of
a web worker's threads during a burst took ~10% of its CPU (py-spy, ``bench/cpu_per_build.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

FIRST_PAUSE_SECONDS = 0.0002  # most waits are for a transaction of a millisecond or two
LONGEST_PAUSE_SECONDS = 0.001

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(path: str) -> threading.Lock:
    """The lock the threads of this process queue on before they take ``path``'s file lock."""
    with _process_locks_guard:
        return _process_locks.setdefault(path, threading.Lock())


class WriteLock:
    """An exclusive ``flock`` on one file, opened by one connection."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._in_process = _process_lock(path)
        self.held = False

    def acquire(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if not self._in_process.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._wait(deadline)
        except BaseException:
            self._in_process.release()
            raise
        self.held = True

    def _wait(self, deadline: float) -> None:
        # Polled, not a blocking flock: that one cannot time out (a SIGALRM would hit any thread), and a
        # waiter that never gives up would turn a stuck transaction into a hang instead of an error.
        assert self._fd is not None
        pause = FIRST_PAUSE_SECONDS
        while True:
            time.sleep(pause)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError("database is locked") from None
                pause = min(pause * 1.5, LONGEST_PAUSE_SECONDS)

    def release(self) -> None:
        if self.held:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self.held = False
            self._in_process.release()

    def close(self) -> None:
        self.release()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_lock: WriteLock | None = None

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        name = str(self.settings_dict["NAME"])
        if self.write_lock is not None:
            self.write_lock.close()
        in_memory = self.is_in_memory_db() or name.startswith("file:")
        self.write_lock = None if in_memory else WriteLock(f"{name}-writelock")
        return connection

    def _start_transaction_under_autocommit(self) -> None:
        if self.write_lock is None:
            super()._start_transaction_under_autocommit()
            return
        self.write_lock.acquire(timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5)))
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self.write_lock.release()
            raise

    def _set_autocommit(self, autocommit: bool) -> None:
        super()._set_autocommit(autocommit)
        if autocommit and self.write_lock is not None:
            self.write_lock.release()  # the transaction ended (committed or rolled back)

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            if self.write_lock is not None:
                self.write_lock.close()
