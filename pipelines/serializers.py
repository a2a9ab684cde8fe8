"""Estafette's JSON for pipelines (CONTRACTS §3): the latest build's fields with the read model's over them.

A pipeline shows parts of the run kinds: its latest build's fields, and the active releases of its release targets.
This app sits below the kinds and imports none of them: their apps register the serializers of those parts from
their ``ready`` (``register_latest_build_view``, ``register_active_release_view``), and the fields are composed when
a serializer is built — after start-up, so for every request and for the schema alike.

The shapes a pipeline's read model stores as they come from the manifest (labels, release target actions) are
defined here, and the builds app uses them too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from estafette.access.serializers import AccessRefSerializer
from estafette.lib.serializers import CamelCaseSerializer, TimestampField, camel_case, wire_json
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


@dataclass
class _PipelineViews:
    """What the run kinds' apps registered: how a pipeline's latest build and its active releases are shown."""

    latest_build: type[CamelCaseSerializer] | None = None
    active_release: type[CamelCaseSerializer] | None = None
    # pipelines → their active releases by id, each with its pipeline set (one query for a page)
    load_active_releases: Callable[[Sequence[Pipeline]], Mapping[int, Any]] | None = None


_views = _PipelineViews()


def register_latest_build_view(serializer: type[CamelCaseSerializer]) -> None:
    """The serializer of a build: a pipeline shows its latest build's ``LATEST_BUILD_FIELDS`` with it."""
    _views.latest_build = serializer


def register_active_release_view(
    serializer: type[CamelCaseSerializer], *, load: Callable[[Sequence[Pipeline]], Mapping[int, Any]]
) -> None:
    """The serializer of a release, and how to load the releases the read models' ``activeReleaseIds`` name."""
    _views.active_release, _views.load_active_releases = serializer, load


def render_active_releases(pipelines: Sequence[Pipeline]) -> dict[int, Any]:
    """The active releases of the pipelines' release targets in wire shape, by id: each fetched and rendered once."""
    if _views.active_release is None or _views.load_active_releases is None:
        return {}
    releases = _views.load_active_releases(pipelines)
    rendered = _views.active_release(list(releases.values()), many=True).data
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
        if _views.active_release is not None:
            fields["activeReleases"] = _views.active_release(many=True, help_text=help_text)
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
        return _views.latest_build.omit_when_null if _views.latest_build is not None else ()

    def get_fields(self) -> dict[str, serializers.Field]:
        # In the order of the latest build's serializer, the read model's fields over its own, then the pipeline's.
        own = super().get_fields()
        if _views.latest_build is None:
            return own
        from_latest = {camel_case(name) for name in LATEST_BUILD_FIELDS}
        fields: dict[str, serializers.Field] = {}
        for name, field in _views.latest_build().get_fields().items():
            if name in own:
                fields[name] = own.pop(name)
            elif name in from_latest:
                field.source = f"latest_build.{field.source or name}"
                field.allow_null = True
                fields[name] = field
        fields.update(own)
        return fields
