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

Where the job's later stages can be shown the host's paths (the host executor), a local repository is not fetched
from: the clone borrows its objects through ``.git/objects/info/alternates`` (as ``git clone --shared``) instead of
copying them through upload-pack, pack-objects and index-pack, which were most of a trivial build's clone (~40 of
~50 ms of CPU).
The result is the fetch's: ``origin`` and ``refs/remotes/origin/<branch>`` at the branch head, and for a shallow
clone the same ``.git/shallow`` as ``git fetch --depth`` writes (:data:`_SHALLOW_AWK`). The source's objects directory
is shown read-only to the clone and to every later stage of the run (:attr:`CloneScript.borrowed_objects`), so that
git works there and nothing a build does reaches the source; no object is hardlinked (a hardlinked file is the
source's file: a build could chmod and write it).
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
_FULL_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # a SHA-1 or SHA-256 commit id, as git prints it

# What `git fetch --depth=<depth>` of a branch would make of a clone that already has all the objects: it reads
# `git rev-list --parents <branch>` and writes the commits that upload-pack would call shallow to the file `shallow`:
# those whose shortest distance from the head is depth - 1 (the head is 0), roots included, as upload-pack's
# get_shallow_commits() does. With depth 0 nothing is cut. It prints the head and whether `want` (a commit id, or "")
# lies within the history kept, and fails on no input (an unknown branch) or input that ended too early.
#
# rev-list's own order (newest commit date first) and not --topo-order: without a commit-graph, --topo-order walks the
# whole history before it prints a line (31-38 ms of CPU per build on a repository of 1,200 commits, growing with every
# commit), while this order streams, and the awk stops reading once every commit nearer than depth - 1 has been read:
# the walk is as long as the history kept. In this order a commit comes after one of its children, not necessarily
# after all of them (a child with an older date comes later), so a distance can still shrink once its commit was
# read: every line's parents are kept, and a shorter distance is passed on to the parents already read (`relax`).
# Why stopping is safe: a path from the head to a commit not read yet leaves the commits read through a commit
# `pending` counts (known, within the cut, not read); when none is left, no such path is shorter than the cut.
# Checked against git's own fetch on histories with merges, unrelated roots and commit dates out of order
# (builder/tests/test_gitclone.py).
_SHALLOW_AWK = """
function relax(commit,    queue, head, tail, here, count, item, parent, next_distance) {
    head = tail = 0; queue[tail++] = commit
    while (head < tail) {
        here = queue[head++]
        if (depth && dist[here] >= depth - 1) continue
        next_distance = dist[here] + 1
        count = split(parents[here], item, " ")
        for (parent = 1; parent <= count; parent++) {
            if (!(item[parent] in dist)) {
                dist[item[parent]] = next_distance
                if (item[parent] in parents) queue[tail++] = item[parent]; else pending++
            } else if (dist[item[parent]] > next_distance) {
                dist[item[parent]] = next_distance
                if (item[parent] in parents) queue[tail++] = item[parent]
            }
        }
    }
}
NR == 1 { tip = $1; dist[$1] = 0; pending = 1 }
{
    line = ""
    for (i = 2; i <= NF; i++) line = line " " $i
    parents[$1] = line
    if (!($1 in dist)) next
    pending--
    relax($1)
    if (pending == 0 || (!depth && (want == "" || want in dist))) { done = 1; exit }
}
END {
    if (!done) exit 1
    if (depth) for (commit in dist) if (dist[commit] == depth - 1) print commit > shallow
    print tip, (want == "" || (want in dist)) ? "found" : "missing"
}
"""


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
    # The objects directory the clone borrows: every later stage must see it (read-only) at this path.
    borrowed_objects: Path | None = None


def local_repository(url: str) -> Path | None:
    """The directory of a local repository URL (``/path`` or ``file:///path``), resolved, else ``None``."""
    if url.startswith("file://"):
        return Path(os.path.realpath(unquote(urlsplit(url).path)))
    if url.startswith("/"):
        return Path(os.path.realpath(url))
    return None


def borrowable_objects(repository: Path) -> Path | None:
    """The objects directory of the local repository at ``repository`` if a clone can borrow it as it is, else
    ``None`` (the clone fetches): a plain repository or bare one, not shallow (its own grafts would change which
    commits are shallow) and not borrowing from another (later stages would not see that one)."""
    git_dir = repository / ".git" if (repository / ".git").is_dir() else repository
    objects = git_dir / "objects"
    if not (objects / "pack").is_dir() or not (git_dir / "HEAD").is_file():
        return None
    if (git_dir / "shallow").exists() or (objects / "info" / "alternates").exists():
        return None
    return Path(os.path.realpath(objects))


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
    *,
    git: GitConfig,
    token: str | None,
    options: CloneOptions,
    token_type: str | None = None,
    borrow_objects: bool = False,
) -> CloneScript:
    """The script cloning into its working directory (or its ``subdir``); exits with the first failing git command's
    code. Each git command is shown as ``> git …`` before it runs. Raises :class:`CloneError` for a bad option.

    ``borrow_objects``: the later stages run where they can be shown the host's paths (the host executor), so a local
    repository's objects may be borrowed rather than fetched (see the module's documentation)."""
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
    # Borrowed only for what the fetch would fully determine: a branch, and its head or an exact commit id.
    borrowed = (
        borrowable_objects(local)
        if local is not None and borrow_objects and branch and (not revision or _FULL_ID.fullmatch(revision))
        else None
    )

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
    safe_directories = _safe_directories(local) if local is not None else ""
    if local is not None and borrowed is None:
        lines.append(safe_directories)
    if subdir:
        lines.append(f"mkdir -p -- {q(subdir)} && cd -- {q(subdir)}")
    lines += [
        'shown git init "$PWD"',
        # No template: its sample hooks are a dozen files to write here and to delete with the workspace.
        "git init -q --template= -- .",
        f"shown git remote add origin {q(url)}",
    ]
    fetch_revision = [
        # older than the shallow history: fetch that commit on its own
        f"  shown git fetch --depth=1 origin {q(revision)}",
        f"  git {' '.join(_THROWAWAY_FETCH)} fetch -q --depth=1 -- {q(url)} {q(revision)}",
    ]
    if borrowed is not None:
        lines += _borrowing_lines(url=url, branch=branch, revision=revision, objects=borrowed, options=options)
        if revision:
            lines += ['if [ "${head#* }" != found ]', "then", f"  {safe_directories}", *fetch_revision, "fi"]
        checkout_target = revision or '"${head% *}"'
    else:
        lines += [
            f"git remote add -- origin {q(url)}",
            f"shown git fetch {' '.join(q(item) for item in [*depth, 'origin', ref])}",
            f"git {' '.join(_THROWAWAY_FETCH)} fetch -q {' '.join(depth)} -- {q(url)} {q(refspec)}",
        ]
        checkout_target = q(revision) if revision else "FETCH_HEAD"
        if revision:
            # The usual case (a push builds the branch head) needs no `git cat-file` to see that the commit came.
            fetched = (
                f'read -r fetched _ < .git/FETCH_HEAD && [ "$fetched" = {q(revision)} ]'
                if len(revision) >= 40
                else "false"
            )
            lines += [
                f"if ! {{ {fetched}; }} && ! git cat-file -e --end-of-options {q(revision + '^{commit}')} 2>/dev/null",
                "then",
                *fetch_revision,
                "fi",
            ]
    # git checkout knows no --end-of-options (2.39): the trailing -- makes what stands before it revisions, and
    # neither the branch nor the revision can start with '-' (checked).
    create = ["-B", q(branch)] if branch else []
    lines += [
        f"shown git checkout {' '.join([*create, checkout_target])}",
        f"git checkout -q --force {' '.join([*create, checkout_target])} --",
    ]
    read_only = (local,) if local is not None else ()
    return CloneScript(text="\n".join(lines) + "\n", env=env, read_only_paths=read_only, borrowed_objects=borrowed)


def _borrowing_lines(*, url: str, branch: str, revision: str, objects: Path, options: CloneOptions) -> list[str]:
    """The script's lines that make the fetch's result from the borrowed ``objects``; they leave ``$head`` as
    ``<branch head> found|missing`` (whether ``revision`` lies in the history kept)."""
    q = shlex.quote
    git_dir = objects.parent
    # What `git remote add` writes, without a git process for it.
    remote = f'[remote "origin"]\n\turl = "{_config_value(url)}"\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n'
    # upload-pack would not read the repository's replace refs either (--no-replace-objects)
    rev_list = [
        *("command", "git", "-c", f"safe.directory={git_dir}", f"--git-dir={git_dir}", "--no-replace-objects"),
        *("rev-list", "--parents", "--end-of-options", f"refs/heads/{branch}"),
    ]
    awk = ["awk", "-v", f"depth={options.depth if options.shallow else 0}", "-v", f"want={revision}"]
    awk += ["-v", "shallow=.git/shallow", _SHALLOW_AWK]
    depth = [f"--depth={options.depth}"] if options.shallow else []
    fetched_from = f"branch '{branch}' of {url}"
    return [
        f"printf '%s' {q(remote)} >> .git/config",
        f"shown git fetch {' '.join(q(item) for item in [*depth, 'origin', branch])}",
        f"printf '%s\\n' {q(f'  {url} is a local repository: its objects are borrowed (read-only), not copied')}",
        f"printf '%s\\n' {q(str(objects))} > .git/objects/info/alternates",
        f"head=$({' '.join(q(item) for item in rev_list)} | {' '.join(q(item) for item in awk)}) || {{",
        f"  echo {q(f'fatal: cannot read branch {branch} of {url}')} >&2",
        "  exit 128",
        "}",
        # the ref and FETCH_HEAD as the fetch writes them, without a git process for them
        f"printf '# pack-refs with: peeled fully-peeled sorted \\n%s %s\\n' \"${{head% *}}\" "
        f"{q(f'refs/remotes/origin/{branch}')} > .git/packed-refs",
        f"printf '%s\\t\\t%s\\n' \"${{head% *}}\" {q(fetched_from)} > .git/FETCH_HEAD",
    ]


def _safe_directories(local: Path) -> str:
    """The script's lines that let git (and the upload-pack it starts) read the local repository ``local``.

    The repository belongs to the server's user, not the sandbox's: git calls it dubious and refuses it unless it is a
    safe.directory, which `-c` cannot say (git clears it for the upload-pack it starts): a global configuration file
    of the clone's own says it."""
    q = shlex.quote
    safe = "".join(f'\tdirectory = "{_config_value(path)}"\n' for path in (str(local), f"{local}/.git"))
    return "\n".join(
        [
            "GIT_CONFIG_GLOBAL=$(mktemp) && export GIT_CONFIG_GLOBAL && trap 'rm -f \"$GIT_CONFIG_GLOBAL\"' EXIT",
            f"printf '%s' {q('[safe]' + chr(10) + safe)} > \"$GIT_CONFIG_GLOBAL\"",
        ]
    )
