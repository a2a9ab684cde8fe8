"""The SQLite backend's write lock: writers queue on a lock file, and every way a transaction ends frees it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection, transaction

from estafette.lib.sqlite_backend.base import WriteLock

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the lock file is the SQLite backend's")


def test_a_second_writer_waits_for_the_first_and_gets_the_lock_once_it_is_released(tmp_path: Path) -> None:
    # given a writer holding the lock
    first, second = WriteLock(str(tmp_path / "db-writelock")), WriteLock(str(tmp_path / "db-writelock"))
    first.acquire(timeout=1)

    # when a second one asks, and the first releases 100 ms later
    timer = threading.Timer(0.1, first.release)
    started = time.monotonic()
    timer.start()
    second.acquire(timeout=5)
    waited = time.monotonic() - started

    # then the second got it after the release, not before, and soon after
    assert second.held
    assert 0.09 <= waited < 1.0
    second.close()
    first.close()


def test_a_writer_that_waits_longer_than_its_timeout_gets_database_is_locked(tmp_path: Path) -> None:
    first, second = WriteLock(str(tmp_path / "db-writelock")), WriteLock(str(tmp_path / "db-writelock"))
    first.acquire(timeout=1)
    with pytest.raises(OperationalError, match="database is locked"):
        second.acquire(timeout=0.05)
    assert not second.held
    first.close()
    second.acquire(timeout=0.05)  # closing the holder's file frees it too
    second.close()


def test_threads_queue_in_the_process_and_still_wait_for_a_writer_of_another_process(tmp_path: Path) -> None:
    # given another process holding the file lock
    path = str(tmp_path / "db-writelock")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX);"
            " print('held', flush=True); sys.stdin.read()",
            path,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        # when a thread of this process asks: it times out on the file lock, and frees this process's queue
        first, second = WriteLock(path), WriteLock(path)
        with pytest.raises(OperationalError, match="database is locked"):
            first.acquire(timeout=0.05)
        with pytest.raises(OperationalError, match="database is locked"):
            second.acquire(timeout=0.05)
        # then once the other process lets go, a thread here gets it
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
        second.acquire(timeout=5)
        assert second.held
    finally:
        holder.kill()
        holder.wait()
    second.close()
    first.close()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_the_lock_is_held_for_exactly_the_transaction_committed_or_rolled_back() -> None:
    connection.ensure_connection()
    lock = connection.write_lock
    assert lock is not None and not lock.held

    with transaction.atomic():
        assert lock.held
    assert not lock.held

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert lock.held
        1 / 0  # noqa: B018 - the rollback path
    assert not lock.held
