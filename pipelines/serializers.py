"""Estafette's JSON for pipelines (CONTRACTS §3): the latest build's fields with the read model's over them.

A pipeline shows parts of the run kinds: its latest build's fields, and the active releases of its release targets.
This app sits below the kinds and imports none of them: their apps register the serializers of those parts from
their ``ready`` (``pipelines.run_views``, by dotted path, so the worker process imports no DRF), and the fields are
composed when a serializer is built — after start-up, so for every request and for the schema alike.

The shapes a pipeline's read model stores as they come from the manifest (labels, release target actions) are
defined here, and the builds app uses them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.module_loading import import_string
from rest_framework import serializers

from estafette.access.serializers import AccessRefSerializer
from estafette.lib.serializers import CamelCaseSerializer, TimestampField, camel_case, wire_json
from pipelines import run_views
from pipelines.models import Pipeline

# Fields of a build a pipeline shows as its own (its ``id`` is its latest build's, as in Estafette); the others
# of the latest build's serializer come from the read model instead.
LATEST_BUILD_FIELDS = (
    "id",
    "repo_branch",
    "repo_revision",
    "build_version",
    "commits",
    "trigger_events",
    "inserted_at",
    "started_at",
    "updated_at",
    "duration",
    "pending_duration",
)


def _latest_build() -> type[CamelCaseSerializer] | None:
    return import_string(run_views.registered.latest_build) if run_views.registered.latest_build else None


def _active_release() -> type[CamelCaseSerializer] | None:
    return import_string(run_views.registered.active_release) if run_views.registered.active_release else None


def render_active_releases(pipelines: Sequence[Pipeline]) -> dict[int, Any]:
    """The active releases of the pipelines' release targets in wire shape, by id: each fetched and rendered once."""
    active_release = _active_release()
    if active_release is None or run_views.registered.load_active_releases is None:
        return {}
    releases = run_views.registered.load_active_releases(pipelines)
    rendered = active_release(list(releases.values()), many=True).data
    return dict(zip(releases, rendered, strict=True))


class LabelSerializer(CamelCaseSerializer):
    key = serializers.CharField()
    value = serializers.CharField()


class ReleaseActionSerializer(CamelCaseSerializer):
    name = serializers.CharField()
    hide_badge = serializers.BooleanField(source="hideBadge", default=False)


class PipelineReleaseTargetSerializer(CamelCaseSerializer):
    name = serializers.CharField()
    actions = ReleaseActionSerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        help_text = "the latest release per action of this target"
        active_release = _active_release()
        if active_release is not None:
            fields["activeReleases"] = active_release(many=True, help_text=help_text)
        else:
            fields["activeReleases"] = serializers.ListField(child=serializers.DictField(), help_text=help_text)
        return fields


class ExtraInfoSerializer(CamelCaseSerializer):
    omit_when_null = ("median_duration", "median_pending_duration")

    median_duration = serializers.IntegerField(source="median_duration_ns", help_text="nanoseconds")
    median_pending_duration = serializers.IntegerField(source="median_pending_duration_ns", help_text="nanoseconds")


class PipelineSerializer(CamelCaseSerializer):
    """A pipeline: its latest build's fields (``id`` is that build's id, as in Estafette) and the read model.

    Expects ``release_targets_view``: the release targets in wire shape with their ``activeReleases``
    (see ``pipelines.api.render_pipelines``).
    """

    repo_source = serializers.CharField()
    repo_owner = serializers.CharField()
    repo_name = serializers.CharField()
    build_status = serializers.CharField()
    labels = wire_json(LabelSerializer(many=True))
    release_targets = wire_json(PipelineReleaseTargetSerializer(many=True), source="release_targets_view")
    triggers = wire_json(serializers.ListField(child=serializers.DictField()))
    archived = serializers.BooleanField()
    last_updated_at = TimestampField(allow_null=True)
    recent_committers = wire_json(serializers.ListField(child=serializers.CharField()))
    recent_releasers = wire_json(serializers.ListField(child=serializers.CharField()))
    extra_info = ExtraInfoSerializer(source="*")
    groups = AccessRefSerializer(many=True, read_only=True)
    organizations = AccessRefSerializer(many=True, read_only=True)

    @property
    def omit_when_null(self) -> tuple[str, ...]:  # type: ignore[override]
        # The latest build's fields that are absent until known (startedAt, duration…) are absent here too.
        latest_build = _latest_build()
        return latest_build.omit_when_null if latest_build is not None else ()

    def get_fields(self) -> dict[str, serializers.Field]:
        # In the order of the latest build's serializer, the read model's fields over its own, then the pipeline's.
        own = super().get_fields()
        latest_build = _latest_build()
        if latest_build is None:
            return own
        from_latest = {camel_case(name) for name in LATEST_BUILD_FIELDS}
        fields: dict[str, serializers.Field] = {}
        for name, field in latest_build().get_fields().items():
            if name in own:
                fields[name] = own.pop(name)
            elif name in from_latest:
                field.source = f"latest_build.{field.source or name}"
                field.allow_null = True
                fields[name] = field
        fields.update(own)
        return fields
