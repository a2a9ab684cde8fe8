"""The three kinds of run a job executes (build, release, bot) behind one interface.

The builder endpoints, the live tail, job cancellation and the sweeper treat builds, releases and bot runs alike.
Releases and bot runs live in the releases app, which depends on this one, so that app registers its kinds here
when Django starts (``ReleasesConfig.ready``) instead of this app importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from estafette.lib.errors import NotFound
from runs.models import Run


@dataclass(frozen=True)
class RunKindSpec:
    """How to find and move one kind of run. The callables are that kind's services (read model, events)."""

    name: str  # build, release or bot: the job type, the log store's run_kind and the callback URL's kind
    model: type[Run]
    start: Callable[[Any, datetime | None], bool]  # (run, now): pending → running
    finish: Callable[[Any, str, datetime | None], bool]  # (run, status, now): → succeeded/failed/canceled
    cancel: Callable[[Any, datetime | None], Any]  # (run, now): the API's cancel (pending → canceled, …)
    related: tuple[str, ...] = ("pipeline",)  # loaded with the run: the pipeline, and the build of a release/bot
    # (run, now): after a change outside the services above (the sweeper losing a pending run): the read model
    refresh: Callable[[Any, datetime | None], None] = lambda run, now: None

    def get(self, run_id: int) -> Any:
        """The run with its pipeline; ``NotFound`` when there is none."""
        run = self.model.objects.select_related(*self.related).filter(pk=run_id).first()
        if run is None:
            raise NotFound(f"{self.name} {run_id} not found")
        return run


_kinds: dict[str, RunKindSpec] = {}


def register_run_kind(kind: RunKindSpec) -> None:
    _kinds[kind.name] = kind


def run_kind(name: str) -> RunKindSpec:
    """The registered kind; ``NotFound`` for an unknown name (it comes from a URL)."""
    try:
        return _kinds[name]
    except KeyError:
        raise NotFound(f"unknown run kind {name!r}; expected build, release or bot") from None


def run_kinds() -> list[RunKindSpec]:
    return list(_kinds.values())


def register_build_kind() -> None:
    from builds.models import Build
    from builds.services import build_cancel, build_finish, build_start
    from pipelines.services import pipeline_refresh_read_model

    register_run_kind(
        RunKindSpec(
            name="build",
            model=Build,
            start=lambda run, now: build_start(build=run, now=now),
            finish=lambda run, status, now: build_finish(build=run, status=status, now=now),
            cancel=lambda run, now: build_cancel(build=run, now=now),
            refresh=lambda run, now: pipeline_refresh_read_model(pipeline=run.pipeline, now=now),
        )
    )
