"""Where pipelines' code lives, behind the one interface every forge implements.

The trigger layer needs these things of a repository, and runs no git (and speaks to no provider) itself: the pipeline
a repository location names (``Forge.identify``), what a pushed revision holds — its ``.estafette.yaml`` and its
commit (``Forge.read_push``) — and, for a forge that hosts the repository (``Forge.hosts``), the credentials a
job clones it with (``Forge.clone_credentials``, asked by the run engine when it configures a job) and where a run's
status shows on the commit (``Forge.report``, from the run events: ``triggers.reports``). The integrations implement
it and register their forge from their app's ``ready`` (``integrations/git``, whose client is the only module that
runs git; ``integrations/github``, which speaks to GitHub's API); the trigger layer never imports an integration.
The shape follows woodpecker's ``server/forge/forge.go``: one interface, one implementation per forge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from estafette.queue import subjects


class InvalidSource(ValueError):
    """What was given is not something the forge can read — no retry helps; the message says why."""


@dataclass(frozen=True)
class RepositoryName:
    """The pipeline a repository is: ``source/owner/name`` (``github.com/acme/api``, ``local/acme/api``)."""

    source: str
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.source}/{self.owner}/{self.name}"


@dataclass(frozen=True)
class PushedCommit:
    message: str
    author_email: str
    author_name: str
    author_username: str = ""  # the forge's account (GitHub's login), when the forge knows it


@dataclass(frozen=True)
class PushedRevision:
    """What a push names, read from the repository: the manifest and the commit at the revision."""

    event_id: str  # the same for every event naming this commit: a push makes one build
    repository: RepositoryName
    branch: str
    revision: str  # the full commit id
    repo_url: str  # where jobs clone from: the push's URL or path, without credentials
    manifest: bytes | None  # the file's bytes, decoded by the manifest library; None: no .estafette.yaml
    commit: PushedCommit
    # Every pushed commit, newest first, when the forge's event lists them (GitHub's push does); else only ``commit``.
    commits: tuple[PushedCommit, ...] = ()


@dataclass(frozen=True)
class RunReport:
    """A run of a pipeline started or ended: what its forge shows on the commit (GitHub's commit status)."""

    repository: RepositoryName
    revision: str  # the full commit id the run built (a release: its build's)
    kind: str  # build, release
    target: str  # a release's target; "" for a build
    state: str  # pending, succeeded, failed, canceled
    version: str
    url: str  # the run's page in the UI


class ReportError(RuntimeError):
    """A forge could not take a report; the message is safe to show. ``permanent``: repeating it cannot succeed."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Forge(Protocol):
    """What the trigger layer asks of a forge."""

    def hosts(self, repository: RepositoryName) -> bool:
        """Whether the forge hosts the pipeline's repository (it has its credentials and shows its statuses)."""
        ...

    def clone_credentials(self, repository: RepositoryName) -> Sequence[Any]:
        """The ``builder.contracts.Credential``s a job clones a repository it hosts with (fetched now, stored nowhere);
        raises when the forge cannot answer now (the dispatch is retried)."""
        ...

    def report(self, report: RunReport) -> None:
        """Show a run's state on its commit. Raises ``ReportError``."""
        ...

    def identify(self, location: str) -> RepositoryName:
        """The pipeline a clone URL or path names; ``InvalidSource`` when it names none (or one git must not read)."""
        ...

    def read_push(self, payload: Mapping[str, Any]) -> PushedRevision:
        """Read the revision a published push event names (checking the payload again: an event is input too).

        Raises ``InvalidSource`` when retrying cannot help, anything else when the repository cannot be read now.
        """
        ...


_forges: dict[str, Forge] = {}


def register_forge(name: str, forge: Forge) -> None:
    """Register the forge of a kind of push (``git``, ``github``), from its integration's ``ready``. A published push
    names its forge (``"forge"``; ``git`` when it names none)."""
    _forges[name] = forge


def forge_hosting(repository: RepositoryName) -> Forge | None:
    """The registered forge that hosts ``repository``; None (a plain git server, a local repository) when none does."""
    for candidate in _forges.values():
        if candidate.hosts(repository):
            return candidate
    return None


def forge(name: str) -> Forge:
    """The registered forge; ``LookupError`` naming what to install when there is none."""
    try:
        return _forges[name]
    except KeyError:
        raise LookupError(f"no forge {name!r} is registered: install the integration that provides it") from None


# -- what happens to a repository on its forge -------------------------------------------------------------------------

# A forge's intake publishes a ``RepositoryChange`` here; the trigger layer applies it (``triggers.repositories``).
REPOSITORY_EVENTS = subjects.event_subject("repository")
REPOSITORY_CHANGES = ("renamed", "archived", "unarchived")
_FULL_NAME = re.compile(r"^[A-Za-z0-9.:-]{1,256}/[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")


class InvalidChange(ValueError):
    """The payload is not a repository change; the message says why."""


@dataclass(frozen=True)
class RepositoryChange:
    """A repository renamed (``previous`` → ``repository``), archived (or deleted) or unarchived on its forge."""

    change: str  # renamed, archived, unarchived
    repository: str  # source/owner/name, as the repository is now
    previous: str = ""  # renamed: source/owner/name before

    def to_dict(self) -> dict[str, str]:
        return {"change": self.change, "repository": self.repository, "previous": self.previous}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> RepositoryChange:
        """Checked on both sides: an event on the queue is input too. Raises ``InvalidChange``."""
        change = cls(
            change=str(payload.get("change") or ""),
            repository=str(payload.get("repository") or ""),
            previous=str(payload.get("previous") or ""),
        )
        if change.change not in REPOSITORY_CHANGES:
            raise InvalidChange(f"change must be one of {', '.join(REPOSITORY_CHANGES)}, got {change.change!r}")
        names = [change.repository, change.previous] if change.change == "renamed" else [change.repository]
        for name in names:
            if not _FULL_NAME.fullmatch(name) or any(part in (".", "..") for part in name.split("/")):
                raise InvalidChange(f"{name!r} is not a repository's source/owner/name")
        return change
