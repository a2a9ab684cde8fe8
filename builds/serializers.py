"""Estafette's JSON for builds and logs (CONTRACTS §3). Read-only: commands take small input serializers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from estafette.lib.redact import redact_secrets
from estafette.lib.serializers import CamelCaseSerializer, IdField, TimestampField, wire_json


class RedactedTextField(serializers.CharField):
    """Text with every ``estafette.secret(...)`` envelope replaced by ``***``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return redact_secrets(str(value))


class LabelSerializer(CamelCaseSerializer):
    key = serializers.CharField()
    value = serializers.CharField()


class ReleaseActionSerializer(CamelCaseSerializer):
    name = serializers.CharField()
    hide_badge = serializers.BooleanField(source="hideBadge", default=False)


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


class EstafetteEventSerializer(CamelCaseSerializer):
    """One event that started a run (``builder.manifest.events.Event``): its name, whether it fired, and one object
    for its kind; empty values are left out. Documents stored JSON (see ``wire_json``): never used to render."""

    name = serializers.CharField(required=False)
    fired = serializers.BooleanField(required=False)
    pipeline = serializers.DictField(required=False)
    release = serializers.DictField(required=False)
    git = serializers.DictField(required=False)
    docker = serializers.DictField(required=False)
    cron = serializers.DictField(required=False)
    pubsub = serializers.DictField(required=False)
    github = serializers.DictField(required=False)
    bitbucket = serializers.DictField(required=False)
    manual = serializers.DictField(required=False)


class CommitAuthorSerializer(CamelCaseSerializer):
    email = serializers.CharField(default="")
    name = serializers.CharField(default="")
    username = serializers.CharField(default="")


class CommitSerializer(CamelCaseSerializer):
    message = serializers.CharField(default="")
    author = CommitAuthorSerializer()


class BuildSerializer(CamelCaseSerializer):
    """A build as a list item: everything but the manifest texts."""

    omit_when_null = ("started_at", "duration", "pending_duration")

    id = IdField(source="pk")
    repo_source = serializers.CharField(source="pipeline.repo_source")
    repo_owner = serializers.CharField(source="pipeline.repo_owner")
    repo_name = serializers.CharField(source="pipeline.repo_name")
    repo_branch = serializers.CharField()
    repo_revision = serializers.CharField()
    build_version = serializers.CharField()
    build_status = serializers.CharField(source="status")
    labels = wire_json(LabelSerializer(many=True))
    release_targets = BuildReleaseTargetsField()
    commits = wire_json(CommitSerializer(many=True))
    triggers = wire_json(serializers.ListField(child=serializers.DictField()))
    triggered_by_events = wire_json(EstafetteEventSerializer(many=True))
    inserted_at = TimestampField()
    started_at = TimestampField()
    updated_at = TimestampField()
    duration = serializers.IntegerField(source="duration_ns", help_text="nanoseconds; absent until finished")
    pending_duration = serializers.IntegerField(
        source="pending_duration_ns", help_text="nanoseconds from creation to start; absent until started"
    )


class BuildDetailSerializer(BuildSerializer):
    """A build with its manifest (as pushed) and the manifest with defaults, secrets shown as ``***``."""

    manifest = RedactedTextField()
    manifest_with_defaults = RedactedTextField()


class RebuildSerializer(CamelCaseSerializer):
    """Body of ``POST …/builds``: the version to run again."""

    repo_source = serializers.CharField(required=False)
    repo_owner = serializers.CharField(required=False)
    repo_name = serializers.CharField(required=False)
    build_version = serializers.CharField()


# -- logs (documented shapes; the documents are streamed by builds.log_document) --------------


class LogLineSerializer(CamelCaseSerializer):
    line = serializers.IntegerField()
    timestamp = serializers.CharField()
    stream_type = serializers.ChoiceField(choices=["stdout", "stderr"])
    text = serializers.CharField()


class StepImageSerializer(CamelCaseSerializer):
    name = serializers.CharField(required=False)
    tag = serializers.CharField(required=False)
    is_pulled = serializers.BooleanField(required=False)
    image_size = serializers.IntegerField(required=False)
    pull_duration = serializers.IntegerField(required=False, help_text="nanoseconds")
    error = serializers.CharField(required=False)
    is_trusted = serializers.BooleanField(required=False)
    has_injected_credentials = serializers.BooleanField(required=False)


class ServiceStepSerializer(CamelCaseSerializer):
    step = serializers.CharField()
    depth = serializers.IntegerField()
    run_index = serializers.IntegerField()
    image = StepImageSerializer(required=False)
    duration = serializers.IntegerField(help_text="nanoseconds")
    exit_code = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["UNKNOWN", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"]
    )
    auto_injected = serializers.BooleanField()
    log_lines = LogLineSerializer(many=True)
    nested_steps = serializers.ListField(
        child=serializers.DictField(), max_length=0, help_text="always empty for a service"
    )
    services = serializers.ListField(
        child=serializers.DictField(), max_length=0, help_text="always empty for a service"
    )


class NestedStepSerializer(ServiceStepSerializer):
    services = ServiceStepSerializer(many=True)


class StepSerializer(ServiceStepSerializer):
    nested_steps = NestedStepSerializer(many=True, help_text="parallel stages")
    services = ServiceStepSerializer(many=True)


class LogSerializer(CamelCaseSerializer):
    """``GET …/logs``: one log record with its step tree (``buildID``, ``releaseID`` or ``botID``)."""

    id = serializers.CharField()
    repo_source = serializers.CharField()
    repo_owner = serializers.CharField()
    repo_name = serializers.CharField()
    repo_branch = serializers.CharField(required=False)
    repo_revision = serializers.CharField(required=False)
    build_id = serializers.CharField(required=False)
    release_id = serializers.CharField(required=False)
    bot_id = serializers.CharField(required=False)
    inserted_at = TimestampField()
    steps = StepSerializer(many=True)


class LogRecordSerializer(CamelCaseSerializer):
    """An entry of ``GET …/alllogs``: one attempt's log, without its steps."""

    id = IdField(source="pk")
    attempt = serializers.IntegerField()
    inserted_at = TimestampField()
    updated_at = TimestampField()
