"""``python -m builder standby``: a pre-started builder that launches jobs by forking itself.

A cold ``python -m builder job`` spends ~130 ms (here) before its first stage runs, most of it starting the
interpreter and importing. A standby pays that once, ahead of time: it imports what a job needs, compiles the wire
types' parsers, then waits on its standard input for job requests. For each request it forks::

    standby ──fork──▶ job leader   its own session; the job's output and cwd; claims the job; its state
                          └──fork──▶ builder   the job's environment; runs ``python -m MODULE ARGS`` (or ``python
                                               SCRIPT ARGS``) via runpy

**Why this is safe.** The standby never runs a job itself, so every job starts from a copy of the same pristine,
never-used interpreter state, exactly as if it had been started and had imported the same modules. The leader
changes into the job's directory and points stdin at ``/dev/null`` and stdout/stderr at the job's log; before any job
code runs, the builder replaces ``os.environ`` wholesale with the job's environment (and re-reads ``TZ``, forgets the
cached temporary directory). What a fork cannot change is what the interpreter decided at start-up: ``sys.path``,
``sys.flags``, the stdio encoding and the hash seed. The caller therefore starts standbys with the jobs' environment
and uses them only while the variables that feed those decisions (``PYTHON*``, ``LANG``, ``LC_ALL``, ``LC_CTYPE``; see
:func:`interpreter_environment`) are the same; jobs forked from one standby share its hash seed and memory layout.
A request carries no secret (the job's key stays in its file), so what a request leaves in the standby's memory tells
a later job nothing it is not given anyway. A standby runs the code it imported when it started.

**The leader** does what the local runner's shell wrapper does: it leads the job's process group, forwards
SIGTERM/SIGINT to the builder and SIGKILLs it after the grace period, writes the builder's exit code (128 + n when
killed by signal n) to the exit file when it ends, then kills whatever is left in the group. Before the builder
starts it *claims* the job (creates the claim file exclusively: if the caller gave up waiting and claimed the job for
a cold start, the leader backs off) and writes the state file ``{pid, startTime, …}``; the standby answers only
after that, so the state file exists when the caller hears back.

**Protocol** (standard input → standby, standard output ← standby; one JSON object per line)::

    ← {"ready": true, "pid": N}                                  once, when preloaded
    → {"module": "builder" | "script": PATH, "argv": [ARG, …], "cwd": DIR, "env": {NAME: VALUE},
       "output": LOG, "claimFile": PATH, "stateFile": PATH, "exitFile": PATH, "graceSeconds": 120,
       "state": {extra fields for the state file}}
    ← {"pid": LEADER_PID}  |  {"claimed": false}  (someone else runs the job)  |  {"error": "…"}

**Lifetime.** The standby exits when its standard input reaches end of file (its parent closed the pipe or died)
and is SIGKILLed when the thread that started it ends (``PR_SET_PDEATHSIG``), so idle standbys never outlive their
parent. The jobs it launched do outlive it, like cold-started ones: a fork does not inherit the death signal.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import Any, NoReturn

# What ``python -m builder job`` imports on its way to the first stage (and a little after): loaded once here. Not
# ``builder.__main__`` itself: runpy executes it afresh anyway, and warns into the job's log when it was imported.
JOB_MODULES = (
    "builder.job",
    "builder.console",
    "builder.envvars",
    "builder.executors",
    "builder.executors.host",
    "builder.gitclone",
    "builder.manifest.extensions",
    "builder.manifest.when",
    "builder.plan",
    "builder.reporting",
    "builder.runner",
    "builder.secrets",
    "argparse",
    "http.client",
    "pkgutil",  # runpy imports it on first use
    "resource",  # a stage's resource usage (builder.usage)
    "runpy",
    "yaml",  # for stages with custom properties (extensions)
    # The first connection to the API resolves its host name through the IDNA codec, which imports it (with
    # stringprep and unicodedata): ~2 ms of CPU in every job when not loaded here.
    "encodings.idna",
)
# What a job with secrets adds (``builder.secrets``): not preloaded, since ``cryptography`` holds ~8 MB resident in a
# standby that stays up for good, and most jobs have no secrets. The first job whose configuration holds an envelope
# loads it in the standby before the fork (~9 ms of CPU, once), so that job and every later one find it loaded
# (``load_for``); an installation without secrets never holds it.
SECRET_MODULES = ("cryptography.hazmat.primitives.ciphers.aead", "cryptography.exceptions")
SECRET_MARK = b"estafette.secret("  # how every envelope starts (``builder.secrets.ENVELOPE_PATTERN``)
DOCKER_MODULES = ("builder.executors.container", "docker", "docker.errors")

LEADER_READY_TIMEOUT = 10.0  # how long the standby waits for a leader to claim its job and write its state
_PR_SET_PDEATHSIG = 1
_INTERPRETER_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE")


class StandbyError(Exception):
    """A request the standby cannot act on (malformed, or the fork failed)."""


def interpreter_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables a Python interpreter reads once, at start-up: a standby can run a job only if they match."""
    return {
        name: value for name, value in environ.items() if name.startswith("PYTHON") or name in _INTERPRETER_VARIABLES
    }


# --- the standby --------------------------------------------------------------------------------------------------


def preload(environ: Mapping[str, str] = os.environ) -> None:
    """Import what a job needs and compile the wire types' parsers, without starting any thread (forks follow)."""
    for name in JOB_MODULES:
        importlib.import_module(name)
    if (environ.get("ESTAFETTE_BUILDER_EXECUTOR") or "auto").strip().lower() != "host":
        for name in DOCKER_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
    if (environ.get("ESTAFETTE_BUILDER_EXECUTOR") or "auto").strip().lower() != "docker":
        # Whether stages can be sandboxed here is tried by starting a sandbox (~10 ms): once, for every job forked.
        from builder.executors.sandbox import sandbox_support

        sandbox_support()
    from builder import contracts
    from builder.job import job_argument_parser

    job_argument_parser()
    # The first user lookup in a process loads the C library's name service modules (``nsswitch.conf``): the host
    # executor looks the run's uid up in every job.
    with contextlib.suppress(KeyError):
        import pwd

        pwd.getpwuid(os.getuid())
    # Each wire type compiles its parser on first use (~1 ms each); parsing an empty object does it and fails.
    for value in vars(contracts).values():
        if isinstance(value, type) and issubclass(value, contracts.Wire) and value is not contracts.Wire:
            value._field_specs()
            with contextlib.suppress(contracts.ContractError):
                value.from_dict({})


def load_for(job: _JobRequest) -> None:
    """Load ``SECRET_MODULES`` before forking ``job`` if its configuration (``--config FILE``) holds a secret.

    The file is only searched for the envelopes' mark: it is read by the job again, and what it holds is what the
    job's own key decrypts (the key stays in its file), so a later job learns nothing from it."""
    if SECRET_MODULES[0] in sys.modules:
        return
    try:
        config = job.argv[job.argv.index("--config") + 1]
    except (ValueError, IndexError):
        return
    try:
        with open(os.path.join(job.cwd, config), "rb") as file:
            holds_secrets = SECRET_MARK in file.read()
    except OSError:
        return  # the job reports its unreadable configuration itself
    if holds_secrets:
        for name in SECRET_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        gc.collect()
        gc.freeze()  # as after ``preload``: the jobs' collectors leave the new modules' objects alone


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent ends; exit now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before the request took effect
        os._exit(0)


def serve(*, parent_pid: int | None = None, requests: int = 0, replies: int = 1) -> int:
    """Answer job requests from the file descriptor ``requests`` until end of file; the process exit code."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    signal.signal(signal.SIGCHLD, _reap_children)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is for the parent; it closes our pipe
    preload()
    # What is loaded now is shared with every job as copy-on-write memory. The cyclic garbage collector of a
    # job would walk (and so write to, and copy) all of it; frozen, it is left alone.
    gc.collect()
    gc.freeze()
    _send(replies, {"ready": True, "pid": os.getpid()})
    lines = os.fdopen(requests, "rb", closefd=False)
    while line := lines.readline():
        try:
            reply = launch(json.loads(line))
        except (StandbyError, ValueError, TypeError, KeyError) as error:
            reply = {"error": str(error) or type(error).__name__}
        _send(replies, reply)
    return 0


def _send(fd: int, message: Mapping[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def _reap_children(signum: int, frame: FrameType | None) -> None:
    """Collect ended leaders so they do not linger as zombies (the caller reads their exit code from a file)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def launch(request: Mapping[str, Any]) -> dict[str, Any]:
    """Fork a leader for ``request``; ``{"pid": …}`` once it has claimed the job, ``{"claimed": False}`` if it lost."""
    job = _JobRequest.parse(request)
    load_for(job)
    ready_read, ready_write = os.pipe()
    try:
        pid = os.fork()
    except OSError as error:
        os.close(ready_read)
        os.close(ready_write)
        raise StandbyError(f"cannot fork: {error.strerror}") from None
    if pid == 0:  # the leader
        os.close(ready_read)
        _lead(job, ready_write)
    os.close(ready_write)
    try:
        answer = _read_byte(ready_read, LEADER_READY_TIMEOUT)
    finally:
        os.close(ready_read)
    if answer == b"1":
        return {"pid": pid}
    if answer == b"0":
        return {"claimed": False}
    return {"error": "the job's leader did not start"}


def _read_byte(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b""
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            return os.read(fd, 1)


class _JobRequest:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.module: str | None = data.get("module")
        self.script: str | None = data.get("script")
        self.argv: list[str] = [str(arg) for arg in data.get("argv", [])]
        self.cwd: str = data["cwd"]
        self.env: dict[str, str] = {str(k): str(v) for k, v in data["env"].items()}
        self.output: str = data["output"]
        self.claim_file: str = data["claimFile"]
        self.state_file: str = data["stateFile"]
        self.exit_file: str = data["exitFile"]
        self.grace_seconds: float = float(data["graceSeconds"])
        self.state: dict[str, Any] = dict(data.get("state") or {})

    @classmethod
    def parse(cls, data: Any) -> _JobRequest:
        if not isinstance(data, dict):
            raise StandbyError("a job request is a JSON object")
        job = cls(data)
        if (job.module is None) == (job.script is None):
            raise StandbyError("a job request names either a module or a script")
        return job


# --- the job's leader (a fork of the standby) ---------------------------------------------------------------------


def _lead(job: _JobRequest, ready: int) -> NoReturn:
    """Become the job's process group leader, run the builder in a child, supervise it; never returns.

    The leader does as little as it can in Python: every page it writes is a copy-on-write fault of its own, and a
    second one in the builder when the builder writes it again. So the job's environment is applied by the builder
    (:func:`_apply_job_environment`), not here; the leader only needs the job's stdio and directory."""
    code = 1
    grouped = False
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the standby's reaper would steal the builder's exit status
        os.setsid()
        grouped = True
        _apply_process_stdio(job, keep=ready)
        if not _claim(job.claim_file):
            os.write(ready, b"0")
            os._exit(0)
        supervisor = _Supervisor(job.grace_seconds)
        _write_state(job)
        os.write(ready, b"1")
        os.close(ready)
        code = supervisor.run(lambda: _run_builder(job))
        _write_exit_code(job.exit_file, code)
    except BaseException:  # noqa: BLE001 — a leader must never return into the standby's loop
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        if grouped:  # as when a pod ends: whatever the builder left running goes too (this process included)
            with contextlib.suppress(OSError):
                os.killpg(0, signal.SIGKILL)
        os._exit(code)


def _apply_process_stdio(job: _JobRequest, *, keep: int) -> None:
    """The job's stdio and directory; no descriptor of the standby's but ``keep`` stays open."""
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    output = os.open(job.output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.chdir(job.cwd)


def _apply_job_environment(job: _JobRequest) -> None:
    """The job's environment, in the builder before any job code runs (see the module doc)."""
    os.environ.clear()
    os.environ.update(job.env)
    time.tzset()
    import tempfile

    tempfile.tempdir = None  # gettempdir() caches TMPDIR as it was in the standby


def _claim(path: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.write(fd, b"standby\n")
    os.close(fd)
    return True


def _write_state(job: _JobRequest) -> None:
    pid = os.getpid()
    state = {"pid": pid, "startTime": _start_time(pid), **job.state}
    temporary = f"{job.state_file}.{pid}.tmp"
    _write_file(temporary, json.dumps(state).encode())
    os.replace(temporary, job.state_file)


def _write_exit_code(path: str, code: int) -> None:
    temporary = f"{path}.tmp"
    _write_file(temporary, f"{code}\n".encode(), mode=0o666)  # as ``open(path, "w")``: the umask decides
    os.replace(temporary, path)


def _write_file(path: str, data: bytes, *, mode: int = 0o600) -> None:
    """``data`` in a new file, with plain system calls: a buffered text file would build a codec and wrappers in
    the leader, on the way to the job's start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def _start_time(pid: int) -> int | None:
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    return int(raw[raw.rindex(b")") + 2 :].split()[19])  # field 22: start time in clock ticks


class _Supervisor:
    """SIGTERM/SIGINT → SIGTERM the builder, SIGKILL it ``grace`` seconds later (SIGALRM); wait for its end."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.leader = os.getpid()
        self.child: int | None = None
        self.stopping = False
        self.armed = False
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGALRM, self._on_alarm)

    def run(self, builder: Any) -> int:
        pid = os.fork()
        if pid == 0:
            builder()  # never returns
        self.child = pid
        if self.stopping:
            self._terminate()
        while True:
            try:
                _, status = os.waitpid(pid, 0)  # interrupted by our signals: retried (PEP 475)
                break
            except ChildProcessError:
                return 1
        signal.setitimer(signal.ITIMER_REAL, 0)  # a pending SIGKILL must not hit a process that reused the pid
        code = os.waitstatus_to_exitcode(status)
        return 128 - code if code < 0 else code

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self.leader:  # the builder before it reset its handlers: not ours to act on
            return
        self.stopping = True
        if self.child is not None:
            self._terminate()

    def _terminate(self) -> None:
        assert self.child is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child, signal.SIGTERM)
        if not self.armed:
            self.armed = True
            signal.setitimer(signal.ITIMER_REAL, max(self.grace, 0.001))

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() == self.leader and self.child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)


# --- the builder (a fork of the leader) ---------------------------------------------------------------------------


def _run_builder(job: _JobRequest) -> NoReturn:
    """Run the job's module or script as ``__main__`` with its arguments, as a fresh interpreter would; exit."""
    for signum in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    try:
        _apply_job_environment(job)
        import runpy

        if job.module is not None:
            sys.argv = [job.module, *job.argv]
            runpy.run_module(job.module, run_name="__main__", alter_sys=True)
        else:
            assert job.script is not None
            sys.argv = [job.script, *job.argv]
            runpy.run_path(job.script, run_name="__main__")
        code = 0
    except SystemExit as exit_request:
        code = _exit_code(exit_request.code)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:  # noqa: BLE001 — reported like an uncaught exception, then exit 1
        traceback.print_exc()
    finally:
        _join_threads()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _exit_code(value: object) -> int:
    """``sys.exit(value)``'s exit code."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def _join_threads() -> None:
    """Wait for non-daemon threads, as the interpreter does before it exits."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()


def parse_standby_args(argv: Sequence[str]) -> dict[str, Any]:
    import argparse

    parser = argparse.ArgumentParser(
        prog="estafette-builder standby", description="Wait pre-started for job requests on standard input."
    )
    parser.add_argument("--parent-pid", type=int, help="exit when this process (the caller) ends")
    return vars(parser.parse_args(argv))
