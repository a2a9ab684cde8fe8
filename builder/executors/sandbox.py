"""The host executor's sandbox: bubblewrap command lines that run a stage as an unprivileged user in a user namespace.

A stage sees a read-only system (``/usr`` and the merged-usr links, ``/etc``, paths the operator adds), a fresh
``/proc`` of its own PID namespace, a minimal ``/dev``, private ``/tmp``, ``/var/tmp`` and ``/dev/shm``, its
workspace read-write at its work dir, its script read-only at ``/estafette-entrypoint`` and, for trusted images,
``/credentials``. Nothing else of the host: not ``/root``, ``/home``, ``/var``, ``/srv``, ``/opt``, ``/mnt``, the
repository checkout nor the server's data dir (the job's configuration and key, other jobs, the database and keys).
It runs with no capabilities, ``no_new_privs``, in a new session and its own PID, IPC, UTS and cgroup namespaces, and
cannot create user namespaces itself (bwrap's ``--disable-userns``: one less way into kernel code written for root).
The network stays the host's: builds need it, and services listen on it.

**As root** (CI, most single-machine installations) two bwraps nest. ``bwrap --unshare-user`` run as root would map
the stage's user to the real root (it read ``/etc/shadow``), and an unprivileged bwrap can only bind paths its user
can reach (a job's workspace is inside the data dir's 0700 ``jobs/<name>/``; ``--bind-fd`` does not help, bwrap
re-resolves it). So the outer bwrap runs as root without a user namespace and only builds the file system view; then
``setpriv`` drops to the run's own unprivileged uid (no groups, capabilities or bounding set, ``no_new_privs``) and an
inner, unprivileged bwrap makes the user, PID, IPC, UTS and cgroup namespaces. Each run gets its own uid from a high
range (``SANDBOX_UID_BASE``), so runs cannot touch each other's files or processes; the builder gives it the
workspace directory (``chown`` of that directory alone).

**As another user** one unprivileged bwrap is the sandbox. The stage keeps the builder's uid: what protects the
server then is what is not mounted, and the PID namespace, which hides the builder and every other process.

Where no safe sandbox can be made (no bwrap 0.8+, no ``setpriv`` as root, user namespaces disabled or refused),
:func:`sandbox_support` says why, and the host executor refuses untrusted builds unless the operator opted in with
``ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED=true``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
NSENTER = "/usr/bin/nsenter"

UNSANDBOXED_VARIABLE = "ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED"
READ_ONLY_PATHS_VARIABLE = "ESTAFETTE_BUILDER_SANDBOX_READ_ONLY_PATHS"
HIDDEN_PATHS_VARIABLE = "ESTAFETTE_BUILDER_SANDBOX_HIDDEN_PATHS"

# 2^24 uids from 2,000,000,000: far above the ranges distributions and /etc/subuid hand out, below 2^31 (some tools
# still keep uids in a signed int).
SANDBOX_UID_BASE = 2_000_000_000
SANDBOX_UID_COUNT = 1 << 24

ENTRYPOINT_DIR = "/estafette-entrypoint"
CREDENTIALS_DIR = "/credentials"
SANDBOX_HOME = "/tmp"  # noqa: S108 — the sandbox's private /tmp

# The system trees a stage sees (read-only), as the host has them: directories are bound, symlinks (merged /usr)
# re-created. /etc is bound too; its secrets are 0600/0640 and the stage's uid is not their owner.
SYSTEM_TREES = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc")
# The sandbox's own, empty, world-writable (sticky) file systems: not the host's.
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108
# Mount points the sandbox makes itself; a work dir there or inside a read-only tree that lacks it cannot be mounted.
_OWN_MOUNTS = ("/proc", "/dev", *PRIVATE_TMPFS)
_NS_GET_PARENT = 0xB702  # ioctl(2) on a namespace file: the parent user namespace (linux/nsfs.h)
_PR_SET_CHILD_SUBREAPER = 36  # prctl(2) option (linux/prctl.h)


class SandboxError(Exception):
    """The sandbox cannot be set up as asked (a hidden path would hide the system, a path is not absolute...)."""


@dataclass(frozen=True)
class SandboxSupport:
    """Whether this machine can sandbox stages, and if not, why (shown in the build log)."""

    available: bool
    reason: str = ""


_support_cache: dict[str, SandboxSupport] = {}  # one probe per process (a standby's jobs inherit its result)


def sandbox_support(*, refresh: bool = False) -> SandboxSupport:
    """Whether a stage can be sandboxed here; tried once per process by starting a sandbox that runs ``true``.

    A real start, not only a look at the binaries: user namespaces can be disabled by sysctl, refused by AppArmor or
    seccomp (inside a container), or ``/proc`` can be masked so that none can mount its own. ~10 ms; a standby
    computes it before it forks jobs (``builder/standby.py``).
    """
    if _support_cache.get("support") is None or refresh:
        _support_cache["support"] = _probe()
    return _support_cache["support"]


def _probe() -> SandboxSupport:
    if not os.access(BWRAP, os.X_OK):
        return SandboxSupport(False, f"{BWRAP} is missing (Debian package bubblewrap)")
    if os.geteuid() == 0 and not os.access(SETPRIV, os.X_OK):
        return SandboxSupport(False, f"{SETPRIV} is missing (Debian package util-linux)")
    for path, off in (("/proc/sys/user/max_user_namespaces", "0"), ("/proc/sys/kernel/unprivileged_userns_clone", "0")):
        with contextlib.suppress(OSError):
            if Path(path).read_text().strip() == off:
                return SandboxSupport(False, f"user namespaces are disabled ({path} is {off})")
    directory = Path(tempfile.mkdtemp(prefix="estafette-sandbox-probe-"))
    try:
        workspace = directory / "work"
        workspace.mkdir()
        sandbox = Sandbox(uid=new_sandbox_uid() if os.geteuid() == 0 else None)
        sandbox.prepare_workspace(workspace)
        argv = sandbox.argv(workspace=workspace, work_dir="/estafette-work", command=["/bin/sh", "-c", "echo inside"])
        try:
            result = subprocess.run(
                argv, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return SandboxSupport(False, f"bwrap did not run: {error}")
        # What the command printed, not only the exit code: a standby's SIGCHLD handler may reap bwrap first, and
        # subprocess then reports 0 whatever happened.
        if result.returncode != 0 or result.stdout.strip() != "inside":
            text = (result.stderr or result.stdout).strip().splitlines()
            return SandboxSupport(False, f"bwrap failed: {text[-1] if text else f'exit code {result.returncode}'}")
        return SandboxSupport(True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def new_sandbox_uid() -> int:
    """A fresh unprivileged uid for one run (random: two runs sharing one is unlikely, and only weakens isolation)."""
    return SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_COUNT)


def paths_from(environ: Mapping[str, str], name: str) -> list[str]:
    """The absolute paths in the colon-separated variable ``name``. Raises :class:`SandboxError` for a relative one."""
    paths = [part for part in environ.get(name, "").split(":") if part.strip()]
    for path in paths:
        if not path.startswith("/"):
            raise SandboxError(f"{name} must list absolute paths, got {path!r}")
    return paths


@functools.cache
def _system_layout() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """bwrap's arguments showing the system trees, and the trees a stage sees (directories, symlinks followed).

    Looked up once per process: a standby looks before it forks jobs, which then do not stat the trees again for
    every mount they check. The host's top-level layout (merged ``/usr`` or not) does not change while it runs."""
    argv: list[str] = []
    for entry in SYSTEM_TREES:
        path = f"/{entry}"
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    visible = tuple(f"/{entry}" for entry in SYSTEM_TREES if os.path.isdir(f"/{entry}"))
    return tuple(argv), visible


def _inside(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree.rstrip("/") + "/")


class Sandbox:
    """The bwrap command lines of one run. ``uid`` is the run's unprivileged uid when the builder is root (``None``:
    keep the builder's own uid, with a single unprivileged bwrap).

    ``read_only_paths`` are host paths every stage sees read-only at the same place (tools installed outside
    ``/usr``); ``hidden_paths`` are hidden where they would otherwise be visible (the job's configuration and key,
    the server's data dir and configuration, when they lie inside a visible tree).
    """

    def __init__(
        self, *, uid: int | None, read_only_paths: Sequence[str] = (), hidden_paths: Sequence[str | Path] = ()
    ) -> None:
        if uid is not None and uid == 0:
            raise SandboxError("a sandboxed stage never runs as root")
        self.uid = uid
        self._read_only = [os.path.realpath(path) for path in read_only_paths]
        self._hidden = [os.path.normpath(str(path)) for path in hidden_paths]
        self._system = self._system_mounts()
        for hidden in self._hidden:
            for tree in self._visible_trees():
                if _inside(tree, hidden):
                    raise SandboxError(f"cannot hide {hidden}: the sandbox shows {tree}, which is inside it")

    # --- what is mounted ------------------------------------------------------------------------------------------

    @staticmethod
    def _system_mounts() -> list[str]:
        return list(_system_layout()[0])

    def _visible_trees(self, extra: Iterable[str] = ()) -> list[str]:
        return [*_system_layout()[1], *self._read_only, *extra]

    def _hiding(self, visible: Sequence[str]) -> list[str]:
        argv: list[str] = []
        for hidden in self._hidden:
            if not any(_inside(hidden, tree) for tree in visible):
                continue  # not mounted anyway
            if os.path.isdir(hidden) and not os.path.islink(hidden):
                argv += ["--tmpfs", hidden]
            elif os.path.lexists(hidden):
                argv += ["--ro-bind", "/dev/null", hidden]
        return argv

    def _parents(self, path: str) -> list[str]:
        """bwrap makes the missing parents of a mount point 0700 (as root: closed to the stage's uid): make them 0755
        first. Parents inside the system trees exist already; the private file systems are left as they are."""
        argv: list[str] = []
        parent = posixpath.dirname(path)
        ancestors = []
        while parent != "/":
            ancestors.append(parent)
            parent = posixpath.dirname(parent)
        for ancestor in reversed(ancestors):
            if ancestor in PRIVATE_TMPFS or any(_inside(ancestor, tree) for tree in self._visible_trees()):
                continue
            argv += ["--perms", "0755", "--dir", ancestor]
        return argv

    def check_read_only_path(self, path: str) -> str:
        """``path`` resolved, if a stage may see it read-only; raises :class:`SandboxError` if it holds or lies in a
        hidden path, or is not an absolute directory other than ``/``."""
        resolved = os.path.realpath(path)
        if not os.path.isabs(path) or resolved == "/" or not os.path.isdir(resolved):
            raise SandboxError(f"{path} cannot be shown to the sandbox: not an absolute directory other than /")
        for hidden in self._hidden:
            if _inside(resolved, hidden) or _inside(hidden, resolved):
                raise SandboxError(f"{path} cannot be shown to the sandbox: it holds or lies in a hidden path")
        return resolved

    def show_read_only(self, path: str) -> None:
        """Show ``path`` read-only to every command line made from now on, as a ``read_only_paths`` of the run; checked
        as :meth:`check_read_only_path`."""
        resolved = self.check_read_only_path(path)
        if resolved not in self._read_only:
            self._read_only = [*self._read_only, resolved]

    def work_dir_for(self, work_dir: str, workspace: Path) -> str:
        """``work_dir`` if the workspace can be mounted there, else the workspace's own host path.

        bwrap cannot make a mount point inside a read-only tree (a work dir ``/usr/src/x``), nor replace ``/`` or the
        sandbox's own mounts; an existing directory of a read-only tree serves as mount point.
        """
        normal = posixpath.normpath("/" + work_dir.lstrip("/"))
        if normal == "/" or any(_inside(normal, own) for own in (*_OWN_MOUNTS, ENTRYPOINT_DIR, CREDENTIALS_DIR)):
            return str(workspace)
        if any(_inside(normal, tree) for tree in self._visible_trees()) and not os.path.isdir(normal):
            return str(workspace)
        return normal

    # --- workspace ----------------------------------------------------------------------------------------------------

    def prepare_workspace(self, workspace: Path) -> None:
        """Give a root-owned workspace to the run's uid (as root), so that stages can create files in it.

        Only the directory itself changes owner, never followed nor recursively: nothing a stage wrote is touched
        (what the builder put there stays root's, readable). A workspace of another user is left as it is.
        """
        if self.uid is None:
            return
        if os.lstat(workspace).st_uid == 0:
            os.chown(workspace, self.uid, self.uid, follow_symlinks=False)

    # --- command lines --------------------------------------------------------------------------------------------

    def argv(
        self,
        *,
        workspace: Path,
        work_dir: str,
        command: Sequence[str],
        script_dir: Path | None = None,
        credentials_dir: Path | None = None,
        etc_files: Mapping[str, Path] | None = None,
        read_only_paths: Sequence[str] = (),
        info_fd: int | None = None,
    ) -> list[str]:
        """The command line running ``command`` sandboxed; ``work_dir`` as given by :meth:`work_dir_for`.

        ``etc_files`` replace files of ``/etc`` (``hosts`` with the run's service names, ``passwd``); with
        ``info_fd`` the (outer) bwrap writes its JSON there, whose ``child-pid`` :meth:`command_pid` turns into the
        host PID of ``command`` (PID 1 of its namespace).
        """
        shown = [self.check_read_only_path(path) for path in read_only_paths]
        mounts = [*self._system, "--dev", "/dev"]
        for private in PRIVATE_TMPFS:
            mounts += ["--perms", "1777", "--tmpfs", private]
        # A systemd-resolved host links resolv.conf into /run, which stages do not see: show the file itself.
        resolv = os.path.realpath("/etc/resolv.conf")
        if not any(_inside(resolv, tree) for tree in self._visible_trees()) and os.path.isfile(resolv):
            mounts += [*self._parents(resolv), "--ro-bind", resolv, resolv]
        for path in (*self._read_only, *shown):
            mounts += [*self._parents(path), "--ro-bind", path, path]
        mounts += self._hiding(self._visible_trees(shown))
        for name, source in (etc_files or {}).items():
            mounts += ["--ro-bind", str(source), f"/etc/{name}"]
        if script_dir is not None:
            mounts += ["--ro-bind", str(script_dir), ENTRYPOINT_DIR]
        if credentials_dir is not None:
            mounts += ["--ro-bind", str(credentials_dir), CREDENTIALS_DIR]
        mounts += [*self._parents(work_dir), "--bind", str(workspace), work_dir]

        namespaces = [
            *("--unshare-user", "--disable-userns", "--cap-drop", "ALL"),
            *("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"),
            *("--new-session", "--die-with-parent", "--as-pid-1"),
        ]
        info = ["--info-fd", str(info_fd)] if info_fd is not None else []
        if self.uid is None:
            return [BWRAP, *namespaces, *info, *mounts, "--proc", "/proc", "--chdir", work_dir, "--", *command]
        # The outer bwrap's PID namespace is what makes everything die with the builder: the parent-death signal of
        # the processes after setpriv is not delivered (the outer bwrap, root without capabilities, may not signal
        # another uid), but its own init, PID 1, gets it, and with PID 1 the kernel kills the whole namespace.
        # The inner bwrap needs a /proc to set up; the host's is fully visible, which lets it mount its own over it.
        # It takes the outer's mounts as they are (--dev-bind: a plain --bind would remount /dev/null nodev; the
        # outer made every other mount nodev already).
        outer = [BWRAP, "--die-with-parent", "--unshare-pid", *info, *mounts, "--bind", "/proc", "/proc", "--"]
        inner = [BWRAP, *namespaces, "--dev-bind", "/", "/", "--proc", "/proc", "--chdir", work_dir, "--", *command]
        return [*outer, *self._drop_privileges(), *inner]

    def command_pid(self, child_pid: int) -> int | None:
        """The host PID of the sandboxed command, from the ``child-pid`` of bwrap's info; ``None`` while it is not
        started yet. As root that child is the outer bwrap's init: the command is its grandchild (init → inner
        bwrap → command)."""
        if self.uid is None:
            return child_pid
        pid: int | None = child_pid
        for _ in range(2):
            assert pid is not None
            pid = _only_child(pid)
            if pid is None:
                return None
        return pid

    def _drop_privileges(self) -> list[str]:
        assert self.uid is not None
        uid = str(self.uid)
        return [
            *(SETPRIV, "--reuid", uid, "--regid", uid, "--clear-groups"),
            *("--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"),
        ]

    def exec_argv(self, pid: int, command: Sequence[str]) -> tuple[list[str], int]:
        """The command line running ``command`` inside the sandbox whose PID 1 is host PID ``pid`` (a readiness
        probe, as ``docker exec``), and a file descriptor it needs (close it after the start).

        The probe joins the sandbox's mount and PID namespaces and its first user namespace (the parent of the one the
        stage runs in: the namespaces belong to it), without capabilities and with ``no_new_privs``; it can no more
        than the stage can. Only once the command runs (``/proc/<pid>/exe`` is no longer bwrap): before, it is still
        in the namespace bwrap sets up with. Raises ``OSError`` when the process is gone.
        """
        fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        try:
            import fcntl

            parent = fcntl.ioctl(fd, _NS_GET_PARENT)
        finally:
            os.close(fd)
        enter = [NSENTER, f"--user=/proc/self/fd/{parent}", "-t", str(pid), "-m", "-p", "-w", "--preserve-credentials"]
        if self.uid is not None:
            # As root: the run's uid, dropped to before entering, is itself in that namespace; an exec leaves it no
            # capability there.
            return [*self._drop_privileges(), *enter, "--", *command], parent
        # As another user: bwrap made the builder's uid root of that namespace (to mount /dev/pts), and root keeps
        # its capabilities across an exec: drop them inside, before the probe runs.
        inside = [SETPRIV, "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        return [*enter, "--", *inside, *command], parent


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux ``PR_SET_CHILD_SUBREAPER``); whether it is.

    Orphans among its descendants are then re-parented to it rather than to the system's init, so that it can reap
    the nested sandbox's init and read the stage's resource usage from it. Process-wide and for the rest of the
    process's life (several runs and stages may be running): the orphans it collects are the sandboxes' inits,
    reaped by the host executor, and daemons that unsandboxed stages leave behind, which stay zombies until the
    builder exits, as they would under a container's init. Not inherited by children.
    """
    try:
        import ctypes

        return int(ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _only_child(pid: int) -> int | None:
    """The first child of ``pid`` (bwrap's processes have one), or ``None``."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def passwd_files(directory: Path, uid: int) -> dict[str, Path]:
    """``/etc/passwd`` and ``/etc/group`` of the host plus an ``estafette`` entry for ``uid`` (home ``/tmp``), so that
    tools which look their user up (ssh, git over ssh, ``id -un``) work."""
    files = {}
    for name, line in (
        ("passwd", f"estafette:x:{uid}:{uid}:Estafette stage:{SANDBOX_HOME}:/bin/sh"),
        ("group", f"estafette:x:{uid}:"),
    ):
        try:
            original = Path(f"/etc/{name}").read_text()
        except OSError:
            original = ""
        path = directory / name
        path.write_text(original.rstrip("\n") + ("\n" if original.strip() else "") + line + "\n")
        path.chmod(0o644)
        files[name] = path
    return files
