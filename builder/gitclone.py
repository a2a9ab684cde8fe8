"""The injected ``git-clone`` stage, run natively with the ``git`` CLI (extension images cannot be assumed here).

As Estafette's git-clone extension: the repository of the run (or ``repo``, another repository of the same owner)
at its branch, shallow with depth 50 unless ``shallow: false``, then the exact revision checked out — fetched on its
own when it is older than the shallow history. The ``origin`` remote written to ``.git/config`` (which later stages
can read) has no token.

The whole clone is one POSIX ``sh`` script (:func:`clone_script`) that the host executor runs in the sandbox, like
any stage: one sandbox start, not one per git command. The options come from the manifest, so they are untrusted:
each is checked (:class:`CloneError`) and shell-quoted; every git command ends its options with ``--`` or
``--end-of-options``; only the transports needed are allowed (https, ssh, git; http and file only when the builder
configuration's ``git.repoUrl`` is such a URL or a local path). The token never appears in the script, an argument
or the log: git asks a credential helper that reads it from the script's environment.

Clone URLs: GitHub ``https://github.com/<owner>/<repo>`` (user ``x-access-token``), Bitbucket
``https://bitbucket.org/<owner>/<repo>`` (``x-token-auth``), Cloud Source
``https://source.developers.google.com/p/<owner>/r/<repo>`` (``estafette``). ``git.repoUrl`` in the builder
configuration overrides the URL (local repositories, shown read-only to the sandbox); an ``http(s)`` one still gets
the token.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from builder.contracts import Credential, GitConfig

TOKEN_CREDENTIAL_TYPES = ("github-api-token", "bitbucket-api-token", "cloudsource-api-token")
_TOKEN_USERS = {"github.com": "x-access-token", "bitbucket.org": "x-token-auth"}
# The user each forge's token goes with: the credential's type names the forge also where its host is not the public
# one (GitHub Enterprise, a Bitbucket the tests serve).
_CREDENTIAL_USERS = {
    "github-api-token": "x-access-token",
    "bitbucket-api-token": "x-token-auth",
    "cloudsource-api-token": "estafette",
}
CLOUD_SOURCE = "source.developers.google.com"
TOKEN_VARIABLE = "ESTAFETTE_GIT_CLONE_TOKEN"  # noqa: S105 — the name of the clone script's variable

# The workspace is thrown away after the job, so its fetches keep what they receive as one pack file (not one file per
# object in a directory per object: a shallow fetch of 50 commits was 100 file system entries to write and to delete)
# and start no background `git maintenance`.
_THROWAWAY_FETCH = ("-c", "fetch.unpackLimit=1", "-c", "maintenance.auto=false")
_ALWAYS_ALLOWED = ("https", "ssh", "git")

_CONTROL = re.compile(r"[\x00-\x20\x7f]")  # control characters and the space
# git check-ref-format's rules for a branch name, and no refspec syntax (':'): see git-check-ref-format(1).
_BAD_BRANCH = re.compile(r"[~^:?*\[\\]|\.\.|@\{|//|^/|/$|\.$|\.lock$|/\.|^\.")
_REVISION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._/-]*")
_REPO_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_SCP_LIKE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*")


class CloneError(ValueError):
    """A git-clone option or the repository's address is not allowed; the message (for the build log) says which."""


def source_token(credentials: Sequence[Credential]) -> str | None:
    """The source-code token the API put in the job's credentials, if any."""
    for credential in credentials:
        if credential.type in TOKEN_CREDENTIAL_TYPES:
            token = credential.additional_properties.get("token")
            if token:
                return str(token)
    return None


def source_token_type(credentials: Sequence[Credential]) -> str | None:
    """The type of the credential ``source_token`` takes its token from."""
    for credential in credentials:
        if credential.type in TOKEN_CREDENTIAL_TYPES and credential.additional_properties.get("token"):
            return credential.type
    return None


def clone_url(git: GitConfig, *, repo: str | None = None) -> str:
    """The URL to fetch from (``git.repoUrl`` for the run's own repository when set); it never holds a token."""
    name = repo or git.repo_name
    if git.repo_url and not repo:
        return git.repo_url
    if git.repo_source == CLOUD_SOURCE:
        return f"https://{CLOUD_SOURCE}/p/{git.repo_owner}/r/{name}"
    return f"https://{git.repo_source}/{git.repo_owner}/{name}"


def token_user(git: GitConfig, token_type: str | None = None) -> str:
    """The user name that goes with the token: the one of its credential's type, else of this source."""
    if token_type in _CREDENTIAL_USERS:
        return _CREDENTIAL_USERS[token_type]
    return "estafette" if git.repo_source == CLOUD_SOURCE else _TOKEN_USERS.get(git.repo_source, "x-access-token")


@dataclass(frozen=True)
class CloneOptions:
    """The git-clone extension's custom properties, as written in the manifest (checked by :func:`clone_script`)."""

    shallow: bool = True
    depth: int = 50
    repo: str | None = None
    branch: str | None = None
    revision: str | None = None
    subdir: str = ""

    @classmethod
    def from_custom_properties(cls, properties: Mapping[str, Any]) -> CloneOptions:
        """Raises :class:`CloneError` for a depth that is not a positive number."""

        def text(key: str) -> str | None:
            value = properties.get(key)
            return str(value) if value not in (None, "") else None

        shallow = properties.get("shallow", True)
        try:
            depth = int(properties.get("depth", 50) or 50)
        except (TypeError, ValueError):
            raise CloneError(f"git-clone depth must be a number, got {properties.get('depth')!r}") from None
        if depth < 1:
            raise CloneError(f"git-clone depth must be at least 1, got {depth}")
        return cls(
            shallow=shallow if isinstance(shallow, bool) else str(shallow).lower() != "false",
            depth=depth,
            repo=text("repo"),
            branch=text("branch"),
            revision=text("revision"),
            subdir=text("subdir") or "",
        )


@dataclass(frozen=True)
class CloneScript:
    """The clone as one ``sh`` script, the environment it needs (the token) and the local repository to show."""

    text: str
    env: dict[str, str] = field(repr=False)
    read_only_paths: tuple[Path, ...] = ()


def local_repository(url: str) -> Path | None:
    """The directory of a local repository URL (``/path`` or ``file:///path``), resolved, else ``None``."""
    if url.startswith("file://"):
        return Path(os.path.realpath(unquote(urlsplit(url).path)))
    if url.startswith("/"):
        return Path(os.path.realpath(url))
    return None


def _check_plain(kind: str, value: str) -> str:
    if not value or value.startswith("-") or _CONTROL.search(value):
        raise CloneError(
            f"git-clone {kind} {value!r} is not allowed: it must not be empty, start with '-' or hold spaces or "
            "control characters"
        )
    return value


def check_branch(branch: str) -> str:
    _check_plain("branch", branch)
    if _BAD_BRANCH.search(branch):
        raise CloneError(f"git-clone branch {branch!r} is not a valid branch name")
    return branch


def check_revision(revision: str) -> str:
    _check_plain("revision", revision)
    if not _REVISION.fullmatch(revision) or ".." in revision:
        raise CloneError(f"git-clone revision {revision!r} is not a commit id or reference name")
    return revision


def check_repo(repo: str) -> str:
    _check_plain("repo", repo)
    if not _REPO_NAME.fullmatch(repo) or repo in (".", ".."):
        raise CloneError(f"git-clone repo {repo!r} is not a repository name of the same owner")
    return repo


def check_subdir(subdir: str) -> str:
    """``subdir`` as a relative path inside the workspace (``""`` for the workspace itself)."""
    if _CONTROL.search(subdir.replace(" ", "")) or subdir.startswith("-"):
        raise CloneError(f"git-clone subdir {subdir!r} is not allowed")
    parts = [part for part in subdir.split("/") if part not in ("", ".")]
    if subdir.startswith("/") or ".." in parts:
        raise CloneError(f"git-clone subdir {subdir!r} must stay inside the workspace")
    return "/".join(parts)


def _transports(url: str) -> list[str]:
    """The transports a fetch from ``url`` may use; raises :class:`CloneError` for one that is not allowed."""
    _check_plain("repository URL", url)
    if local_repository(url) is not None:
        return [*_ALWAYS_ALLOWED, "file"]
    scheme = urlsplit(url).scheme.lower()
    if scheme == "http":
        return [*_ALWAYS_ALLOWED, "http"]
    if scheme in _ALWAYS_ALLOWED or _SCP_LIKE.fullmatch(url):  # user@host:path is ssh
        return list(_ALWAYS_ALLOWED)
    raise CloneError(f"git-clone cannot fetch {url!r}: only https, ssh, git, http and local repositories")


def _config_value(text: str) -> str:
    """``text`` for a double-quoted value of a git configuration file."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def clone_script(
    *, git: GitConfig, token: str | None, options: CloneOptions, token_type: str | None = None
) -> CloneScript:
    """The script cloning into its working directory (or its ``subdir``); exits with the first failing git command's
    code. Each git command is shown as ``> git …`` before it runs. Raises :class:`CloneError` for a bad option."""
    repo = check_repo(options.repo) if options.repo else None
    branch = options.branch or (git.repo_branch if not repo else "")
    revision = options.revision or (git.repo_revision if not repo else "")
    branch, revision = check_branch(branch) if branch else "", check_revision(revision) if revision else ""
    subdir = check_subdir(options.subdir)
    url = clone_url(git, repo=repo)
    allowed = _transports(url)
    local = local_repository(url)
    if local is not None:
        url = str(local)  # a file:// URL and its path fetch alike; the path is what safe.directory names

    config = ["-c", "credential.helper=", "-c", "protocol.allow=never"]
    config += [item for name in allowed for item in ("-c", f"protocol.{name}.allow=always")]
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_GLOBAL": "/dev/null"}
    parts = urlsplit(url)
    if token and parts.scheme in ("http", "https"):
        # A credential helper for this host only (git sends nothing to another host a redirect leads to); it reads
        # the token from the environment, so it is in no argument list and not in the script.
        user = token_user(git, token_type)
        helper = f'!f() {{ test "$1" = get && echo username={user} && echo "password=${TOKEN_VARIABLE}"; }}; f'
        host = parts.netloc.rsplit("@", 1)[-1]
        config += ["-c", f"credential.{parts.scheme}://{host}.helper={helper}"]
        env[TOKEN_VARIABLE] = token

    depth = [f"--depth={options.depth}"] if options.shallow else []
    ref = branch or "HEAD"
    refspec = f"+refs/heads/{branch}:refs/remotes/origin/{branch}" if branch else "HEAD"
    q = shlex.quote
    lines = [
        "#!/bin/sh",
        "set -e",
        f'git() {{ command git {" ".join(q(item) for item in config)} "$@"; }}',
        "shown() { printf '> %s\\n' \"$*\"; }",
    ]
    if local is not None:
        # The repository belongs to the server's user, not the sandbox's: git calls it dubious and refuses it unless
        # it is a safe.directory, which `-c` cannot say (git clears it for the upload-pack it starts): a global
        # configuration file of the clone's own says it.
        safe = "".join(f'\tdirectory = "{_config_value(path)}"\n' for path in (str(local), f"{local}/.git"))
        lines += [
            "GIT_CONFIG_GLOBAL=$(mktemp) && export GIT_CONFIG_GLOBAL && trap 'rm -f \"$GIT_CONFIG_GLOBAL\"' EXIT",
            f"printf '%s' {q('[safe]' + chr(10) + safe)} > \"$GIT_CONFIG_GLOBAL\"",
        ]
    if subdir:
        lines.append(f"mkdir -p -- {q(subdir)} && cd -- {q(subdir)}")
    lines += [
        'shown git init "$PWD"',
        # No template: its sample hooks are a dozen files to write here and to delete with the workspace.
        "git init -q --template= -- .",
        f"shown git remote add origin {q(url)}",
        f"git remote add -- origin {q(url)}",
        f"shown git fetch {' '.join(q(item) for item in [*depth, 'origin', ref])}",
        f"git {' '.join(_THROWAWAY_FETCH)} fetch -q {' '.join(depth)} -- {q(url)} {q(refspec)}",
    ]
    checkout_target = revision or "FETCH_HEAD"
    if revision:
        # The usual case (a push builds the branch head) needs no `git cat-file` to see that the commit came.
        fetched = (
            f'read -r fetched _ < .git/FETCH_HEAD && [ "$fetched" = {q(revision)} ]' if len(revision) >= 40 else "false"
        )
        lines += [
            f"if ! {{ {fetched}; }} && ! git cat-file -e --end-of-options {q(revision + '^{commit}')} 2>/dev/null",
            "then",
            # older than the shallow history: fetch that commit on its own
            f"  shown git fetch --depth=1 origin {q(revision)}",
            f"  git {' '.join(_THROWAWAY_FETCH)} fetch -q --depth=1 -- {q(url)} {q(revision)}",
            "fi",
        ]
    # git checkout knows no --end-of-options (2.39): the trailing -- makes what stands before it revisions, and
    # neither the branch nor the revision can start with '-' (checked).
    create = ["-B", branch] if branch else []
    lines += [
        f"shown git checkout {' '.join(q(item) for item in [*create, checkout_target])}",
        f"git checkout -q --force {' '.join(q(item) for item in [*create, checkout_target])} --",
    ]
    read_only = (local,) if local is not None else ()
    return CloneScript(text="\n".join(lines) + "\n", env=env, read_only_paths=read_only)
