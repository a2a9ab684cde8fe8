"""``LocalProcessJobRunner``: each job is a builder process on this machine (the single-machine default).

A job's workspace is ``<ESTAFETTE_DATA_DIR>/jobs/<name>/`` (mode 0700)::

    builder-config.json   the BuilderConfig (0600)
    secret-key            the per-job key (0600)
    work/                 the builder's working directory
    job.log               its stdout and stderr
    claim                 who launched the job: ``spawn`` (a cold start) or ``standby``; created exclusively
    job.json              pid and start time of the job's process group leader
    exit-code             written when the builder exits
    canceled              written when cancel was requested

The builder runs under a small ``sh`` wrapper that leads its own process group. The wrapper records
the exit code (so any process — the API, a consumer, one started after a restart — can read the
job's status from the workspace), forwards SIGTERM to the builder and, if the builder has not ended
after the grace period, SIGKILLs it; when the builder ends, whatever it left running in the group is
killed, as when a pod ends. The job does not inherit the server's ``ESTAFETTE_*`` variables (its
secrets and database), only the builder's own ``ESTAFETTE_BUILDER_*`` ones; it reads its
configuration and key from the files above.

**The host executor's sandbox.** A job learns what its stages must never see even where the sandbox shows a tree
they lie in (``ESTAFETTE_BUILDER_SANDBOX_HIDDEN_PATHS``: the data dir, the repository checkout, the server's
configuration file), and, only when the operator set ``ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED=true``, that it may run
stages unsandboxed where no sandbox can be made; ``prestart`` logs that choice once.

**Standbys.** With ``standbys`` > 0 the runner keeps that many pre-started builders (``python -m builder standby``,
see ``builder/standby.py`` and :mod:`estafette.jobs.standby`) that have imported the builder already; ``start``
hands the job to an idle one, which forks a leader doing the wrapper's work in Python and the builder under it, with
the same files, environment, working directory, signals and process group as a cold start. Standbys start with the
first job or ``prestart()``. A job starts cold when no standby is idle (none ready yet, or the command is not
``{python} -m MODULE …`` / ``{python} SCRIPT.py …``).
If a standby took the request but did not answer, the ``claim`` file decides who runs the job, so it never runs
twice. Standbys die with the runner's process; jobs do not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from builder.executors.sandbox import SandboxSupport, sandbox_support
from estafette.jobs.base import JobRunnerError, JobSpec, JobStatus
from estafette.jobs.standby import HandoffFailed, StandbyPool

logger = logging.getLogger(__name__)

DEFAULT_COMMAND: tuple[str, ...] = (
    *("{python}", "-m", "builder", "job", "--config", "{config}"),
    *("--secret-key-file", "{secret_key_file}", "--workspace", "{workdir}"),
)

CONFIG_FILE = "builder-config.json"
KEY_FILE = "secret-key"
WORK_DIR = "work"
LOG_FILE = "job.log"
CLAIM_FILE = "claim"
STATE_FILE = "job.json"
EXIT_FILE = "exit-code"
CANCELED_FILE = "canceled"
UNSANDBOXED_VARIABLE = "ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED"  # read by builder/executors/sandbox.py
HIDDEN_PATHS_VARIABLE = "ESTAFETTE_BUILDER_SANDBOX_HIDDEN_PATHS"
KILL_WAIT_SECONDS = 5  # how long stop_all waits for SIGKILLed jobs to be gone

# $1 grace seconds, $2 exit-code file, then the command. POSIX sh (dash).
WRAPPER = r"""
grace=$1; exit_file=$2; shift 2
"$@" &
child=$!
stop() {
  kill -TERM "$child" 2>/dev/null
  ( sleep "$grace"; kill -KILL "$child" 2>/dev/null ) &
}
trap stop TERM INT
while :; do
  wait "$child"; code=$?
  kill -0 "$child" 2>/dev/null || break
done
printf '%s\n' "$code" > "$exit_file.tmp" && mv "$exit_file.tmp" "$exit_file"
trap - TERM INT
kill -KILL 0 2>/dev/null
"""


class LocalProcessJobRunner:
    """Runs ``command`` (placeholders ``{python}``, ``{config}``, ``{secret_key_file}``, ``{workspace}``,
    ``{workdir}``) per job, in the job's workspace under ``jobs_dir``. ``grace_seconds`` is how long a canceled job
    gets between SIGTERM and SIGKILL. ``standbys`` pre-started builders launch jobs when the command allows it
    (module docstring); ``close()`` stops them (they also end with this process)."""

    def __init__(
        self,
        *,
        jobs_dir: Path,
        command: Sequence[str] = DEFAULT_COMMAND,
        grace_seconds: float = 120,
        python_path: Sequence[Path] = (),
        standbys: int = 0,
        sandbox_hidden_paths: Sequence[Path] = (),
        host_executor_unsandboxed: bool = False,
    ) -> None:
        if not command:
            raise ValueError("the local job command is empty")
        if standbys < 0:
            raise ValueError("the number of standbys cannot be negative")
        self.jobs_dir = Path(jobs_dir)
        self.command = tuple(command)
        self.grace_seconds = grace_seconds
        self.python_path = tuple(python_path)
        self.sandbox_hidden_paths = tuple(str(path) for path in sandbox_hidden_paths)
        self.host_executor_unsandboxed = host_executor_unsandboxed
        self.standby_target = _standby_target(self.command)
        self.standbys: StandbyPool | None = None
        if standbys and self.standby_target is not None:
            self.standbys = StandbyPool(size=standbys, environment=self._base_environment, cwd="/")

    @classmethod
    def from_settings(cls) -> LocalProcessJobRunner:
        from django.conf import settings

        command = shlex.split(settings.LOCAL_JOB_COMMAND) if settings.LOCAL_JOB_COMMAND.strip() else DEFAULT_COMMAND
        return cls(
            jobs_dir=settings.DATA_DIR / "jobs",
            command=command,
            grace_seconds=settings.JOB_CANCEL_GRACE_SECONDS,
            # `python -m builder` must find the repository's builder package from the job's own directory.
            python_path=(settings.BASE_DIR,),
            standbys=settings.LOCAL_JOB_STANDBYS,
            # The data dir (keys, database, every job), the checkout (a .env) and the configuration file.
            sandbox_hidden_paths=[
                settings.DATA_DIR,
                Path(settings.BASE_DIR),
                *([Path(settings.CONFIG_FILE)] if settings.CONFIG_FILE else []),
            ],
            host_executor_unsandboxed=settings.HOST_EXECUTOR_UNSANDBOXED,
        )

    def prestart(self) -> None:
        """Start the standbys now, not with the first job (a process that dispatches jobs can call it at boot), and
        say once whether host-executor jobs can sandbox their stages here, and what happens to them if not."""
        self.log_sandbox_support()
        if self.standbys is not None:
            self.standbys.start()

    def log_sandbox_support(self, probe: Callable[[], SandboxSupport] | None = None) -> None:
        """One log line at start-up: stages sandboxed; or, where no sandbox can be made here, builds refused (error)
        or run unsandboxed by the operator's choice (warning). ``probe`` defaults to the builder's own check."""
        support = (probe or sandbox_support)()
        if support.available:
            logger.info("host executor: stages run sandboxed (bubblewrap, an unprivileged uid per run)")
        elif self.host_executor_unsandboxed:
            logger.warning(
                "%s=true and stages cannot be sandboxed here (%s): builds on the host executor run unsandboxed as "
                "this server's user, with access to its data dir, keys and database",
                UNSANDBOXED_VARIABLE,
                support.reason,
            )
        else:
            logger.error(
                "stages cannot be sandboxed here (%s): builds on the host executor will be refused; install "
                "bubblewrap (apt-get install bubblewrap), use a container engine (ESTAFETTE_BUILDER_EXECUTOR=docker), "
                "or accept the risk with %s=true",
                support.reason,
                UNSANDBOXED_VARIABLE,
            )

    def close(self) -> None:
        """Stop the standbys (running jobs go on). The runner still starts jobs afterwards, cold."""
        standbys, self.standbys = self.standbys, None
        if standbys is not None:
            standbys.close()

    def workspace(self, job_name: str) -> Path:
        if not job_name or "/" in job_name or job_name.startswith("."):
            raise JobRunnerError(f"not a job name: {job_name!r}")
        return self.jobs_dir / job_name

    # --- the protocol ------------------------------------------------------------------------------

    def start(self, spec: JobSpec) -> str:
        """Write the workspace and spawn the job; a job whose workspace exists is left as it is."""
        if spec.operating_system != "linux":
            raise JobRunnerError(f"the local runner runs linux jobs only; {spec.name} wants {spec.operating_system}")
        workspace = self.workspace(spec.name)
        self.jobs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            workspace.mkdir(mode=0o700)  # atomic: of two concurrent starts, one wins
        except FileExistsError:
            return spec.name
        _write_private(workspace / CONFIG_FILE, json.dumps(spec.config, indent=2))
        _write_private(workspace / KEY_FILE, spec.secret_key)
        (workspace / WORK_DIR).mkdir(mode=0o700)
        env = self._environment(spec, workspace)
        if self.standbys is not None and self._hand_to_standby(spec, workspace, env):
            return spec.name
        if not _claim(workspace / CLAIM_FILE, "spawn"):
            return spec.name  # a standby that did not answer in time launched it after all
        self._spawn(spec, workspace, env)
        return spec.name

    def _hand_to_standby(self, spec: JobSpec, workspace: Path, env: dict[str, str]) -> bool:
        """Whether a standby launched the job. False: start it cold (none idle, or the hand-off failed)."""
        assert self.standbys is not None and self.standby_target is not None
        kind, target, skipped = self.standby_target
        request: dict[str, Any] = {
            kind: target,
            "argv": self._command(workspace)[skipped:],
            "cwd": str(workspace / WORK_DIR),
            "env": env,
            "output": str(workspace / LOG_FILE),
            "claimFile": str(workspace / CLAIM_FILE),
            "stateFile": str(workspace / STATE_FILE),
            "exitFile": str(workspace / EXIT_FILE),
            "graceSeconds": self.grace_seconds,
            "state": {"command": self.command[0], "startedBy": "standby"},
        }
        try:
            return self.standbys.launch(request, env=env) is not None
        except HandoffFailed as error:
            logger.warning("job %s: handing it to a standby failed (%s); starting it cold", spec.name, error)
            return False

    def _spawn(self, spec: JobSpec, workspace: Path, env: dict[str, str]) -> None:
        argv = ["/bin/sh", "-c", WRAPPER, "estafette-job", f"{self.grace_seconds:g}", str(workspace / EXIT_FILE)]
        argv += self._command(workspace)
        try:
            with open(workspace / LOG_FILE, "ab") as log:
                process = subprocess.Popen(
                    argv,
                    cwd=workspace / WORK_DIR,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, apart from the server's signals
                )
        except OSError as error:
            raise JobRunnerError(f"cannot start job {spec.name}: {error}") from None
        state = {
            "pid": process.pid,
            "startTime": _start_time(process.pid),
            "command": self.command[0],
            "startedBy": "spawn",
        }
        _write_private(workspace / STATE_FILE, json.dumps(state))
        # Reap the wrapper when it ends, so it does not linger as a zombie of this process.
        threading.Thread(target=process.wait, name=f"reap-{spec.name}", daemon=True).start()

    def status(self, job_name: str) -> JobStatus:
        workspace = self.workspace(job_name)
        if not workspace.is_dir():
            return JobStatus.NOT_FOUND
        if (workspace / CANCELED_FILE).exists():
            return JobStatus.CANCELED
        ended = _ended_status(workspace)
        if ended is not None:
            return ended
        state = _read_state(workspace)
        if state is None:
            return JobStatus.PENDING
        if _alive(state):
            return JobStatus.RUNNING
        # It may have written its exit code between the two looks; without one it was killed outright
        # (or the machine restarted), which is a failure.
        return _ended_status(workspace) or JobStatus.FAILED

    def cancel(self, job_name: str) -> bool:
        """SIGTERM the job; its wrapper SIGKILLs it after the grace period. Returns immediately."""
        workspace = self.workspace(job_name)
        if not workspace.is_dir() or _read_exit_code(workspace) is not None:
            return False
        if (workspace / CANCELED_FILE).exists():
            return True
        (workspace / CANCELED_FILE).write_text("canceled\n")
        state = _read_state(workspace)
        if state is not None and _alive(state):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(state["pid"]), signal.SIGTERM)
        return True

    def cleanup(self, job_name: str) -> None:
        """Kill the job's whole process group if it still runs, then remove the workspace."""
        workspace = self.workspace(job_name)
        if not workspace.exists():
            return
        state = _read_state(workspace)
        if state is not None and _alive(state):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(state["pid"]), signal.SIGKILL)
        shutil.rmtree(workspace, ignore_errors=True)

    def running_jobs(self) -> list[str]:
        """Names of the jobs whose process group leader still runs."""
        if not self.jobs_dir.is_dir():
            return []
        return sorted(
            workspace.name
            for workspace in self.jobs_dir.iterdir()
            if (state := _read_state(workspace)) is not None and _alive(state)
        )

    def stop_all(
        self, *, grace_seconds: float, hurry: threading.Event | None = None, poll_seconds: float = 0.1
    ) -> list[str]:
        """Stop every running job, for shutting the single-machine system down (``make run``'s Ctrl-C).

        Each job gets SIGTERM (the builder stops its stages, as on cancel); the process groups of the jobs still
        running after ``grace_seconds``, or as soon as ``hurry`` is set, get SIGKILL. Jobs that appear while waiting
        are stopped too. Blocks until every job found has ended (at most a few seconds after the SIGKILL: a process
        stuck in the kernel is left behind); returns their names. Unlike ``cancel`` it marks no job canceled: with
        the API down the builder cannot report, so the sweeper fails those runs, saying why, once the system is back.
        """
        hurry = hurry or threading.Event()
        kill_at = time.monotonic() + grace_seconds
        stopped: dict[str, int] = {}
        while True:
            running = {name: leader for name in self.running_jobs() if (leader := self._leader(name)) is not None}
            for name, leader in running.items():
                if name not in stopped:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(leader, signal.SIGTERM)
                    stopped[name] = leader
            now = time.monotonic()
            if not running or now > kill_at + KILL_WAIT_SECONDS:
                return sorted(stopped)
            if hurry.is_set() or now >= kill_at:
                kill_at = min(kill_at, now)
                for leader in running.values():
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(leader, signal.SIGKILL)
                time.sleep(poll_seconds)
            else:
                hurry.wait(poll_seconds)

    def _leader(self, job_name: str) -> int | None:
        state = _read_state(self.workspace(job_name))
        return int(str(state["pid"])) if state is not None else None

    def is_process_alive(self, job_name: str) -> bool:
        """Whether the job's process group leader still runs (for tests and diagnostics)."""
        state = _read_state(self.workspace(job_name))
        return state is not None and _alive(state)

    # --- helpers -------------------------------------------------------------------------------------

    def _command(self, workspace: Path) -> list[str]:
        values = {
            "{python}": sys.executable,
            "{config}": str(workspace / CONFIG_FILE),
            "{secret_key_file}": str(workspace / KEY_FILE),
            "{workspace}": str(workspace),
            "{workdir}": str(workspace / WORK_DIR),
        }
        argv = []
        for template in self.command:
            part = template
            for placeholder, value in values.items():
                part = part.replace(placeholder, value)
            argv.append(part)
        return argv

    def _environment(self, spec: JobSpec, workspace: Path) -> dict[str, str]:
        env = self._base_environment()
        # The same as the command line, for custom commands (the builder reads both).
        env.update(
            BUILDER_CONFIG_PATH=str(workspace / CONFIG_FILE),
            ESTAFETTE_BUILDER_SECRET_KEY_FILE=str(workspace / KEY_FILE),
            ESTAFETTE_BUILDER_WORKSPACE=str(workspace / WORK_DIR),
            ESTAFETTE_BUILDER_JOB_NAME=spec.name,
        )
        return env

    def _base_environment(self) -> dict[str, str]:
        """Every job's environment before its own paths (standbys start with it too)."""
        # The server's settings (ESTAFETTE_*: secret key, database URL, webhook secrets) stay with the server;
        # the builder's own (ESTAFETTE_BUILDER_*, e.g. its executor) are passed on.
        env = {
            k: v
            for k, v in os.environ.items()
            if (k.startswith("ESTAFETTE_BUILDER_") or not k.startswith("ESTAFETTE_")) and k != "DJANGO_SETTINGS_MODULE"
        }
        hidden = [path for path in env.get(HIDDEN_PATHS_VARIABLE, "").split(":") if path]
        hidden += [path for path in self.sandbox_hidden_paths if path not in hidden]
        if hidden:
            env[HIDDEN_PATHS_VARIABLE] = ":".join(hidden)
        if self.host_executor_unsandboxed:  # a server setting, so not passed on with the builder's own
            env[UNSANDBOXED_VARIABLE] = "true"
        python_path = [str(p) for p in self.python_path]
        if env.get("PYTHONPATH"):
            python_path.append(env["PYTHONPATH"])
        if python_path:
            env["PYTHONPATH"] = os.pathsep.join(python_path)
        return env


def _standby_target(command: Sequence[str]) -> tuple[str, str, int] | None:
    """What a standby runs for ``command``: ("module", name, 3) for ``{python} -m name …``, ("script", path, 2) for
    ``{python} path.py …`` (the number: how many leading words that replaces), None when a standby cannot run it."""
    if len(command) < 2 or command[0] not in ("{python}", sys.executable):
        return None
    if command[1] == "-m" and len(command) >= 3 and "{" not in command[2]:
        return ("module", command[2], 3)
    if command[1].endswith(".py") and "{" not in command[1]:
        return ("script", command[1], 2)
    return None


def _claim(path: Path, launcher: str) -> bool:
    """Create ``path`` exclusively: whether this caller is the one to launch the job."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(launcher + "\n")
    return True


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by this user only (0600 from the first byte, not chmod afterwards)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _ended_status(workspace: Path) -> JobStatus | None:
    exit_code = _read_exit_code(workspace)
    if exit_code is None:
        return None
    return JobStatus.SUCCEEDED if exit_code == 0 else JobStatus.FAILED


def _read_exit_code(workspace: Path) -> int | None:
    try:
        return int((workspace / EXIT_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _read_state(workspace: Path) -> Mapping[str, object] | None:
    try:
        return json.loads((workspace / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None  # field 22 of stat: start time in clock ticks


def _alive(state: Mapping[str, object]) -> bool:
    """The recorded process still runs — the same process, not a later one that reused its pid."""
    pid = int(str(state["pid"]))
    fields = _proc_stat(pid)
    if fields is None:
        return False
    if fields[0] in ("Z", "X"):  # exited, waiting to be reaped
        return False
    recorded = state.get("startTime")
    return recorded is None or int(str(recorded)) == int(fields[19])
