"""The only module that runs ``git`` for the API: a cache of bare mirrors to read files at a revision.

Each repository gets a bare mirror under ``<root>/<hash>.git``; a revision that is not there yet is
fetched first. A local repository (a path or ``file://`` URL) is already on this machine: commits and
branches are read from it in place (a fetch costs tens of milliseconds on every push), and the mirror
is used only when that read fails. A per-mirror file lock keeps concurrent workers from fetching into
the same mirror at once. Credentials embedded in URLs never reach error messages or the mirror's
config: the URL is passed on the command line of ``git fetch`` only, and scrubbed from anything we
report.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from integrations.git.identity import is_local

_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",  # never wait for a password on a terminal nobody watches
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_ASKPASS": "true",
    "LC_ALL": "C",
}


class GitError(RuntimeError):
    """A git operation failed; the message is safe to show (credentials removed)."""


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


def _fetch_source(url: str) -> str:
    if is_local(url) and not url.startswith("file://"):
        return str(Path(url).expanduser().resolve())
    return url


class GitRepositoryCache:
    def __init__(self, root: Path, *, timeout: float = 120.0) -> None:
        self.root = root
        self.timeout = timeout

    def mirror_path(self, url: str) -> Path:
        key = hashlib.sha256(scrub(url).encode()).hexdigest()[:24]
        return self.root / f"{key}.git"

    def _git(self, mirror: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, **_GIT_ENV}
        try:
            result = subprocess.run(
                ["git", "--git-dir", str(mirror), *args],
                capture_output=True,
                timeout=self.timeout,
                env=env,
                check=False,
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
            self._git(mirror, "init", "--bare", "--quiet")

    def _has_commit(self, mirror: Path, revision: str) -> bool:
        return self._git(mirror, "cat-file", "-e", f"{revision}^{{commit}}", check=False).returncode == 0

    def _fetch(self, mirror: Path, url: str) -> None:
        self._git(
            mirror,
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            _fetch_source(url),
            "+refs/heads/*:refs/heads/*",
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
        """The revision at the head of ``branch`` after fetching; raises ``GitError`` if there is none."""
        local = _local_repository(url)
        if local is not None:
            head = f"refs/heads/{branch}^{{commit}}"
            result = self._git(local, "rev-parse", "--verify", "--quiet", head, check=False)
            if result.returncode == 0:
                return result.stdout.decode().strip()
        mirror = self.mirror_path(url)
        with self._locked(mirror):
            self._ensure_mirror(mirror)
            self._fetch(mirror, url)
            result = self._git(mirror, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        if result.returncode != 0:
            raise GitError(f"branch {branch!r} does not exist in {scrub(url)}")
        return result.stdout.decode().strip()

    def read_file(self, *, url: str, revision: str, path: str = ".estafette.yaml") -> str | None:
        """The file's text at ``revision``, or None when the revision has no such file."""
        mirror = self._ensure_revision(url, revision)
        result = self._git(mirror, "show", f"{revision}:{path}", check=False)
        if result.returncode != 0:
            return None
        return result.stdout.decode("utf-8", errors="replace")

    def read_revision(self, *, url: str, revision: str, path: str = ".estafette.yaml") -> tuple[CommitInfo, str | None]:
        """The commit at ``revision`` and the text of ``path`` there (None when absent), with one ``git``
        process when the repository is local or the mirror has the commit (fetching first when it has not).
        Raises ``GitError``."""
        local = _local_repository(url)
        found = self._cat_commit_and_file(local, revision, path) if local is not None else None
        if found is not None:
            return found
        mirror = self.mirror_path(url)
        found = self._cat_commit_and_file(mirror, revision, path) if (mirror / "HEAD").exists() else None
        if found is None:
            self._ensure_revision(url, revision)
            found = self._cat_commit_and_file(mirror, revision, path)
            if found is None:
                raise GitError(f"revision {revision} does not exist in {scrub(url)}")
        return found

    def _cat_commit_and_file(self, git_dir: Path, revision: str, path: str) -> tuple[CommitInfo, str | None] | None:
        request = f"{revision}^{{commit}}\n{revision}:{path}\n".encode()
        env = {**os.environ, **_GIT_ENV}
        try:
            result = subprocess.run(
                ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
                input=request,
                capture_output=True,
                timeout=self.timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git cat-file timed out after {self.timeout:.0f}s") from None
        if result.returncode != 0:
            return None
        objects = _batch_objects(result.stdout)
        if len(objects) != 2 or objects[0] is None:
            return None
        full, commit = objects[0]
        blob = objects[1]
        text = blob[1].decode("utf-8", errors="replace") if blob is not None else None
        return _commit_info(full, commit), text

    def commit_info(self, *, url: str, revision: str) -> CommitInfo:
        mirror = self._ensure_revision(url, revision)
        output = self._git(mirror, "show", "-s", "--format=%H%x00%an%x00%ae%x00%B", revision).stdout
        full, name, email, message = output.decode("utf-8", errors="replace").split("\x00", 3)
        return CommitInfo(revision=full, message=message.strip(), author_name=name, author_email=email)


def _local_repository(url: str) -> Path | None:
    """The git directory of a repository on this machine (a working copy's ``.git``, or a bare repository);
    None for a remote URL or a path that holds no repository."""
    if not is_local(url):
        return None
    path = Path(unquote(urlsplit(url).path) if "://" in url else url).expanduser()
    for candidate in (path / ".git", path):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def _batch_objects(output: bytes) -> list[tuple[str, bytes] | None]:
    """The objects of ``git cat-file --batch`` output: (object id, content), or None for a missing one."""
    objects: list[tuple[str, bytes] | None] = []
    position = 0
    while position < len(output):
        end = output.index(b"\n", position)
        header = output[position:end].decode(errors="replace").split()
        position = end + 1
        if len(header) == 3 and header[2].isdigit():
            size = int(header[2])
            objects.append((header[0], output[position : position + size]))
            position += size + 1  # the content is followed by a newline
        else:  # "<name> missing" / "ambiguous"
            objects.append(None)
    return objects


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
