"""The commands of releases and bot runs: release a version, run a bot.

Lists, a run, its cancel and its logs are every run kind's views (``runs.views``), routed in ``releases.urls``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from estafette.lib.api_docs import errors
from releases.serializers import BotCreateSerializer, BotRunSerializer, ReleaseCreateSerializer, ReleaseSerializer
from releases.services import bot_create, release_create
from runs.views import PipelineRunsApi


class PipelineReleasesApi(PipelineRunsApi):
    """``GET …/releases``: the pipeline's releases; ``POST …/releases``: release a succeeded version."""

    @extend_schema(
        operation_id="pipeline_releases_create",
        request=ReleaseCreateSerializer,
        responses={201: ReleaseSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request: Request, **path: str) -> Response:
        pipeline, body = self.command_body(request, ReleaseCreateSerializer)
        release = release_create(
            pipeline=pipeline,
            name=body["name"],
            action=body["action"],
            release_version=body["release_version"],
            triggered_by_events=self.started_by(request),
        )
        return Response(ReleaseSerializer(release).data, status=status.HTTP_201_CREATED)


class PipelineBotRunsApi(PipelineRunsApi):
    """``GET …/bots``: the pipeline's bot runs; ``POST …/bots``: run a bot of its latest manifest."""

    @extend_schema(
        operation_id="pipeline_bots_create",
        request=BotCreateSerializer,
        responses={201: BotRunSerializer, **errors(400, 401, 404)},
    )
    def post(self, request: Request, **path: str) -> Response:
        pipeline, body = self.command_body(request, BotCreateSerializer)
        run = bot_create(pipeline=pipeline, name=body["name"], triggered_by_events=self.started_by(request))
        return Response(BotRunSerializer(run).data, status=status.HTTP_201_CREATED)
