"""Pipeline identity (source, owner, name) from a clone URL or a local path.

``https://github.com/acme/api.git`` and ``git@github.com:acme/api.git`` are ``github.com/acme/api``.
Local paths and ``file://`` URLs have source ``local``: owner is the parent folder, name the repository
folder without ``.git`` (``/srv/git/acme/api.git`` is ``local/acme/api``). Deeper paths (GitLab
subgroups) keep their last two segments, the same rule as local paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

# scp-like syntax: user@host:path (no scheme, a colon before the first slash)
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!/).+)$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


class InvalidRepository(ValueError):
    """The text is not a clone URL or path this server can name a pipeline after."""


@dataclass(frozen=True)
class RepositoryIdentity:
    source: str
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.source}/{self.owner}/{self.name}"


def _owner_and_name(path: str, original: str) -> tuple[str, str]:
    segments = [segment for segment in PurePosixPath(path).parts if segment not in ("/", "")]
    if len(segments) < 2:
        raise InvalidRepository(f"{original!r} needs an owner and a repository name, e.g. host/owner/repo")
    owner, name = segments[-2], segments[-1]
    if name.endswith(".git"):
        name = name[: -len(".git")]
    for part in (owner, name):
        if not _SEGMENT.match(part) or part in (".", ".."):
            raise InvalidRepository(f"{original!r}: {part!r} is not a valid owner or repository name")
    return owner, name


def identify_repository(location: str) -> RepositoryIdentity:
    """Name the pipeline of a clone URL or local path; raises ``InvalidRepository`` with the reason."""
    text = location.strip()
    if not text:
        raise InvalidRepository("the repository is empty")
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme == "file":
            owner, name = _owner_and_name(parts.path, location)
            return RepositoryIdentity("local", owner, name)
        if scheme not in {"http", "https", "ssh", "git"}:
            raise InvalidRepository(f"{location!r}: unsupported scheme {scheme!r} (use https, ssh, git or file)")
        host = (parts.hostname or "").lower()
        if not host:
            raise InvalidRepository(f"{location!r} has no host")
        owner, name = _owner_and_name(parts.path, location)
        return RepositoryIdentity(host, owner, name)
    scp = _SCP_LIKE.match(text)
    if scp and not text.startswith(("/", ".", "~")):
        owner, name = _owner_and_name(scp.group("path"), location)
        return RepositoryIdentity(scp.group("host").lower(), owner, name)
    owner, name = _owner_and_name(text, location)
    return RepositoryIdentity("local", owner, name)


def is_local(location: str) -> bool:
    text = location.strip()
    if "://" in text:
        return text.lower().startswith("file://")
    return not (_SCP_LIKE.match(text) and not text.startswith(("/", ".", "~")))
