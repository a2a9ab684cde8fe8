"""The host executor: a stage's commands run with its shell as a process on the builder's machine.

The image is recorded, not used (so a stage without ``commands``, an extension, cannot run here). Every stage and
service runs in the sandbox of :mod:`builder.executors.sandbox`: an unprivileged uid in a user namespace, no
capabilities, a read-only system and only its workspace writable (at its ``workDir``), ``/etc/hosts`` extended with
the names of the run's services (they listen on the host network, so ``svc:8080`` reaches ``127.0.0.1:8080``). It
never sees the data dir, other jobs, the builder's configuration or environment.

Where no sandbox can be made, the executor refuses to start unless the operator opted in
(``ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED=true``, ``allow_unsandboxed``): then stages run as the builder's own user in
the workspace directory, seeing what it sees, and service names do not resolve.

A process gets only the variables Estafette defines and the stage's own (:meth:`HostExecutor.process_env`): sandboxed,
``PATH`` and ``HOME=/tmp`` besides; unsandboxed, the builder's ``PATH``, ``HOME``, ``LANG``, ``LC_ALL``, ``TERM``,
``TZ`` and ``USER``. Never the builder's ``ESTAFETTE_*`` variables.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from builder.contracts import Credential, ImageInfo
from builder.entrypoint import entrypoint_filename, generate_entrypoint
from builder.executors.base import STOP_GRACE_SECONDS, ContainerSpec, ExecutorError, OutputHandler, split_image
from builder.executors.sandbox import (
    BWRAP,
    ENTRYPOINT_DIR,
    SANDBOX_HOME,
    UNSANDBOXED_VARIABLE,
    Sandbox,
    SandboxError,
    become_subreaper,
    new_sandbox_uid,
    passwd_files,
    sandbox_support,
)
from builder.usage import StageUsage

INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TZ", "USER")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Hidden even where a stage could see them (an operator's read-only path): container engines' sockets, Estafette's
# key mounts in a pod.
DEFAULT_HIDDEN_PATHS = ("/var/run/docker.sock", "/run/docker.sock", "/run/podman", "/secrets", "/configs")


def bwrap_available() -> bool:
    """Whether stages can be sandboxed on this machine (bwrap and user namespaces work)."""
    return sandbox_support().available


class _MeasuredPopen(subprocess.Popen[bytes]):
    """``Popen`` that keeps the child's resource usage when ``wait()`` reaps it.

    The standard library reaps with ``os.waitpid`` and drops the usage ``os.wait4`` would give; there is no public
    hook, so this overrides ``_try_wait``, CPython's one reaping step of ``wait()`` (unchanged since 3.3), under the
    lock ``wait()`` holds. A child reaped by ``poll()`` (a stop) keeps no usage: ``usage`` stays None.
    """

    usage: Any = None

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:  # as the original: reaped elsewhere; the status is unknown
            return (self.pid, 0)
        if pid == self.pid:
            self.usage = usage
        return (pid, status)


class HostProcess:
    """A stage or service running as a host process group. Output is read by two threads until both pipes close."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str,
        output: OutputHandler,
        info_pipe: tuple[int, int] | None = None,
        command_pid: Callable[[int], int | None] | None = None,
        reaps_init: bool = False,
    ) -> None:
        """Start ``argv``. ``info_pipe`` (read end, write end): the sandbox's bwrap writes its JSON to the write end
        (already named in ``argv``), which is closed here once the process started; the read end is kept.
        ``command_pid`` turns the JSON's ``child-pid`` into the host PID of the sandboxed script. ``reaps_init``:
        the nested sandbox, whose outer bwrap leaves its PID namespace's init to this process (see
        :meth:`usage`)."""
        # In the sandbox the script is PID 1 of its namespace (--as-pid-1), as in a container: SIGTERM goes to it
        # alone (its trap forwards it), since bwrap itself would die at once and SIGKILL everything inside.
        info_read, info_write = info_pipe or (-1, -1)
        try:
            self._process = _MeasuredPopen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so stop() reaches every child
                bufsize=0,
                pass_fds=(info_write,) if info_pipe else (),
            )
        except OSError as error:
            if info_pipe:
                os.close(info_read)
            raise ExecutorError(f"cannot start {argv[0]}: {error.strerror}") from error
        finally:
            if info_pipe:
                os.close(info_write)
        self._info_fd = info_read
        self._sandboxed = info_pipe is not None
        self._info_lock = threading.RLock()  # sandboxed_pid() reads the info under it too
        self._info = b""
        self._child_pid: int | None = None
        self._script_pid: int | None = None
        self._command_pid = command_pid or (lambda pid: pid)
        self._reaps_init = reaps_init
        self._init_usage: Any = None
        self._init_reaped = False
        self._readers = [
            threading.Thread(target=_pump, args=(pipe, stream, output), daemon=True, name=f"output-{stream}")
            for pipe, stream in ((self._process.stdout, "stdout"), (self._process.stderr, "stderr"))
        ]
        for reader in self._readers:
            reader.start()
        self._stop_lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reap_init()
        with self._info_lock:
            if self._info_fd >= 0:
                os.close(self._info_fd)
                self._info_fd = -2
        deadline = None if timeout is None else time.monotonic() + timeout
        for reader in self._readers:
            # a daemon a stage left behind may hold the pipes open: don't wait for it forever
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        # a negative code means killed by that signal; report it the way a shell does
        return 128 - code if code < 0 else code

    def usage(self) -> StageUsage | None:
        """CPU time and peak memory of the process and its descendants once ``wait()`` saw it exit, else None.

        Unsandboxed and in the single (unprivileged) sandbox, ``wait4`` on the process says it all: every process of
        the stage is reaped by its parent up to the one the builder started (bwrap with ``--as-pid-1`` waits for the
        stage). The nested sandbox (as root) needs one more step: the outer bwrap's monitor exits as soon as its
        PID namespace's init *reports* the stage's exit, without reaping that init, so the stage's usage would go
        with the init to whoever adopts it (measured before: a 0.3 s busy loop showed as 0.002 s). The builder
        adopts it (a child subreaper, :func:`become_subreaper`) and reaps it by its PID from bwrap's info
        (:meth:`_reap_init`): its usage holds the whole stage, reaped inside the namespaces.

        Why not a cgroup per stage (``cpu.stat`` ``usage_usec``, ``memory.peak``, which would also sum a tree's
        memory): it exists only where the builder may create cgroups with the cpu and memory controllers, and
        neither place it runs offers that. On this project's CI machines cgroup v2 is the hybrid ``unified`` tree
        without controllers (memory is v1's); in a Kubernetes job pod the runtime mounts ``/sys/fs/cgroup``
        read-only for a container that is not privileged, which job pods are not. ``wait4`` works everywhere, at
        no cost (no extra process per stage). Its limits: the peak memory is the largest resident set of one process
        of the stage, not the sum of processes running at once; and the process the builder starts keeps the
        builder's own peak across its exec (Linux keeps the larger of the old and the new address space's peaks, and
        the child shares the builder's until it execs), so unsandboxed and in the single sandbox a stage's peak is
        at least the builder's (~30 MiB). The nested sandbox's init is forked after bwrap's exec: its peak is the
        stage's alone.
        """
        usage = self._process.usage
        if usage is None:
            return None
        measured = StageUsage.from_rusage(usage)
        if not self._reaps_init:
            return measured
        if self._init_usage is None:  # the init could not be reaped here: its CPU time is unknown
            return StageUsage(None, measured.memory_max_bytes)
        inner = StageUsage.from_rusage(self._init_usage)
        assert measured.cpu_seconds is not None and inner.cpu_seconds is not None
        # The peak of the init's tree alone: bwrap's own is the builder's (see above), the init started after exec.
        return StageUsage(measured.cpu_seconds + inner.cpu_seconds, inner.memory_max_bytes)

    def _reap_init(self) -> None:
        """Reap the nested sandbox's init, now a child of the builder, once bwrap has exited (keeping its usage).

        Its PID comes from bwrap's info (read to its end: bwrap wrote it before it started the stage). It is our
        child only if the builder adopted it (a subreaper): otherwise it is left alone, since a PID that is not
        ours may already name another process. The monitor's exit SIGKILLs the init (bwrap's ``--die-with-parent``),
        which kills what is left in its namespace; it is killed here too in case it is still running.
        """
        if not self._reaps_init:
            return
        with self._info_lock:  # wait() and a stop() on another thread may both get here
            if self._init_reaped:
                return
            self._read_info(timeout=STOP_GRACE_SECONDS)
            init = self._child_pid
            if init is None:
                return
            self._init_reaped = True
            try:
                pid, _, usage = os.wait4(init, os.WNOHANG)
                if pid == 0:  # ours and still running
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(init, signal.SIGKILL)
                    _, _, usage = os.wait4(init, 0)
            except ChildProcessError:  # not adopted (no subreaper): its usage is lost
                return
            self._init_usage = usage

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        with self._stop_lock:
            if self._process.poll() is not None:
                self._kill_group(signal.SIGKILL)  # stray children of an exited stage
                self._reap_init()
                return
            self._terminate()
            try:
                self._process.wait(grace)
            except subprocess.TimeoutExpired:
                self._kill_group(signal.SIGKILL)
                self._process.wait()
            self._kill_group(signal.SIGKILL)
            self._reap_init()

    def _terminate(self) -> None:
        if self._info_fd == -1:  # not sandboxed
            self._kill_group(signal.SIGTERM)
            return
        pid = self.sandboxed_pid(timeout=STOP_GRACE_SECONDS)
        if pid is None:
            self._kill_group(signal.SIGKILL)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)

    def sandboxed_pid(self, timeout: float = 2.0) -> int | None:
        """The PID (outside the sandbox) of the script, from bwrap's --info-fd JSON; ``None`` until bwrap wrote it.

        bwrap writes the JSON in several writes and then closes its end: the pipe is read to its end before it is
        closed, since closing it early kills bwrap with SIGPIPE in the middle of setting up the sandbox.
        """
        deadline = time.monotonic() + timeout
        with self._info_lock:
            self._read_info(timeout)
            while self._script_pid is None and self._child_pid is not None and self._process.poll() is None:
                self._script_pid = self._command_pid(self._child_pid)
                if self._script_pid is None:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.005)  # the nested sandbox is still starting its command
            return self._script_pid

    def _read_info(self, timeout: float) -> None:
        """Read bwrap's info JSON to its end, for at most ``timeout`` seconds; sets ``_child_pid`` when complete."""
        import json
        import select

        with self._info_lock:
            deadline = time.monotonic() + timeout
            while self._child_pid is None and self._info_fd >= 0:
                ready, _, _ = select.select([self._info_fd], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    break  # not written yet: keep the pipe open and try again later
                data = os.read(self._info_fd, 65536)
                if data:
                    self._info += data
                    continue
                os.close(self._info_fd)
                self._info_fd = -2
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    self._child_pid = int(json.loads(self._info)["child-pid"])

    def _kill_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)


def _pump(pipe: object, stream: str, output: OutputHandler) -> None:
    fd = pipe.fileno()  # type: ignore[attr-defined]
    try:
        while True:
            data = os.read(fd, 65536)
            if not data:
                break
            output(stream, data)  # type: ignore[arg-type]
    finally:
        pipe.close()  # type: ignore[attr-defined]


def _has_exec_started(pid: int) -> bool:
    """Whether bwrap's child has finished setting up and exec'd the script.

    Before that its mount namespace still shows the host's file system, so a probe entering it could pass wrongly.
    """
    try:
        return os.readlink(f"/proc/{pid}/exe") != os.path.realpath(BWRAP)
    except OSError:
        return False


class _HostContainer:
    def __init__(self, executor: HostExecutor, spec: ContainerSpec, process: HostProcess, cwd: str) -> None:
        self._executor = executor
        self._spec = spec
        self._process = process
        self._cwd = cwd

    def wait(self, timeout: float | None = None) -> int | None:
        return self._process.wait(timeout)

    def usage(self) -> StageUsage | None:
        return self._process.usage()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._process.stop(grace)

    def exec(self, command: Sequence[str], *, timeout: float) -> int:
        argv, keep = list(command), ()
        sandbox = self._executor.sandbox_for_run
        if sandbox is not None:
            # enter the running sandbox (its own /tmp, its work dir, its processes), as docker exec does
            pid = self._process.sandboxed_pid()
            if pid is None or not _has_exec_started(pid):
                return -1
            try:
                argv, fd = sandbox.exec_argv(pid, command)
            except OSError:
                return -1
            keep = (fd,)
        try:
            result = subprocess.run(
                argv,
                env=self._executor.process_env(self._spec.env),
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
                pass_fds=keep,
            )
        except (subprocess.TimeoutExpired, OSError):
            return -1
        finally:
            for fd in keep:
                os.close(fd)
        return result.returncode

    def address(self) -> str:
        return "127.0.0.1"


_T = TypeVar("_T")


class _Spawner:
    """One long-lived thread that runs the calls handed to it, one at a time, and gives each caller its result.

    A one-worker ``ThreadPoolExecutor`` would do, but ``concurrent.futures`` imports ``logging``: ~5 ms of the
    builder's start-up, on the way to the first stage.
    """

    def __init__(self) -> None:
        self._calls: deque[tuple[Callable[[], Any], list[Any], threading.Event]] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="host-spawner", daemon=True)
        self._thread.start()

    def call(self, function: Callable[[], _T]) -> _T:
        """``function()`` run on the spawner's thread; its exception is raised here."""
        outcome: list[Any] = []
        done = threading.Event()
        with self._wake:
            if self._closed:
                raise RuntimeError("the host spawner is shut down")
            self._calls.append((function, outcome, done))
            self._wake.notify()
        done.wait()
        value, error = outcome
        if error is not None:
            raise error
        return value  # type: ignore[no-any-return]

    def shutdown(self) -> None:
        """Run what was handed in already, then end the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _serve(self) -> None:
        while True:
            with self._wake:
                while not self._calls and not self._closed:
                    self._wake.wait()
                if not self._calls:
                    return
                function, outcome, done = self._calls.popleft()
            try:
                outcome[:] = [function(), None]
            except BaseException as error:  # noqa: BLE001 — handed to the caller, who raises it
                outcome[:] = [None, error]
            done.set()


class HostExecutor:
    """Runs stages as host processes in the sandbox.

    ``sandbox``: ``None`` → sandboxed where this machine can (:func:`sandbox_support`), ``True`` → sandboxed or
    :class:`ExecutorError`, ``False`` → never (tests of stage semantics; the operator's opt-in). Without a sandbox
    and without ``allow_unsandboxed`` the constructor raises :class:`ExecutorError` saying why. As root, stages run as
    a fresh uid per run, which gets the workspace directory; with ``working_copy`` (local mode) as its owner.
    """

    name = "host"

    def __init__(
        self,
        *,
        sandbox: bool | None = None,
        allow_unsandboxed: bool = False,
        hidden_paths: Sequence[str | Path] = (),
        read_only_paths: Sequence[str] = (),
        working_copy: Path | None = None,
    ) -> None:
        support = sandbox_support() if sandbox is not False else None
        if sandbox is True and support is not None and not support.available:
            raise ExecutorError(f"cannot sandbox stages on this machine: {support.reason}")
        self.sandbox = bool(support is not None and support.available)
        if not self.sandbox and sandbox is None and not allow_unsandboxed:
            reason = support.reason if support is not None else "sandboxing is off"
            raise ExecutorError(
                f"the host executor refuses to run this build: it cannot sandbox stages on this machine ({reason}). "
                "Install bubblewrap 0.8+ and allow unprivileged user namespaces, use the docker executor, or set "
                f"{UNSANDBOXED_VARIABLE}=true to run stages unsandboxed, as {_user_name()} with all its access"
            )
        self.unsandboxed_reason = "" if self.sandbox else (support.reason if support else "sandboxing is off")
        self._hidden = [str(path) for path in (*DEFAULT_HIDDEN_PATHS, *hidden_paths)]
        self._read_only = list(read_only_paths)
        self._shown_for_run: list[str] = []  # show_read_only's: shown until the run closes, not to the next run
        # Local mode runs in a developer's working copy: as root, stages run as its owner (a fresh uid when that is
        # root), and it is never handed to another uid.
        self._working_copy = working_copy
        self.sandbox_for_run: Sandbox | None = None
        self._runtime: Path | None = None
        self._etc_files: dict[str, Path] = {}
        self._prepared: set[Path] = set()
        self._service_names: list[str] = []
        self._containers: list[_HostContainer] = []
        self._lock = threading.Lock()
        self._spawn_thread: _Spawner | None = None
        self._adopts_orphans = False

    def describe(self) -> str:
        """One line for the build log: how stages run."""
        if self.sandbox_for_run is not None and self.sandbox_for_run.uid is not None:
            return f"host (sandboxed: bwrap, uid {self.sandbox_for_run.uid}, user namespace)"
        if self.sandbox:
            return f"host (sandboxed: bwrap, uid {os.getuid()}, user namespace)"
        return (
            f"host (UNSANDBOXED: {self.unsandboxed_reason}; stages run as {_user_name()} with all its access, "
            f"as {UNSANDBOXED_VARIABLE}=true allows)"
        )

    # --- lifecycle ----------------------------------------------------------------------------------------------------

    def open(self, *, run_id: str) -> None:
        self._runtime = Path(tempfile.mkdtemp(prefix=f"estafette-host-{_slug(run_id)}-"))
        if not self.sandbox:
            return
        owner = os.stat(self._working_copy).st_uid if self._working_copy is not None else 0
        uid = (owner or new_sandbox_uid()) if os.geteuid() == 0 else None
        try:
            self.sandbox_for_run = Sandbox(uid=uid, read_only_paths=self._read_only, hidden_paths=self._hidden)
        except SandboxError as error:
            raise ExecutorError(str(error)) from error
        if uid is not None and not _has_user(uid):
            self._etc_files = passwd_files(self._runtime, uid)
        if uid is not None:
            # The nested sandbox leaves its init to be reaped by whoever adopts it (see HostProcess.usage).
            self._adopts_orphans = become_subreaper()

    def close(self) -> None:
        with self._lock:
            containers, self._containers = self._containers, []
            self._service_names = []
        for container in containers:
            container.stop(0)
        with self._lock:
            spawner, self._spawn_thread = self._spawn_thread, None
        if spawner is not None:
            spawner.shutdown()
        if self._runtime is not None:
            shutil.rmtree(self._runtime, ignore_errors=True)
            self._runtime = None
        self._read_only = [path for path in self._read_only if path not in self._shown_for_run]
        self._shown_for_run = []

    def show_read_only(self, path: Path) -> None:
        """Show ``path`` read-only, at the same place, to every stage and service of the run started from now on: the
        objects directory a local clone borrows (builder/gitclone.py), which git in later stages reads. Raises
        :class:`ExecutorError` if it cannot be shown (a hidden path)."""
        if str(path) not in self._read_only:
            self._read_only.append(str(path))  # for the sandbox of a run not opened yet
            self._shown_for_run.append(str(path))
        if self.sandbox_for_run is None:
            return
        try:
            self.sandbox_for_run.show_read_only(str(path))
        except SandboxError as error:
            raise ExecutorError(str(error)) from error

    def pull(self, image: str, *, credentials: Sequence[Credential] = ()) -> ImageInfo:
        name, tag = split_image(image)
        return ImageInfo(name=name, tag=tag, is_pulled=False)

    # --- start --------------------------------------------------------------------------------------------------------

    def start(self, spec: ContainerSpec, output: OutputHandler) -> _HostContainer:
        if not spec.commands and spec.script is None:
            raise ExecutorError(
                f"{spec.name} has no commands: the host executor cannot run the entrypoint of image {spec.image}; "
                "set ESTAFETTE_BUILDER_EXECUTOR=docker with a container engine available"
            )
        if self._runtime is None:
            self.open(run_id="run")
        assert self._runtime is not None
        if not shutil.which(spec.shell) and not os.access(spec.shell, os.X_OK):
            raise ExecutorError(f"shell {spec.shell} of {spec.name} does not exist on this host")
        directory = Path(tempfile.mkdtemp(prefix="c-", dir=self._runtime))
        directory.chmod(0o755)  # the sandbox's uid reads the script; the runtime directory around it stays 0700
        script = directory / entrypoint_filename(spec.shell)
        script.write_text(
            spec.script
            if spec.script is not None
            else generate_entrypoint(
                shell=spec.shell, commands=spec.commands, run_in_foreground=spec.run_commands_in_foreground
            )
        )
        script.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        with self._lock:
            if spec.network_alias:
                self._service_names.append(spec.network_alias)
            services = list(self._service_names)
        env = self.process_env(spec.env)
        sandbox = self.sandbox_for_run
        if sandbox is not None and self._working_copy is None:
            self._prepare_workspace(sandbox, spec.workspace)
        cwd = "/" if sandbox is not None else str(spec.workspace)  # bwrap changes into the work dir itself

        def spawn() -> HostProcess:
            if sandbox is None:
                return HostProcess([str(script)], env=env, cwd=cwd, output=output)
            command = [f"{ENTRYPOINT_DIR}/{script.name}"]
            return self._spawn(sandbox, spec, command, env=env, output=output, script_dir=directory, services=services)

        # bwrap's --die-with-parent fires when the *thread* that started it ends (PR_SET_PDEATHSIG), and services
        # are started from short-lived threads: every process is spawned from one long-lived thread instead.
        process = self._spawner().call(spawn)
        container = _HostContainer(self, spec, process, cwd)
        with self._lock:
            self._containers.append(container)
        return container

    def _spawn(
        self,
        sandbox: Sandbox,
        spec: ContainerSpec,
        command: list[str],
        *,
        env: dict[str, str],
        output: OutputHandler,
        script_dir: Path,
        services: list[str],
    ) -> HostProcess:
        etc_files = dict(self._etc_files)
        if services:
            etc_files["hosts"] = self._hosts_file(script_dir, services)
        info_read, info_write = os.pipe()
        try:
            argv = sandbox.argv(
                workspace=spec.workspace,
                work_dir=sandbox.work_dir_for(spec.work_dir, spec.workspace),
                command=command,
                script_dir=script_dir,
                credentials_dir=spec.credentials_dir,
                etc_files=etc_files,
                read_only_paths=[str(path) for path in spec.read_only_paths],
                info_fd=info_write,
            )
        except SandboxError as error:
            os.close(info_read)
            os.close(info_write)
            raise ExecutorError(str(error)) from error
        return HostProcess(
            argv,
            env=env,
            cwd="/",
            output=output,
            info_pipe=(info_read, info_write),
            command_pid=sandbox.command_pid,
            reaps_init=sandbox.uid is not None and self._adopts_orphans,
        )

    def _prepare_workspace(self, sandbox: Sandbox, workspace: Path) -> None:
        with self._lock:
            if workspace in self._prepared:
                return
            self._prepared.add(workspace)
        try:
            sandbox.prepare_workspace(workspace)
        except OSError as error:
            raise ExecutorError(f"cannot give the workspace {workspace} to the sandbox: {error.strerror}") from error

    @staticmethod
    def _hosts_file(directory: Path, services: list[str]) -> Path:
        hosts = directory / "hosts"
        try:
            original = Path("/etc/hosts").read_text()
        except OSError:
            original = "127.0.0.1\tlocalhost\n"
        hosts.write_text(original.rstrip("\n") + "\n127.0.0.1\t" + " ".join(services) + "\n")
        hosts.chmod(0o644)
        return hosts

    def _spawner(self) -> _Spawner:
        with self._lock:
            if self._spawn_thread is None:
                self._spawn_thread = _Spawner()
            return self._spawn_thread

    def process_env(self, env: dict[str, str] | object) -> dict[str, str]:
        """What a process of the run gets: the stage's own variables (Estafette's ``ESTAFETTE_*`` among them) over a
        minimal base; nothing else of the builder's environment."""
        if self.sandbox:
            base = {"PATH": DEFAULT_PATH, "HOME": SANDBOX_HOME}
        else:
            base = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
            base.setdefault("PATH", DEFAULT_PATH)
        base.update(env)  # type: ignore[call-overload]
        return base


def _has_user(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _user_name() -> str:
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text)[:40] or "run"
