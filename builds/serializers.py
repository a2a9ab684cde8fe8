"""Estafette's JSON for builds (CONTRACTS §3). Read-only: commands take small input serializers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from estafette.lib.redact import redact_secrets
from estafette.lib.serializers import CamelCaseSerializer, wire_json
from pipelines.serializers import LabelSerializer, ReleaseActionSerializer
from runs.serializers import RunSerializer


class RedactedTextField(serializers.CharField):
    """Text with every ``estafette.secret(...)`` envelope replaced by ``***``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return redact_secrets(str(value))


class ReleaseTargetSerializer(CamelCaseSerializer):
    name = serializers.CharField()
    actions = ReleaseActionSerializer(many=True)
    active_releases = serializers.ListField(
        child=serializers.DictField(),
        max_length=0,
        help_text="always empty on a build; a pipeline's targets carry them",
    )


class _BuildReleaseTargetsField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        return [{**target, "activeReleases": []} for target in value]


BuildReleaseTargetsField = extend_schema_field(ReleaseTargetSerializer(many=True))(_BuildReleaseTargetsField)


class CommitAuthorSerializer(CamelCaseSerializer):
    email = serializers.CharField(default="")
    name = serializers.CharField(default="")
    username = serializers.CharField(default="")


class CommitSerializer(CamelCaseSerializer):
    message = serializers.CharField(default="")
    author = CommitAuthorSerializer()


class BuildSerializer(RunSerializer):
    """A build as a list item: everything but the manifest texts."""

    repo_branch = serializers.CharField()
    repo_revision = serializers.CharField()
    build_version = serializers.CharField()
    build_status = serializers.CharField(source="status")
    labels = wire_json(LabelSerializer(many=True))
    release_targets = BuildReleaseTargetsField()
    commits = wire_json(CommitSerializer(many=True))
    triggers = wire_json(serializers.ListField(child=serializers.DictField()))
    # Not in Estafette's Build: this API's addition, so the UI can say why a version cannot be rebuilt (build_rebuild
    # refuses an invalid manifest with a 409) instead of offering it. A list item has it too: rebuild is offered there.
    manifest_valid = serializers.BooleanField(
        help_text="false when the build's manifest was invalid; such a version cannot be rebuilt"
    )


class BuildDetailSerializer(BuildSerializer):
    """A build with its manifest (as pushed) and the manifest with defaults, secrets shown as ``***``."""

    shown_last = ("manifest", "manifest_with_defaults")
    manifest = RedactedTextField()
    manifest_with_defaults = RedactedTextField()


class RebuildSerializer(CamelCaseSerializer):
    """Body of ``POST …/builds``: the version to run again."""

    repo_source = serializers.CharField(required=False)
    repo_owner = serializers.CharField(required=False)
    repo_name = serializers.CharField(required=False)
    build_version = serializers.CharField()
