"""Pipeline identity (source, owner, name) from a clone URL or a local path.

``https://github.com/acme/api.git`` and ``git@github.com:acme/api.git`` are ``github.com/acme/api``.
Local paths and ``file://`` URLs have source ``local``: owner is the parent folder, name the repository
folder without ``.git`` (``/srv/git/acme/api.git`` is ``local/acme/api``). Deeper paths (GitLab
subgroups) keep their last two segments, the same rule as local paths.

The location is also what ``git fetch`` is given, so ``check_location`` refuses what git would read as
something other than a repository: an option (a leading ``-``, also in an ssh host or user name), a remote
helper (``<transport>::<address>``, e.g. ``ext::sh -c …``), a scheme other than https/http, ssh, git or
file, and control characters. ``identify_repository`` checks it first, so every path that names a
pipeline after a location (the webhook, the consumers, the triggers) refuses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

# scp-like syntax: user@host:path (no scheme, a colon before the first slash: git's rule for ssh)
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>.+)$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# git's "<transport>::<address>": the address goes to git-remote-<transport> (ext:: runs it as a command)
_REMOTE_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
SCHEMES = frozenset({"http", "https", "ssh", "git", "file"})


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


def check_location(location: str) -> str:
    """``location`` without surrounding spaces, if git can only read it as a repository URL or path; raises
    ``InvalidRepository`` saying why not (see the module's docstring)."""
    if _CONTROL.search(location):
        raise InvalidRepository(f"{location!r} holds control characters")
    text = location.strip()
    if not text:
        raise InvalidRepository("the repository is empty")
    if text.startswith("-"):
        raise InvalidRepository(f"{location!r} starts with '-', which git would read as an option")
    if _REMOTE_HELPER.match(text):
        raise InvalidRepository(
            f"{location!r} names a git remote helper (<transport>::<address>); use an https, ssh, git or file URL"
        )
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise InvalidRepository(f"{location!r}: unsupported scheme {scheme!r} (use https, ssh, git or file)")
        if scheme == "file" and (parts.netloc or parts.query or parts.fragment or "?" in text or "#" in text):
            raise InvalidRepository(f"{location!r}: a file URL is file:///<path on this server>, without ? or #")
        if _CONTROL.search(unquote(parts.path)):
            raise InvalidRepository(f"{location!r} holds control characters")
        _check_host_and_user(parts.hostname or "", parts.username or "", location)
        return text
    scp = _scp_like(text)
    if scp is not None:
        _check_host_and_user(scp.group("host"), scp.group("user") or "", location)
        if scp.group("path").startswith("-"):
            raise InvalidRepository(f"{location!r}: the path starts with '-', which git would read as an option")
    return text


def _check_host_and_user(host: str, user: str, location: str) -> None:
    # ssh reads "-oProxyCommand=…" as an option (git refuses it too, since CVE-2017-1000117)
    if host.startswith("-") or user.startswith("-"):
        raise InvalidRepository(f"{location!r}: a host or user name starts with '-', which ssh would read as an option")


def _scp_like(text: str) -> re.Match[str] | None:
    if text.startswith(("/", ".", "~")):
        return None
    return _SCP_LIKE.match(text)


def identify_repository(location: str) -> RepositoryIdentity:
    """Name the pipeline of a clone URL or local path; raises ``InvalidRepository`` with the reason."""
    text = check_location(location)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme.lower() == "file":
            owner, name = _owner_and_name(parts.path, location)
            return RepositoryIdentity("local", owner, name)
        host = (parts.hostname or "").lower()
        if not host:
            raise InvalidRepository(f"{location!r} has no host")
        owner, name = _owner_and_name(parts.path, location)
        return RepositoryIdentity(host, owner, name)
    scp = _scp_like(text)
    if scp is not None:
        owner, name = _owner_and_name(scp.group("path"), location)
        return RepositoryIdentity(scp.group("host").lower(), owner, name)
    owner, name = _owner_and_name(text, location)
    return RepositoryIdentity("local", owner, name)


def is_local(location: str) -> bool:
    """Whether git reads ``location`` as a path on this machine (a path, or a ``file://`` URL)."""
    text = location.strip()
    if "://" in text:
        return text.lower().startswith("file://")
    return _scp_like(text) is None


def local_path(location: str) -> str:
    """The filesystem path a local location names (a ``file://`` URL's path, decoded), as written."""
    text = location.strip()
    return unquote(urlsplit(text).path) if text.lower().startswith("file://") else text
