"""Estafette's JSON for releases and bot runs (CONTRACTS §3)."""

from __future__ import annotations

from rest_framework import serializers

from estafette.lib.serializers import CamelCaseSerializer, IdField, TimestampField, wire_json
from runs.serializers import EstafetteEventSerializer


class ReleaseSerializer(CamelCaseSerializer):
    omit_when_null = ("started_at", "duration")

    id = IdField(source="pk")
    name = serializers.CharField(help_text="the release target")
    action = serializers.CharField()
    repo_source = serializers.CharField(source="pipeline.repo_source")
    repo_owner = serializers.CharField(source="pipeline.repo_owner")
    repo_name = serializers.CharField(source="pipeline.repo_name")
    release_version = serializers.CharField()
    release_status = serializers.CharField(source="status")
    triggered_by_events = wire_json(EstafetteEventSerializer(many=True))
    inserted_at = TimestampField()
    started_at = TimestampField()
    updated_at = TimestampField()
    duration = serializers.IntegerField(source="duration_ns", help_text="nanoseconds; absent until finished")


class BotRunSerializer(CamelCaseSerializer):
    omit_when_null = ("started_at", "duration")

    id = IdField(source="pk")
    name = serializers.CharField(help_text="the bot's name in the manifest")
    repo_source = serializers.CharField(source="pipeline.repo_source")
    repo_owner = serializers.CharField(source="pipeline.repo_owner")
    repo_name = serializers.CharField(source="pipeline.repo_name")
    bot_status = serializers.CharField(source="status")
    triggered_by_events = wire_json(EstafetteEventSerializer(many=True))
    inserted_at = TimestampField()
    started_at = TimestampField()
    updated_at = TimestampField()
    duration = serializers.IntegerField(source="duration_ns", help_text="nanoseconds; absent until finished")


class ReleaseCreateSerializer(CamelCaseSerializer):
    """Body of ``POST …/releases``. The repository fields, when sent, must match the URL."""

    name = serializers.CharField(max_length=256, help_text="the release target")
    action = serializers.CharField(max_length=256, required=False, allow_blank=True, default="")
    release_version = serializers.CharField(max_length=256)
    repo_source = serializers.CharField(required=False)
    repo_owner = serializers.CharField(required=False)
    repo_name = serializers.CharField(required=False)


class BotCreateSerializer(CamelCaseSerializer):
    """Body of ``POST …/bots``: run a bot of the pipeline's latest manifest."""

    name = serializers.CharField(max_length=256)
    repo_source = serializers.CharField(required=False)
    repo_owner = serializers.CharField(required=False)
    repo_name = serializers.CharField(required=False)
