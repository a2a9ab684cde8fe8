"""The commands of releases and bot runs: release a version, run a bot.

Lists, a run, its cancel and its logs are every run kind's views (``runs.views``), routed in ``releases.urls``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.listing import Page, parse_list_query
from releases.models import BotRun, Release
from releases.serializers import BotCreateSerializer, BotRunSerializer, ReleaseCreateSerializer, ReleaseSerializer
from releases.services import bot_create, release_create
from runs import stats
from runs.registry import RunKind, run_kind
from runs.views import PipelineRunsApi, pipeline_from_path


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


class NameCountSerializer(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField(help_text="how many runs carry it")


def _name_counts(request: Request, kind: RunKind, *, pipeline_id: int | None = None) -> Response:
    query = parse_list_query(request.query_params, filters=kind.list_filters, sort_fields=(), default_sort=())
    rows = stats.run_name_counts(kind, filters=query.filters, pipeline_id=pipeline_id)
    items = list(rows[query.offset : query.offset + query.size])
    return Response(Page(items, query.page, query.size, rows.count()).envelope(list))


class ReleaseTargetsOfReleasesApi(APIView):
    """``GET /api/releasetargets/releases``: the targets of the releases the filters match, with their number of
    releases, most first (the target filter of Estafette's releases page)."""

    @extend_schema(
        operation_id="release_targets_of_releases",
        parameters=list_parameters(run_kind(Release.kind).list_filters, ()),
        responses={200: list_envelope(NameCountSerializer, "ReleaseTargetOfReleases"), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        return _name_counts(request, run_kind(Release.kind))


class PipelineBotNamesApi(APIView):
    """``GET …/botnames``: the bots of the pipeline's bot runs with their number of runs, most first."""

    @extend_schema(
        operation_id="pipeline_bot_names",
        parameters=list_parameters(run_kind(BotRun.kind).list_filters, ()),
        responses={200: list_envelope(NameCountSerializer, "BotName"), **errors(400, 401, 404)},
    )
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        return _name_counts(request, run_kind(BotRun.kind), pipeline_id=pipeline_from_path(self.kwargs).pk)
