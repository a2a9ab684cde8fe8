"""The injected ``git-clone`` stage, run natively with the ``git`` CLI (extension images cannot be assumed here).

As Estafette's git-clone extension: the repository of the run (or ``repo``, another repository of the same owner)
at its branch, shallow with depth 50 unless ``shallow: false``, then the exact revision checked out — fetched on its
own when it is older than the shallow history. The token goes only into the fetch URL: the ``origin`` remote written
to ``.git/config`` (which later stages can read) has no token.

Clone URLs with a token: GitHub ``https://x-access-token:<token>@github.com/<owner>/<repo>``, Bitbucket
``https://x-token-auth:<token>@bitbucket.org/<owner>/<repo>``, Cloud Source
``https://estafette:<token>@source.developers.google.com/p/<owner>/r/<repo>``. ``git.repoUrl`` in the builder
configuration overrides the URL (local repositories); an ``http(s)`` one still gets the token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from builder.contracts import Credential, GitConfig

TOKEN_CREDENTIAL_TYPES = ("github-api-token", "bitbucket-api-token", "cloudsource-api-token")
_TOKEN_USERS = {"github.com": "x-access-token", "bitbucket.org": "x-token-auth"}
CLOUD_SOURCE = "source.developers.google.com"

# The workspace is thrown away after the job, so its fetches keep what they receive as one pack file (not one file per
# object in a directory per object: a shallow fetch of 50 commits was 100 file system entries to write and to delete)
# and start no background `git maintenance`.
_THROWAWAY_FETCH = ("-c", "fetch.unpackLimit=1", "-c", "maintenance.auto=false")

# Runs one git command (argv without "git"), streaming its output; returns its exit code.
GitRunner = Callable[[Sequence[str], str], int]


def source_token(credentials: Sequence[Credential]) -> str | None:
    """The source-code token the API put in the job's credentials, if any."""
    for credential in credentials:
        if credential.type in TOKEN_CREDENTIAL_TYPES:
            token = credential.additional_properties.get("token")
            if token:
                return str(token)
    return None


def clone_url(git: GitConfig, *, token: str | None, repo: str | None = None) -> str:
    """The URL to fetch from, with ``token`` as credentials when given."""
    name = repo or git.repo_name
    if git.repo_url and not repo:
        url = git.repo_url
    elif git.repo_source == CLOUD_SOURCE:
        url = f"https://{CLOUD_SOURCE}/p/{git.repo_owner}/r/{name}"
    else:
        url = f"https://{git.repo_source}/{git.repo_owner}/{name}"
    parts = urlsplit(url)
    if not token or parts.scheme not in ("http", "https"):
        return url
    user = "estafette" if git.repo_source == CLOUD_SOURCE else _TOKEN_USERS.get(git.repo_source, "x-access-token")
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(token, safe='')}@{host}"))


@dataclass(frozen=True)
class CloneOptions:
    """The git-clone extension's custom properties."""

    shallow: bool = True
    depth: int = 50
    repo: str | None = None
    branch: str | None = None
    revision: str | None = None
    subdir: str = ""

    @classmethod
    def from_custom_properties(cls, properties: Mapping[str, Any]) -> CloneOptions:
        def text(key: str) -> str | None:
            value = properties.get(key)
            return str(value) if value not in (None, "") else None

        shallow = properties.get("shallow", True)
        return cls(
            shallow=shallow if isinstance(shallow, bool) else str(shallow).lower() != "false",
            depth=int(properties.get("depth", 50) or 50),
            repo=text("repo"),
            branch=text("branch"),
            revision=text("revision"),
            subdir=(text("subdir") or "").strip("/"),
        )


def git_clone(*, git: GitConfig, token: str | None, workspace: Path, options: CloneOptions, run: GitRunner) -> int:
    """Clone into ``workspace`` (or its ``subdir``) with ``run``; the first non-zero exit code, else 0.

    ``run(argv, shown)`` executes ``git <argv>`` and prints ``shown`` instead of the argv (no token in the log).
    """
    target = workspace / options.subdir if options.subdir else workspace
    target.mkdir(parents=True, exist_ok=True)
    branch = options.branch or (git.repo_branch if not options.repo else "")
    revision = options.revision or (git.repo_revision if not options.repo else "")
    url = clone_url(git, token=token, repo=options.repo)
    public_url = clone_url(git, token=None, repo=options.repo)
    directory = str(target)
    depth = [f"--depth={options.depth}"] if options.shallow else []
    ref = branch or "HEAD"
    refspec = f"+refs/heads/{branch}:refs/remotes/origin/{branch}" if branch else "HEAD"

    steps: list[tuple[list[str], str]] = [
        # No template: its sample hooks are a dozen files to write here and to delete with the workspace.
        (["init", "-q", "--template=", directory], f"git init {directory}"),
        (["-C", directory, "remote", "add", "origin", public_url], f"git remote add origin {public_url}"),
        (
            ["-C", directory, *_THROWAWAY_FETCH, "fetch", "-q", *depth, url, refspec],
            f"git fetch {' '.join(depth)} origin {ref}".replace("  ", " "),
        ),
    ]
    for argv, shown in steps:
        code = run(argv, shown)
        if code != 0:
            return code
    checkout_target = revision or "FETCH_HEAD"
    if (
        revision
        and not _fetched_head_is(target, revision)
        and run(["-C", directory, "cat-file", "-e", f"{revision}^{{commit}}"], "") != 0
    ):
        # older than the shallow history: fetch that commit on its own
        code = run(
            ["-C", directory, *_THROWAWAY_FETCH, "fetch", "-q", "--depth=1", url, revision],
            f"git fetch --depth=1 origin {revision}",
        )
        if code != 0:
            return code
    checkout = ["-C", directory, "checkout", "-q", "--force"]
    checkout += ["-B", branch, checkout_target] if branch else [checkout_target]
    return run(checkout, f"git checkout {'-B ' + branch + ' ' if branch else ''}{checkout_target}")


def _fetched_head_is(directory: Path, revision: str) -> bool:
    """Whether the fetch brought ``revision`` as the branch head (the usual case: a push builds the head), which
    spares a ``git cat-file`` process checking that the commit is there."""
    try:
        fetched = (directory / ".git" / "FETCH_HEAD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return len(revision) >= 40 and fetched.startswith(revision)
