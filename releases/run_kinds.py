"""Releases and bot runs as run kinds of the builder endpoints, live tail, cancellation and sweeper."""

from __future__ import annotations

from builds.run_kinds import RunKindSpec, register_run_kind


def register_release_kinds() -> None:
    from pipelines.services import pipeline_refresh_read_model
    from releases.models import BotRun, Release
    from releases.services import bot_cancel, bot_finish, bot_start, release_cancel, release_finish, release_start

    register_run_kind(
        RunKindSpec(
            name="release",
            model=Release,
            start=lambda run, now: release_start(release=run, now=now),
            finish=lambda run, status, now: release_finish(release=run, status=status, now=now),
            cancel=lambda run, now: release_cancel(release=run, now=now),
            refresh=lambda run, now: pipeline_refresh_read_model(pipeline=run.pipeline, now=now),
            related=("pipeline", "build"),
        )
    )
    register_run_kind(
        RunKindSpec(
            name="bot",
            model=BotRun,
            start=lambda run, now: bot_start(bot_run=run, now=now),
            finish=lambda run, status, now: bot_finish(bot_run=run, status=status, now=now),
            cancel=lambda run, now: bot_cancel(bot_run=run, now=now),
            related=("pipeline", "build"),
        )
    )
