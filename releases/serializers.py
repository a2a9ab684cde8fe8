"""Estafette's JSON for releases and bot runs (CONTRACTS §3)."""

from __future__ import annotations

from rest_framework import serializers

from estafette.lib.serializers import CamelCaseSerializer, wire_json
from runs.serializers import RunSerializer


class ReleaseSerializer(RunSerializer):
    """A release: a build's version deployed to a release target, with an action or none."""

    shown_first = ("name", "action")

    name = serializers.CharField(help_text="the release target")
    action = serializers.CharField()
    release_version = serializers.CharField()
    release_status = serializers.CharField(source="status")


class ReleaseExtraInfoSerializer(CamelCaseSerializer):
    median_pending_duration = serializers.IntegerField(help_text="nanoseconds; 0 until one succeeded")
    median_duration = serializers.IntegerField(help_text="nanoseconds; 0 until one succeeded")


class ActiveReleaseSerializer(ReleaseSerializer):
    """A release as a pipeline's release target shows it (``activeReleases``): with ``extraInfo``, the medians of
    the succeeded releases among the last ten to its target and action, kept by the read model
    (``releases.read_model``) and set on the release by ``releases.selectors.pipeline_active_releases``."""

    shown_last = ("extra_info",)

    extra_info = wire_json(ReleaseExtraInfoSerializer())


class BotRunSerializer(RunSerializer):
    """A bot run: one run of a bot of the pipeline's manifest."""

    shown_first = ("name",)

    name = serializers.CharField(help_text="the bot's name in the manifest")
    bot_status = serializers.CharField(source="status")


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
