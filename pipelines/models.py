"""Pipelines: one per repository, with the read model the pipeline list pages read.

The read-model fields play the role of Estafette's ``computed_pipelines`` table. They are written only by
``pipelines.services`` (``pipeline_refresh_read_model``, ``pipeline_update_read_model``,
``pipeline_change_read_model``), which the run kinds' services call inside their own transactions, with the values
the registered parts compute
(``pipelines.read_model``), so a list page never has to aggregate over builds or releases.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from estafette.lib.expressions import PipesConcat

# What separates source, owner and name in ``Pipeline.search_key``. Identities never contain it
# (``pipeline_get_or_create`` refuses them), so a search term containing it matches no single field.
SEARCH_KEY_SEPARATOR = "/"


class Pipeline(models.Model):
    repo_source = models.CharField(max_length=256, help_text="e.g. github.com")
    repo_owner = models.CharField(max_length=256)
    repo_name = models.CharField(max_length=256)
    archived = models.BooleanField(default=False)
    inserted_at = models.DateTimeField(default=timezone.now)
    # The last {{auto}} counter handed out; per repository across all branches, never reused.
    build_counter = models.PositiveBigIntegerField(default=0)
    # Where jobs clone from (the URL or path of the last push, without credentials); empty means
    # https://<source>/<owner>/<name>.
    repo_url = models.CharField(max_length=1024, blank=True, default="")
    # lower("source/owner/name"), computed and stored by the database itself, so no write path (create,
    # rename, bulk_create, update(), the admin, raw SQL) can leave it stale. filter[search] scans this
    # one narrow column in an index instead of lower-casing three columns of every row.
    search_key = models.GeneratedField(
        expression=Lower(
            PipesConcat(
                "repo_source",
                models.Value(SEARCH_KEY_SEPARATOR),
                "repo_owner",
                models.Value(SEARCH_KEY_SEPARATOR),
                "repo_name",
            )
        ),
        output_field=models.CharField(max_length=770),
        db_persist=True,
    )

    # -- read model (pipeline_refresh_read_model) ------------------------------------------------
    latest_build = models.ForeignKey("builds.Build", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    build_status = models.CharField(max_length=16, blank=True, default="", help_text="status of the latest build")
    labels = models.JSONField(default=list, blank=True)
    release_targets = models.JSONField(default=list, blank=True, help_text="with activeReleases per target/action")
    triggers = models.JSONField(default=list, blank=True)
    recent_committers = models.JSONField(default=list, blank=True)
    recent_releasers = models.JSONField(default=list, blank=True)
    median_duration_ns = models.BigIntegerField(null=True, blank=True)
    median_pending_duration_ns = models.BigIntegerField(null=True, blank=True)
    build_count = models.PositiveBigIntegerField(default=0)
    release_count = models.PositiveBigIntegerField(default=0)
    last_updated_at = models.DateTimeField(null=True, blank=True)

    # -- who sees and operates it (estafette.access; assigned by an administrator: /api/admin/pipelines) ----------
    groups = models.ManyToManyField("access.Group", blank=True, related_name="pipelines")
    organizations = models.ManyToManyField("access.Organization", blank=True, related_name="pipelines")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repo_source", "repo_owner", "repo_name"], name="pipeline_identity"),
        ]
        indexes = [
            # Covers the default list (archived = false, by identity), its count and filter[search]
            # (the search key rides along) without touching the wide read-model rows: index-only
            # scans on PostgreSQL, a covering index scan on CockroachDB and SQLite.
            models.Index(
                fields=["archived", "repo_source", "repo_owner", "repo_name", "latest_build", "id", "search_key"],
                name="pipeline_listing_search",
            ),
            models.Index(fields=["archived", "-last_updated_at"], name="pipeline_recent"),
            models.Index(fields=["archived", "build_status"], name="pipeline_status"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        """``source/owner/name``, the identity triggers and secret allow-lists use."""
        return f"{self.repo_source}/{self.repo_owner}/{self.repo_name}"


class FacetKind(models.TextChoices):
    LABEL = "label"  # value "key=value"
    TARGET = "target"  # a release target name
    COMMITTER = "committer"  # an email of a recent committer
    RELEASER = "releaser"  # an email of a recent releaser
    TRIGGER = "trigger"  # what a trigger listens to, e.g. "git:github.com/acme/api" (triggers.index)


class PipelineFacet(models.Model):
    """A value the pipeline list filters on (label, release target, recent committer/releaser).

    JSON containment would do this on PostgreSQL and CockroachDB but not on SQLite; a small indexed
    table works the same on all three. Rows are replaced by ``pipeline_refresh_read_model``.
    """

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="facets")
    kind = models.CharField(max_length=16, choices=FacetKind.choices)
    value = models.CharField(max_length=512)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "kind", "value"], name="pipeline_facet_unique"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="pipeline_facet_lookup")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.value}"


class CatalogEntity(models.Model):
    """One node of Estafette's catalog tree (ESTAFETTE.md §4 ``catalog_entities``): ``key``/``value`` under the node
    ``parent_key``/``parent_value`` (both empty at the top), with labels, free-form metadata and optionally the
    pipeline it stands for (``source/owner/name``). Written only by ``pipelines.services`` (``catalog_entity_*``)."""

    parent_key = models.CharField(max_length=256, blank=True, default="")
    parent_value = models.CharField(max_length=256, blank=True, default="")
    key = models.CharField(max_length=256)
    value = models.CharField(max_length=256)
    linked_pipeline = models.CharField(max_length=770, blank=True, default="")
    labels = models.JSONField(default=list, blank=True, help_text="[{key, value}], sorted by key")
    metadata = models.JSONField(default=dict, blank=True)
    # "\nkey=value\n" for every label: filter[labels] is a substring match that works the same on SQLite, PostgreSQL
    # and CockroachDB (JSON containment does not exist on SQLite). Kept by the services with the labels.
    label_pairs = models.TextField(blank=True, default="", editable=False)
    inserted_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "catalog entities"
        indexes = [
            models.Index(fields=["parent_key", "parent_value"], name="catalog_entity_parent"),
            models.Index(fields=["key", "value"], name="catalog_entity_key"),
            models.Index(fields=["linked_pipeline"], name="catalog_entity_pipeline"),
        ]

    def __str__(self) -> str:
        parent = f"{self.parent_key}={self.parent_value} / " if self.parent_key else ""
        return f"{parent}{self.key}={self.value}"
