"""The host executor: a stage's commands run with its shell as a process on the builder's machine.

The image is recorded, not used (so a stage without ``commands``, an extension, cannot run here). Where
``/usr/bin/bwrap`` exists every stage and service runs sandboxed: the host's root file system read-only, its own
``/tmp``, PID, IPC and UTS namespaces, the workspace mounted read-write at the stage's ``workDir``, ``/etc/hosts``
extended with the names of the run's services (they listen on the host network, so ``svc:8080`` reaches
``127.0.0.1:8080``), and the paths given as ``hidden_paths`` (the job's configuration and key, container engine
sockets) replaced by empty ones. Without bwrap the process runs in the workspace directory unsandboxed and service
names do not resolve.

Processes never inherit the builder's ``ESTAFETTE_*`` variables: only ``PATH``, ``HOME``, ``LANG``, ``LC_ALL``,
``TERM``, ``TZ`` and ``USER`` of the builder, then the stage's environment.
"""

from __future__ import annotations

import contextlib
import os
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

BWRAP = "/usr/bin/bwrap"
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "TZ", "USER")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_HIDDEN_PATHS = ("/var/run/docker.sock", "/run/docker.sock", "/run/podman", "/secrets", "/configs")
_NOT_BOUND = {"proc", "dev", "tmp", "sys"}


def bwrap_available() -> bool:
    return os.access(BWRAP, os.X_OK)


class HostProcess:
    """A stage or service running as a host process group. Output is read by two threads until both pipes close."""

    def __init__(
        self, argv: list[str], *, env: dict[str, str], cwd: str, output: OutputHandler, sandboxed: bool = False
    ) -> None:
        # In a bwrap sandbox the script is PID 1 of its namespace (--as-pid-1), as in a container: SIGTERM goes to
        # it alone (its trap forwards it), since bwrap itself would die at once and SIGKILL everything inside.
        info_read, info_write = os.pipe() if sandboxed else (-1, -1)
        if sandboxed:
            argv = [argv[0], "--as-pid-1", "--info-fd", str(info_write), *argv[1:]]
        try:
            self._process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so stop() reaches every child
                bufsize=0,
                pass_fds=(info_write,) if sandboxed else (),
            )
        except OSError as error:
            raise ExecutorError(f"cannot start {argv[0]}: {error.strerror}") from error
        finally:
            if sandboxed:
                os.close(info_write)
        self._info_fd = info_read
        self._info_lock = threading.Lock()
        self._info = b""
        self._script_pid: int | None = None
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

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        with self._stop_lock:
            if self._process.poll() is not None:
                self._kill_group(signal.SIGKILL)  # stray children of an exited stage
                return
            self._terminate()
            try:
                self._process.wait(grace)
            except subprocess.TimeoutExpired:
                self._kill_group(signal.SIGKILL)
                self._process.wait()
            self._kill_group(signal.SIGKILL)

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
        import json
        import select

        with self._info_lock:
            deadline = time.monotonic() + timeout
            while self._script_pid is None and self._info_fd >= 0:
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
                    self._script_pid = int(json.loads(self._info)["child-pid"])
            return self._script_pid

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
    def __init__(self, executor: HostExecutor, spec: ContainerSpec, process: HostProcess, sandbox_argv: list[str]):
        self._executor = executor
        self._spec = spec
        self._process = process
        self._sandbox_argv = sandbox_argv

    def wait(self, timeout: float | None = None) -> int | None:
        return self._process.wait(timeout)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._process.stop(grace)

    def exec(self, command: Sequence[str], *, timeout: float) -> int:
        argv = list(command)
        if self._sandbox_argv:
            # enter the running sandbox's mount and PID namespaces (its own /tmp, its work dir), as docker exec does
            pid = self._process.sandboxed_pid()
            if pid is None or not _has_exec_started(pid):
                return -1
            argv = ["nsenter", "-t", str(pid), "-m", "-p", "-w", "--", *command]
        try:
            result = subprocess.run(
                argv,
                env=self._executor.process_env(self._spec.env),
                cwd=self._executor.cwd_for(self._spec),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except (subprocess.TimeoutExpired, OSError):
            return -1
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
    """Runs stages as host processes, sandboxed with bwrap when available (``sandbox=None`` → when available)."""

    name = "host"

    def __init__(self, *, sandbox: bool | None = None, hidden_paths: Sequence[str | Path] = ()) -> None:
        self.sandbox = bwrap_available() if sandbox is None else sandbox
        if self.sandbox and not bwrap_available():
            raise ExecutorError(f"sandboxing needs {BWRAP} (Debian package bubblewrap)")
        self._hidden = [str(path) for path in (*DEFAULT_HIDDEN_PATHS, *hidden_paths)]
        self._runtime: Path | None = None
        self._service_names: list[str] = []
        self._containers: list[_HostContainer] = []
        self._lock = threading.Lock()
        self._spawn_thread: _Spawner | None = None
        self._root_entries = self._list_root()

    @staticmethod
    def _list_root() -> list[str]:
        try:
            return sorted(os.listdir("/"))
        except OSError:
            return []

    # --- lifecycle ----------------------------------------------------------------------------------------------------

    def open(self, *, run_id: str) -> None:
        self._runtime = Path(tempfile.mkdtemp(prefix=f"estafette-host-{_slug(run_id)}-"))

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

    def pull(self, image: str, *, credentials: Sequence[Credential] = ()) -> ImageInfo:
        name, tag = split_image(image)
        return ImageInfo(name=name, tag=tag, is_pulled=False)

    # --- start --------------------------------------------------------------------------------------------------------

    def start(self, spec: ContainerSpec, output: OutputHandler) -> _HostContainer:
        if not spec.commands:
            raise ExecutorError(
                f"{spec.name} has no commands: the host executor cannot run the entrypoint of image {spec.image}; "
                "set ESTAFETTE_BUILDER_EXECUTOR=docker with a container engine available"
            )
        if self._runtime is None:
            self.open(run_id="run")
        assert self._runtime is not None
        directory = Path(tempfile.mkdtemp(prefix="c-", dir=self._runtime))
        script = directory / entrypoint_filename(spec.shell)
        script.write_text(
            generate_entrypoint(
                shell=spec.shell, commands=spec.commands, run_in_foreground=spec.run_commands_in_foreground
            )
        )
        script.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        if not shutil.which(spec.shell) and not os.access(spec.shell, os.X_OK):
            raise ExecutorError(f"shell {spec.shell} of {spec.name} does not exist on this host")
        with self._lock:
            if spec.network_alias:
                self._service_names.append(spec.network_alias)
            services = list(self._service_names)
        sandbox_argv = self._sandbox_argv(spec, directory, services) if self.sandbox else []
        # bwrap's --die-with-parent fires when the *thread* that started it ends (PR_SET_PDEATHSIG), and services
        # are started from short-lived threads: every process is spawned from one long-lived thread instead.
        argv, env, cwd = [*sandbox_argv, str(script)], self.process_env(spec.env), self.cwd_for(spec)
        process = self._spawner().call(
            lambda: HostProcess(argv, env=env, cwd=cwd, output=output, sandboxed=self.sandbox)
        )
        container = _HostContainer(self, spec, process, sandbox_argv)
        with self._lock:
            self._containers.append(container)
        return container

    def _spawner(self) -> _Spawner:
        with self._lock:
            if self._spawn_thread is None:
                self._spawn_thread = _Spawner()
            return self._spawn_thread

    def process_env(self, env: dict[str, str] | object) -> dict[str, str]:
        base = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
        base.setdefault("PATH", DEFAULT_PATH)
        base.update(env)  # type: ignore[call-overload]
        return base

    def cwd_for(self, spec: ContainerSpec) -> str:
        # bwrap changes into the work dir itself (--chdir); the outer process just needs a directory that exists
        return "/" if self.sandbox else str(spec.workspace)

    def _work_dir_in_sandbox(self, spec: ContainerSpec) -> str:
        """``spec.work_dir`` if bwrap can mount the workspace there, else the workspace's own host path.

        bwrap cannot create a mount point inside a read-only bound host directory (a work dir ``/home/x`` on a host
        that has ``/home``); an existing directory can serve as mount point.
        """
        work_dir = os.path.normpath(spec.work_dir)
        top = work_dir.strip("/").split("/", 1)[0]
        if work_dir == "/" or (top in self._root_entries and not os.path.isdir(work_dir)):
            return str(spec.workspace)
        return work_dir

    def _sandbox_argv(self, spec: ContainerSpec, directory: Path, services: list[str]) -> list[str]:
        argv = [BWRAP, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        for entry in self._root_entries:
            path = f"/{entry}"
            if entry in _NOT_BOUND:
                continue
            if os.path.islink(path):
                argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                argv += ["--ro-bind", path, path]
        argv += ["--ro-bind-try", "/sys", "/sys", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108 — a private /tmp
        for hidden in self._hidden:
            if os.path.isdir(hidden) and not os.path.islink(hidden):
                argv += ["--tmpfs", hidden]
            elif os.path.exists(hidden):
                argv += ["--ro-bind", "/dev/null", hidden]
        if services:
            hosts = directory / "hosts"
            try:
                original = Path("/etc/hosts").read_text()
            except OSError:
                original = "127.0.0.1\tlocalhost\n"
            hosts.write_text(original.rstrip("\n") + "\n127.0.0.1\t" + " ".join(services) + "\n")
            argv += ["--ro-bind", str(hosts), "/etc/hosts"]
        work_dir = self._work_dir_in_sandbox(spec)
        argv += ["--bind", str(spec.workspace), work_dir]
        if spec.credentials_dir is not None:
            argv += ["--ro-bind", str(spec.credentials_dir), "/credentials"]
        argv += ["--ro-bind", str(directory), str(directory), "--chdir", work_dir, "--"]
        return argv


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text)[:40] or "run"
