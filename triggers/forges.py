"""Where pipelines' code lives, behind the one interface every forge implements.

The trigger layer needs two things of a repository, and runs no git (and speaks to no provider) itself: the pipeline
a repository location names (``Forge.identify``), and what a pushed revision holds — its ``.estafette.yaml`` and its
commit (``Forge.read_push``). The integrations implement it and register their forge from their app's ``ready``
(``integrations/git``, whose client is the only module that runs git); the trigger layer never imports an
integration. The shape follows woodpecker's ``server/forge/forge.go``: one interface, one implementation per forge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


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


class Forge(Protocol):
    """What the trigger layer asks of a forge."""

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
    """Register the forge of a kind of push (``git``), from its integration's ``ready``."""
    _forges[name] = forge


def forge(name: str) -> Forge:
    """The registered forge; ``LookupError`` naming what to install when there is none."""
    try:
        return _forges[name]
    except KeyError:
        raise LookupError(f"no forge {name!r} is registered: install the integration that provides it") from None
