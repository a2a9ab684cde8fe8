"""A build: one run of a pipeline's build stages for one revision."""

from __future__ import annotations

from django.db import models

from runs.models import Run


class Build(Run):
    """One build of a pipeline. Created by ``builds.services.build_create``; status changes via ``Run``."""

    kind = "build"

    pipeline = models.ForeignKey(
        "pipelines.Pipeline",
        on_delete=models.CASCADE,
        related_name="builds",
        # Covered by the (pipeline, inserted_at) index below.
        db_index=False,
    )
    repo_branch = models.CharField(max_length=256)
    repo_revision = models.CharField(max_length=256)
    build_version = models.CharField(max_length=256, blank=True)
    # The counter behind build_version ({{auto}}); rebuilds reuse their version's counter.
    counter = models.PositiveBigIntegerField(null=True, blank=True)
    # JSON in Estafette's shapes: labels [{key, value}], release_targets [{name, actions: [{name, hideBadge}]}],
    # triggers (flattened, `self` resolved), commits [{message, author: {email, name, username}}],
    # triggered_by_events [EstafetteEvent].
    labels = models.JSONField(default=list, blank=True)
    release_targets = models.JSONField(default=list, blank=True)
    triggers = models.JSONField(default=list, blank=True)
    commits = models.JSONField(default=list, blank=True)
    triggered_by_events = models.JSONField(default=list, blank=True)
    manifest = models.TextField(blank=True, help_text="the .estafette.yaml as pushed")
    manifest_with_defaults = models.TextField(blank=True, help_text="the manifest with defaults applied, as YAML")
    manifest_valid = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["pipeline", "-inserted_at", "-id"], name="build_pipeline_recent"),
            models.Index(fields=["pipeline", "status", "-inserted_at", "-id"], name="build_pipeline_status"),
            models.Index(fields=["pipeline", "build_version"], name="build_pipeline_version"),
            models.Index(fields=["pipeline", "repo_revision"], name="build_pipeline_revision"),
            models.Index(fields=["pipeline", "repo_branch", "-inserted_at", "-id"], name="build_pipeline_branch"),
            models.Index(fields=["-inserted_at", "-id"], name="build_recent"),
            models.Index(fields=["status", "-inserted_at", "-id"], name="build_status_recent"),
            models.Index(fields=["job_cleanup_at"], name="build_job_cleanup"),
        ]

    def __str__(self) -> str:
        return f"build {self.build_version or self.pk} ({self.status})"
