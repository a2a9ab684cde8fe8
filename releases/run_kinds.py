"""Releases and bot runs as run kinds of the run engine (``runs.registry``): registered by ``ReleasesConfig.ready``."""

from __future__ import annotations

from datetime import datetime

from builder.contracts import BotRecord, ReleaseRecord
from builder.manifest import Manifest
from builds.run_kind import build_job
from pipelines.services import pipeline_refresh_read_model
from releases.models import BotRun, Release
from releases.services import bot_cancel, bot_finish, bot_start, release_cancel, release_finish, release_start
from runs.registry import RUN_SORT_FIELDS, RunJob, RunKind, RunSection


class ReleaseKind(RunKind):
    name = Release.kind
    model = Release
    related = ("pipeline", "build")

    segment = "releases"
    own_filters = {"target": "name"}
    branch_field = "build__repo_branch"  # the branch of the build it deploys
    sort_fields = (*RUN_SORT_FIELDS, "name", "release_version")
    pipeline_count_field = "release_count"
    serializer_path = "releases.serializers.ReleaseSerializer"
    stats_fields = {"name": "name", "action": "action"}

    def start(self, run: Release, now: datetime | None) -> bool:
        return release_start(release=run, now=now)

    def finish(self, run: Release, status: str, now: datetime | None) -> bool:
        return release_finish(release=run, status=status, now=now)

    def cancel(self, run: Release, now: datetime | None) -> Release:
        return release_cancel(release=run, now=now)

    def refresh(self, run: Release, now: datetime | None) -> None:
        pipeline_refresh_read_model(pipeline=run.pipeline, now=now)

    def job(self, run: Release) -> RunJob:
        """The released build's revision and manifest, running as the released version."""
        record = ReleaseRecord(id=str(run.pk), name=run.name, action=run.action, triggered_by=_manual_user(run))
        return build_job(run.build, version=run.release_version, config={"release": record})

    def section(self, run: Release, manifest: Manifest) -> RunSection | None:
        """The release target's stages (none for a target the manifest lacks, as Estafette)."""
        target = next((release for release in manifest.releases if release.name == run.name), None)
        if target is None:
            return None
        return RunSection(stages=target.stages, clone=bool(target.clone), builder=target.builder)

    def secrets_manifest(self, run: Release) -> str:
        return run.build.manifest


class BotKind(RunKind):
    name = BotRun.kind
    model = BotRun
    related = ("pipeline", "build")

    segment = "bots"
    # ``filter[target]`` too: Estafette's web UI filters its list of all bot runs by "target", meaning the bot.
    own_filters = {"bot": "name", "target": "name"}
    branch_field = "build__repo_branch"
    sort_fields = (*RUN_SORT_FIELDS, "name")
    serializer_path = "releases.serializers.BotRunSerializer"
    stats_fields = {"name": "name"}

    def start(self, run: BotRun, now: datetime | None) -> bool:
        return bot_start(bot_run=run, now=now)

    def finish(self, run: BotRun, status: str, now: datetime | None) -> bool:
        return bot_finish(bot_run=run, status=status, now=now)

    def cancel(self, run: BotRun, now: datetime | None) -> BotRun:
        return bot_cancel(bot_run=run, now=now)

    def job(self, run: BotRun) -> RunJob:
        """The manifest of the build the bot was taken from, running as that build's version."""
        record = BotRecord(id=str(run.pk), name=run.name)
        return build_job(run.build, version=run.build.build_version, config={"bot": record})

    def section(self, run: BotRun, manifest: Manifest) -> RunSection | None:
        bot = next((bot for bot in manifest.bots if bot.name == run.name), None)
        if bot is None:
            return None
        return RunSection(stages=bot.stages, clone=bool(bot.clone), builder=bot.builder)

    def secrets_manifest(self, run: BotRun) -> str:
        return run.build.manifest


def _manual_user(release: Release) -> str:
    for event in release.triggered_by_events:
        user = (event.get("manual") or {}).get("userID")
        if user:
            return str(user)
    return ""
