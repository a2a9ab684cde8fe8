"""The only module that runs ``git`` for the server (the consumers; never a web request): a cache of bare
mirrors to read files at a revision.

Each repository gets a bare mirror under ``<root>/<hash>.git``; a revision that is not there yet is
fetched first. A local repository (a path or ``file://`` URL) is already on this machine: commits and
branches are read from it in place (a fetch costs tens of milliseconds on every push), and the mirror
is used only when that read fails. A per-mirror file lock keeps concurrent workers from fetching into
the same mirror at once. Credentials embedded in URLs never reach error messages or the mirror's
config: the URL is passed on the command line of ``git fetch`` only, and scrubbed from anything we
report.

Every location, branch and revision comes from a webhook body or a queue event, so git is run defensively
(``git_invocation``): the arguments are checked again here (no leading ``-``, no control characters, only the
transports the server uses) and end git's options with ``--``/``--end-of-options``; no system or global config
is read; hooks, fsmonitor, credential helpers and lazy fetches of partial clones are off (the last is what a
hostile local repository's own config could otherwise make git run when it is read in place); ssh is the
operator's (``GIT_SSH_COMMAND``/``GIT_SSH`` from the environment), never a config's ``core.sshCommand``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from builder.manifest.limits import MAX_MANIFEST_BYTES
from integrations.git.identity import InvalidRepository, check_location, is_local, local_path

_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
_REVISION = re.compile(r"^[0-9a-fA-F]{4,64}$")
_UNSAFE_NAME = re.compile(r"(^-)|[\x00-\x20\x7f]")

REMOTE_PROTOCOLS = ("http", "https", "ssh", "git")
LOCAL_PROTOCOLS = ("file",)
# What the operator may give git through the environment; every other GIT_* variable is dropped (GIT_DIR,
# GIT_CONFIG_PARAMETERS, GIT_EXEC_PATH, … would change which repository, config or programs git uses).
_OPERATOR_GIT_ENV = frozenset({"GIT_SSH_COMMAND", "GIT_SSH", "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH"})
_HARDENING_CONFIG = (
    "core.hooksPath=/dev/null",  # no hook runs, whichever repository's config or directory names one
    "core.fsmonitor=false",  # a repository's config cannot name a program to run on index reads
    "credential.helper=",  # no helper from any config: credentials come only in the URL
)
MAX_COMMIT_BYTES = 1024 * 1024  # what is read of a commit object (author and message); the rest is skipped


class GitError(RuntimeError):
    """A git operation failed; the message is safe to show (credentials removed). ``permanent``: retrying the
    same request cannot succeed (an argument git must not be given, a branch the repository does not have)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class UnsafeGitArgument(GitError):
    """A location, branch or revision that git would read as something else (an option, a command)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class CommitInfo:
    revision: str
    message: str
    author_name: str
    author_email: str


def scrub(text: str) -> str:
    return _CREDENTIALS_IN_URL.sub(r"\g<scheme>***@", text)


def without_credentials(url: str) -> str:
    """``url`` without the user and password of an http(s) URL (ssh user names and paths are kept)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def checked_location(url: str) -> str:
    """``url`` if git may be given it; raises ``UnsafeGitArgument``. Checked again here, where git runs,
    whatever checked it before: a queue event is input too."""
    try:
        return check_location(url)
    except InvalidRepository as error:
        raise UnsafeGitArgument(scrub(f"refusing to run git: {error}")) from None


def checked_branch(branch: str) -> str:
    if not branch or _UNSAFE_NAME.search(branch):
        raise UnsafeGitArgument(f"refusing to run git: branch {branch!r} starts with '-' or holds spaces or controls")
    return branch


def checked_revision(revision: str) -> str:
    if not _REVISION.match(revision):
        raise UnsafeGitArgument(f"refusing to run git: revision {revision!r} is not a hexadecimal commit id")
    return revision


def git_invocation(git_dir: Path, args: Sequence[str], *, local: bool) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of ``git --git-dir=<git_dir> <args>``, hardened (see the module docstring).

    ``local``: the repository fetched from, if any, is on this machine, so only the ``file`` transport is
    allowed; otherwise only https, http, ssh and git (never ``ext::`` or another remote helper).
    """
    protocols = LOCAL_PROTOCOLS if local else REMOTE_PROTOCOLS
    config = [*_HARDENING_CONFIG, "protocol.allow=never", *(f"protocol.{name}.allow=always" for name in protocols)]
    argv = ["git", "--no-pager", *(item for setting in config for item in ("-c", setting))]
    argv += [f"--git-dir={git_dir}", *args]
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_") or key in _OPERATOR_GIT_ENV}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,  # instead of ~/.gitconfig and ~/.config/git/config
        GIT_ALLOW_PROTOCOL=":".join(protocols),  # also binds what git runs for us (remote helpers, upload-pack)
        GIT_PROTOCOL_FROM_USER="0",
        GIT_NO_LAZY_FETCH="1",  # a partial clone's promisor remote would run its config's uploadpack command
        GIT_NO_REPLACE_OBJECTS="1",  # read the objects the revision names, not a repository's replacements
        GIT_TERMINAL_PROMPT="0",  # never wait for a password on a terminal nobody watches
        GIT_ASKPASS="true",
        SSH_ASKPASS="true",
        LC_ALL="C",
    )
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh"  # the environment wins over any config's core.sshCommand
    return argv, env


def _fetch_source(url: str) -> str:
    if is_local(url):
        return str(Path(local_path(url)).expanduser().resolve())
    return url


class GitRepositoryCache:
    def __init__(self, root: Path, *, timeout: float = 120.0) -> None:
        self.root = root
        self.timeout = timeout

    def mirror_path(self, url: str) -> Path:
        key = hashlib.sha256(scrub(url).encode()).hexdigest()[:24]
        return self.root / f"{key}.git"

    def _git(
        self, git_dir: Path, *args: str, local: bool = True, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        argv, env = git_invocation(git_dir, args, local=local)
        try:
            result = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=self.timeout, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} timed out after {self.timeout:.0f}s") from None
        if check and result.returncode != 0:
            detail = scrub(result.stderr.decode(errors="replace").strip())
            raise GitError(f"git {args[0]} failed: {detail}")
        return result

    @contextlib.contextmanager
    def _locked(self, mirror: Path) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(mirror.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ensure_mirror(self, mirror: Path) -> None:
        if not (mirror / "HEAD").exists():
            mirror.mkdir(parents=True, exist_ok=True)
            # no template: nothing (hooks included) is copied from the system's template directory
            self._git(mirror, "init", "--bare", "--quiet", "--template=")

    def _has_commit(self, mirror: Path, revision: str) -> bool:
        result = self._git(mirror, "cat-file", "-e", "--end-of-options", f"{revision}^{{commit}}", check=False)
        return result.returncode == 0

    def _fetch(self, mirror: Path, url: str) -> None:
        self._git(
            mirror,
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            "--no-recurse-submodules",
            "--",
            _fetch_source(url),
            "+refs/heads/*:refs/heads/*",
            local=is_local(url),
        )

    def _ensure_revision(self, url: str, revision: str) -> Path:
        mirror = self.mirror_path(url)
        with self._locked(mirror):
            self._ensure_mirror(mirror)
            if not self._has_commit(mirror, revision):
                self._fetch(mirror, url)
                if not self._has_commit(mirror, revision):
                    raise GitError(f"revision {revision} does not exist in {scrub(url)}")
        return mirror

    def resolve_branch(self, *, url: str, branch: str) -> str:
        """The revision at the head of ``branch`` after fetching; raises ``GitError`` if there is none
        (``permanent`` when the fetch worked and the branch is not there), ``UnsafeGitArgument`` for a
        location or branch git must not be given."""
        url, branch = checked_location(url), checked_branch(branch)
        local = _local_repository(url)
        if local is not None:
            head = f"refs/heads/{branch}^{{commit}}"
            result = self._git(local, "rev-parse", "--verify", "--quiet", "--end-of-options", head, check=False)
            if result.returncode == 0:
                return result.stdout.decode().strip()
        mirror = self.mirror_path(url)
        with self._locked(mirror):
            self._ensure_mirror(mirror)
            self._fetch(mirror, url)
            head = f"refs/heads/{branch}"
            result = self._git(mirror, "rev-parse", "--verify", "--quiet", "--end-of-options", head, check=False)
        if result.returncode != 0:
            raise GitError(f"branch {branch!r} does not exist in {scrub(url)}", permanent=True)
        return result.stdout.decode().strip()

    def read_file(self, *, url: str, revision: str, path: str = ".estafette.yaml") -> bytes | None:
        """The file's bytes at ``revision``, or None when the revision has no such file."""
        _, data = self.read_revision(url=url, revision=revision, path=path)
        return data

    def read_revision(
        self, *, url: str, revision: str, path: str = ".estafette.yaml", max_bytes: int = MAX_MANIFEST_BYTES
    ) -> tuple[CommitInfo, bytes | None]:
        """The commit at ``revision`` and the bytes of ``path`` there (None when absent), with one ``git``
        process when the repository is local or the mirror has the commit (fetching first when it has not).

        The bytes are the file's, undecoded; a file larger than ``max_bytes`` is cut one byte past it (enough
        for the manifest library to refuse it, without reading a huge blob into memory). Raises ``GitError``.
        """
        url, revision = checked_location(url), checked_revision(revision)
        local = _local_repository(url)
        found = self._cat_commit_and_file(local, revision, path, max_bytes) if local is not None else None
        if found is not None:
            return found
        mirror = self.mirror_path(url)
        found = self._cat_commit_and_file(mirror, revision, path, max_bytes) if (mirror / "HEAD").exists() else None
        if found is None:
            self._ensure_revision(url, revision)
            found = self._cat_commit_and_file(mirror, revision, path, max_bytes)
            if found is None:
                raise GitError(f"revision {revision} does not exist in {scrub(url)}")
        return found

    def _cat_commit_and_file(
        self, git_dir: Path, revision: str, path: str, max_bytes: int
    ) -> tuple[CommitInfo, bytes | None] | None:
        """Both objects from one ``git cat-file --batch``, read as a stream so that neither a huge commit
        message nor a huge file is held in memory; None when the commit is missing or git fails."""
        if "\n" in path or "\n" in revision:  # the batch protocol is line based (both are checked before)
            raise UnsafeGitArgument("refusing to run git: a newline in a revision or path")
        argv, env = git_invocation(git_dir, ["cat-file", "--batch"], local=True)
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        timer = threading.Timer(self.timeout, process.kill)  # a stalled read ends with the process
        timer.start()
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(f"{revision}^{{commit}}\n{revision}:{path}\n".encode())
            process.stdin.close()
            commit = _next_object(process.stdout, MAX_COMMIT_BYTES, skip_rest=True)
            blob = _next_object(process.stdout, max_bytes + 1, skip_rest=False) if commit is not None else None
        except (OSError, ValueError):
            return None
        finally:
            timer.cancel()
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if commit is None:
            return None
        full, _, raw_commit = commit
        # a directory (tree) or submodule at the path is no file
        data = blob[2] if blob is not None and blob[1] == "blob" else None
        return _commit_info(full, raw_commit), data

    def commit_info(self, *, url: str, revision: str) -> CommitInfo:
        commit, _ = self.read_revision(url=url, revision=revision)
        return commit


def _local_repository(url: str) -> Path | None:
    """The git directory of a repository on this machine (a working copy's ``.git``, or a bare repository);
    None for a remote URL or a path that holds no repository."""
    if not is_local(url):
        return None
    path = Path(local_path(url)).expanduser()
    for candidate in (path / ".git", path):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def _next_object(stream: IO[bytes], max_bytes: int, *, skip_rest: bool) -> tuple[str, str, bytes] | None:
    """The next object of ``git cat-file --batch`` output: (object id, type, at most ``max_bytes`` of its
    content), or None for a missing one ("<name> missing"/"ambiguous"). ``skip_rest``: read past the rest of a
    longer content (another object follows); otherwise it is left unread (the process is ended)."""
    header = stream.readline(4096).decode(errors="replace").split()
    if not header:
        raise ValueError("git cat-file ended early")
    if len(header) != 3 or not header[2].isdigit():
        return None
    size = int(header[2])
    content = _read_exactly(stream, min(size, max_bytes))
    left = size - len(content) + 1  # the content is followed by a newline
    while skip_rest and left > 0:
        skipped = stream.read(min(left, 1 << 16))
        if not skipped:
            raise ValueError("git cat-file ended early")
        left -= len(skipped)
    return header[0], header[1], content


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError("git cat-file ended early")
    return data


def _commit_info(revision: str, raw: bytes) -> CommitInfo:
    """Author and message of a raw commit object (headers, a blank line, the message)."""
    head, _, message = raw.partition(b"\n\n")
    name = email = ""
    for line in head.decode("utf-8", errors="replace").split("\n"):
        if line.startswith("author "):
            person = line[len("author ") :]
            name = person.split(" <", 1)[0]
            email = person.split(" <", 1)[1].split(">", 1)[0] if " <" in person else ""
    return CommitInfo(
        revision=revision,
        message=message.decode("utf-8", errors="replace").strip(),
        author_name=name,
        author_email=email,
    )
