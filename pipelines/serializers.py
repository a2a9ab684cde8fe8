"""Estafette's JSON for pipelines: the latest build's fields plus the read model (CONTRACTS §3)."""

from __future__ import annotations

from rest_framework import serializers

from builds.serializers import BuildSerializer, LabelSerializer, ReleaseActionSerializer
from estafette.lib.serializers import CamelCaseSerializer, TimestampField, camel_case, wire_json
from releases.serializers import ReleaseSerializer

# BuildSerializer fields a pipeline reads from its latest build; the others come from the read model.
LATEST_BUILD_FIELDS = (
    "id",
    "repo_branch",
    "repo_revision",
    "build_version",
    "commits",
    "triggered_by_events",
    "inserted_at",
    "started_at",
    "updated_at",
    "duration",
    "pending_duration",
)


class PipelineReleaseTargetSerializer(CamelCaseSerializer):
    name = serializers.CharField()
    actions = ReleaseActionSerializer(many=True)
    active_releases = ReleaseSerializer(many=True, help_text="the latest release per action of this target")


class ExtraInfoSerializer(CamelCaseSerializer):
    omit_when_null = ("median_duration", "median_pending_duration")

    median_duration = serializers.IntegerField(source="median_duration_ns", help_text="nanoseconds")
    median_pending_duration = serializers.IntegerField(source="median_pending_duration_ns", help_text="nanoseconds")


class PipelineSerializer(BuildSerializer):
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

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name in LATEST_BUILD_FIELDS:
            field = fields[camel_case(name)]
            field.source = f"latest_build.{field.source or name}"
            field.allow_null = True
        return fields
