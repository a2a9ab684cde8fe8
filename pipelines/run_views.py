"""How a pipeline shows parts of the run kinds (``pipelines.serializers``): the serializers their apps register.

The kinds' apps register from their ``ready``, which runs in every process; the serializers are named by dotted path
and imported only when a pipeline is shown, so the worker process, which shows none, imports no DRF
(``estafette/tests/test_idle_imports.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.models import Pipeline


@dataclass
class RunViews:
    """What the run kinds' apps registered: how a pipeline shows its latest build and its active releases."""

    # The serializer of a build (dotted path): a pipeline shows its latest build's ``LATEST_BUILD_FIELDS`` with it.
    latest_build: str | None = None
    # The serializer of a release (dotted path), and how to load the releases the read models' ``activeReleaseIds``
    # name: pipelines → their active releases by id, each with its pipeline set (one query for a page).
    active_release: str | None = None
    load_active_releases: Callable[[Sequence[Pipeline]], Mapping[int, Any]] | None = None


registered = RunViews()


def register_latest_build_view(serializer_path: str) -> None:
    """The serializer of a build, by dotted path: a pipeline shows its latest build's fields with it."""
    registered.latest_build = serializer_path


def register_active_release_view(
    serializer_path: str, *, load: Callable[[Sequence[Pipeline]], Mapping[int, Any]]
) -> None:
    """The serializer of a release, by dotted path, and how to load the releases the read models name."""
    registered.active_release, registered.load_active_releases = serializer_path, load
