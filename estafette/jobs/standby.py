"""``StandbyPool``: pre-started builders (``python -m builder standby``) that the local runner hands jobs to.

A standby has imported the builder already and launches each job by forking itself (see ``builder/standby.py``), so
a job starts in a few milliseconds instead of the ~130 ms a cold ``python -m builder job`` takes. A standby is busy
only while it forks (milliseconds), so a few serve any number of jobs; the pool keeps ``size`` of them.

Standbys start with the first ``launch`` (that job starts cold) or an explicit ``start()``, so a process that only
cancels or watches jobs never pays for them. One thread per pool (the *keeper*) starts every standby and replaces
those that died: Linux's parent-death signal, which ends a standby with its parent, fires when the *thread* that
started it ends, so standbys must not be started from request threads. A pool belongs to one process: after a fork
(a pre-forking server) the child starts its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from builder.standby import interpreter_environment
from estafette.lib.backoff import until_started

logger = logging.getLogger(__name__)

READY_TIMEOUT = 60.0  # importing the builder on a busy machine
HANDOFF_TIMEOUT = 15.0  # a standby answers within milliseconds; this long means it is stuck
IDLE_WAIT = 0.05  # a busy standby is free again within milliseconds; a cold start costs far more than this wait


class HandoffFailed(Exception):
    """A request reached a standby but no usable answer came back: the job may or may not have been launched."""


@dataclass
class _Standby:
    process: subprocess.Popen[bytes]
    interpreter_env: dict[str, str]
    pending: bytearray = field(default_factory=bytearray)

    def alive(self) -> bool:
        return self.process.poll() is None

    def request(self, message: Mapping[str, Any], *, timeout: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except OSError as error:
            raise HandoffFailed(f"the standby is gone: {error.strerror}") from None
        return self.read_message(timeout=timeout)

    def read_message(self, *, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise HandoffFailed(f"the standby did not answer within {timeout:g} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise HandoffFailed("the standby ended")
            self.pending += chunk
        line, _, rest = bytes(self.pending).partition(b"\n")
        self.pending = bytearray(rest)
        try:
            message = json.loads(line)
        except ValueError:
            raise HandoffFailed("the standby answered something that is not JSON") from None
        if not isinstance(message, dict):
            raise HandoffFailed("the standby answered something that is not a JSON object")
        return message

    def stop(self) -> None:
        """Close its pipe (it exits at end of file); kill it if it does not."""
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class StandbyPool:
    """Keeps ``size`` standbys ready. ``environment()`` gives the variables a new standby starts with (a job's, less
    its own paths); ``argv`` is the standby's command (``--parent-pid PID`` is appended); ``launch`` hands one job
    request to an idle standby."""

    def __init__(
        self,
        *,
        size: int,
        environment: Callable[[], dict[str, str]],
        cwd: str = "/",
        argv: Sequence[str] | None = None,
        handoff_timeout: float = HANDOFF_TIMEOUT,
    ) -> None:
        if size < 1:
            raise ValueError("a standby pool needs at least one standby")
        self.size = size
        self._environment = environment
        self._cwd = cwd
        self._argv = list(argv) if argv is not None else [sys.executable, "-P", "-m", "builder", "standby"]
        self._handoff_timeout = handoff_timeout
        self._lock = threading.Condition()
        self._idle: list[_Standby] = []
        self._busy = 0
        self._closed = False
        self._stale = False  # the environment changed: replace every standby
        self._owner = os.getpid()
        self._keeper: threading.Thread | None = None
        self._starting: subprocess.Popen[bytes] | None = None  # the standby the keeper waits for, until it is ready

    # --- for the runner ----------------------------------------------------------------------------------------------

    def launch(self, request: Mapping[str, Any], *, env: Mapping[str, str]) -> int | None:
        """Hand ``request`` to an idle standby: the job leader's pid, or None when no standby took it (none idle,
        none started yet, or they were started with different interpreter settings than ``env``'s) — the caller
        starts the job itself. Raises :class:`HandoffFailed` when a standby got the request but did not answer
        properly: the job may have been launched (the caller's claim on the job decides)."""
        self.start()
        standby = self._take(interpreter_environment(env))
        if standby is None:
            return None
        healthy = False
        try:
            reply = standby.request(request, timeout=self._handoff_timeout)
            healthy = True
        finally:
            self._give_back(standby, healthy=healthy)
        if isinstance(reply.get("pid"), int):
            return int(reply["pid"])
        if reply.get("claimed") is False:
            raise HandoffFailed("the job was claimed by someone else")
        raise HandoffFailed(f"the standby refused the job: {reply.get('error', 'no reason given')}")

    def start(self) -> None:
        """Start the standbys now rather than with the first job (idempotent; returns at once)."""
        self._adopt_after_fork()
        with self._lock:
            if self._keeper is None and not self._closed:
                self._keeper = threading.Thread(target=self._keep, name="standby-keeper", daemon=True)
                self._keeper.start()

    def wait_until_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Start the standbys if need be; whether all ``size`` are idle and ready within ``timeout`` seconds."""
        self.start()
        with self._lock:
            return self._lock.wait_for(lambda: len(self._idle) >= self.size or self._closed, timeout=timeout)

    def ready_count(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        """Stop the keeper and every standby (jobs they launched go on)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            starting, self._starting = self._starting, None
            self._lock.notify_all()
        if starting is not None:
            # A standby still importing (seconds on a loaded machine) would keep the keeper in _spawn, and this close
            # in keeper.join, long after a SIGTERM: it has launched no job, so it is killed, which ends the wait.
            with contextlib.suppress(ProcessLookupError):
                starting.kill()
        for standby in idle:
            standby.stop()
        keeper = self._keeper
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(timeout=5)

    # --- idle and busy -----------------------------------------------------------------------------------------------

    def _take(self, interpreter_env: dict[str, str]) -> _Standby | None:
        deadline = time.monotonic() + IDLE_WAIT
        with self._lock:
            while True:
                while self._idle:
                    standby = self._idle.pop()
                    if not standby.alive():
                        self._retire(standby)
                        continue
                    if standby.interpreter_env != interpreter_env:
                        # started before the server's environment changed; replace them all, run this job cold
                        self._stale = True
                        self._idle.append(standby)
                        self._lock.notify_all()
                        return None
                    self._busy += 1
                    return standby
                remaining = deadline - time.monotonic()
                if self._busy == 0 or remaining <= 0 or self._closed:
                    return None  # none started yet (or all dead): waiting would not help
                self._lock.wait(remaining)

    def _give_back(self, standby: _Standby, *, healthy: bool) -> None:
        with self._lock:
            self._busy -= 1
            if healthy and standby.alive() and not self._closed:
                self._idle.append(standby)
            else:
                self._retire(standby)
            self._lock.notify_all()

    def _retire(self, standby: _Standby) -> None:
        threading.Thread(target=standby.stop, name="standby-stop", daemon=True).start()

    # --- the keeper --------------------------------------------------------------------------------------------------

    def _adopt_after_fork(self) -> None:
        """In a forked child the standbys are the parent's and no keeper runs: start afresh."""
        if self._owner == os.getpid():
            return
        with self._lock:
            if self._owner == os.getpid():
                return
            self._owner = os.getpid()
            for standby in self._idle:
                for pipe in (standby.process.stdin, standby.process.stdout):
                    with contextlib.suppress(OSError):
                        if pipe is not None:
                            pipe.close()
            self._idle, self._busy, self._stale = [], 0, False
            self._keeper = None

    def _keep(self) -> None:
        owner = os.getpid()
        while True:
            with self._lock:
                if self._closed or self._owner != owner:
                    return
                if self._stale:
                    self._stale = False
                    stale, self._idle = self._idle, []
                    for standby in stale:
                        self._retire(standby)
                alive = [standby for standby in self._idle if standby.alive()]
                for standby in self._idle:
                    if standby not in alive:
                        self._retire(standby)
                self._idle = alive
                if len(self._idle) + self._busy >= self.size:
                    self._lock.wait(timeout=1.0)  # also a periodic look for standbys that died while idle
                    continue
            # A standby that cannot start is retried with back-off (estafette.lib.backoff), not in a tight loop; an
            # exception is retried too, since a keeper that died would leave every later job cold, silently.
            standby = until_started(
                self._spawn,
                given_up=lambda: self._closed or self._owner != owner,
                logger=logger,
                what="a builder standby",
            )
            with self._lock:
                if standby is not None and not self._closed and self._owner == owner:
                    self._idle.append(standby)
                    self._lock.notify_all()
                    continue
            if standby is not None:
                standby.stop()
            if self._closed:
                return

    def _spawn(self) -> _Standby | None:
        env = self._environment()
        argv = [*self._argv, "--parent-pid", str(os.getpid())]
        try:
            process = subprocess.Popen(
                argv,
                cwd=self._cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # apart from the server's terminal and its signals
            )
        except OSError as error:
            logger.warning("cannot start a builder standby: %s", error.strerror)
            return None
        standby = _Standby(process=process, interpreter_env=interpreter_environment(env))
        with self._lock:
            closed = self._closed
            if not closed:
                self._starting = process
        if closed:
            standby.stop()
            return None
        try:
            hello = standby.read_message(timeout=READY_TIMEOUT)
        except HandoffFailed as error:
            if not self._closed:
                logger.warning("a builder standby did not start: %s", error)
            standby.stop()
            return None
        finally:
            with self._lock:
                if self._starting is process:
                    self._starting = None
        if hello.get("ready") is not True:
            logger.warning("a builder standby did not start: it said %r", hello)
            standby.stop()
            return None
        return standby
