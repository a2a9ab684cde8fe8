"""Releases (a build version deployed to a target, optionally with an action) and bot runs."""

from __future__ import annotations

from django.db import models

from runs.models import Run


class Release(Run):
    """One release of a succeeded build's version to a release target. Status changes via ``Run``."""

    kind = "release"

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="releases", db_index=False
    )
    # The succeeded build whose manifest, branch and revision the release stages run with.
    build = models.ForeignKey("builds.Build", on_delete=models.PROTECT, related_name="releases")
    name = models.CharField(max_length=256, help_text="the release target")
    action = models.CharField(max_length=256, blank=True, default="")
    release_version = models.CharField(max_length=256)
    triggered_by_events = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["pipeline", "-inserted_at", "-id"], name="release_pipeline_recent"),
            models.Index(fields=["pipeline", "status", "-inserted_at", "-id"], name="release_pipeline_status"),
            models.Index(fields=["pipeline", "name", "action", "-inserted_at"], name="release_pipeline_target"),
            models.Index(fields=["-inserted_at", "-id"], name="release_recent"),
            # The delivery insights read a window of releases to the production targets (releases.insights).
            models.Index(fields=["name", "-inserted_at"], name="release_target_recent"),
            models.Index(fields=["status", "-inserted_at", "-id"], name="release_status_recent"),
            models.Index(fields=["job_cleanup_at"], name="release_job_cleanup"),
        ]

    def __str__(self) -> str:
        action = f" ({self.action})" if self.action else ""
        return f"release {self.release_version} to {self.name}{action} ({self.status})"


class BotRun(Run):
    """One run of a bot from the pipeline's manifest. Status changes via ``Run``."""

    kind = "bot"

    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.CASCADE, related_name="bot_runs", db_index=False
    )
    # The build whose manifest defined the bot (the pipeline's latest build when the run was created).
    build = models.ForeignKey("builds.Build", on_delete=models.PROTECT, related_name="bot_runs")
    name = models.CharField(max_length=256, help_text="the bot's name in the manifest")
    triggered_by_events = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["pipeline", "-inserted_at", "-id"], name="botrun_pipeline_recent"),
            models.Index(fields=["-inserted_at", "-id"], name="botrun_recent"),
            models.Index(fields=["status", "-inserted_at", "-id"], name="botrun_status_recent"),
            models.Index(fields=["job_cleanup_at"], name="botrun_job_cleanup"),
        ]

    def __str__(self) -> str:
        return f"bot {self.name} ({self.status})"
