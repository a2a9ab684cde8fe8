"""Estafette's JSON for run logs (CONTRACTS §3): documented shapes; the documents are streamed by
``runs.log_document``, the live tail by ``runs.tail``."""

from __future__ import annotations

from rest_framework import serializers

from estafette.lib.serializers import CamelCaseSerializer, IdField, TimestampField


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
