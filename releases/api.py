"""Release and bot-run endpoints with Estafette's routes: lists, detail, create, cancel, logs."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.errors import NotFound
from estafette.lib.listing import page_of, parse_list_query
from releases import selectors
from releases.models import BotRun, Release
from releases.serializers import BotCreateSerializer, BotRunSerializer, ReleaseCreateSerializer, ReleaseSerializer
from releases.services import bot_cancel, bot_create, release_cancel, release_create
from runs import selectors as log_selectors
from runs.api import LOG_STREAM_SCHEMA, actor_email, check_body_matches_pipeline, pipeline_from_path
from runs.events import manual_event
from runs.log_document import log_document_response
from runs.models import LogRecord
from runs.serializers import LogRecordSerializer, LogSerializer
from runs.tail import TAIL_RENDERERS, log_tail_response, tail_user

DEFAULT_SORT = ("-inserted_at",)


def render_releases(releases: list[Release]) -> list[Any]:
    return ReleaseSerializer(releases, many=True).data


def render_bot_runs(runs: list[BotRun]) -> list[Any]:
    return BotRunSerializer(runs, many=True).data


# -- releases ---------------------------------------------------------------------------------


def _releases_page(request: Request, *, pipeline_id: int | None = None) -> Response:
    """One page of releases, of one pipeline or of all (``GET /api/releases`` and ``…/releases``)."""
    query = parse_list_query(
        request.query_params,
        filters=selectors.RELEASE_LIST_FILTERS,
        sort_fields=selectors.RELEASE_SORT_FIELDS,
        default_sort=DEFAULT_SORT,
    )
    page = page_of(
        selectors.release_list(filters=query.filters, pipeline_id=pipeline_id),
        query,
        total=selectors.release_total(filters=query.filters, pipeline_id=pipeline_id),
    )
    return Response(page.envelope(render_releases))


def _bot_runs_page(request: Request, *, pipeline_id: int | None = None) -> Response:
    """One page of bot runs, of one pipeline or of all (``GET /api/bots`` and ``…/bots``)."""
    query = parse_list_query(
        request.query_params,
        filters=selectors.BOT_LIST_FILTERS,
        sort_fields=selectors.BOT_SORT_FIELDS,
        default_sort=DEFAULT_SORT,
    )
    page = page_of(
        selectors.bot_run_list(filters=query.filters, pipeline_id=pipeline_id),
        query,
        total=selectors.bot_run_total(filters=query.filters, pipeline_id=pipeline_id),
    )
    return Response(page.envelope(render_bot_runs))


class ReleaseListApi(APIView):
    """``GET /api/releases``: releases of all pipelines, newest first."""

    @extend_schema(
        operation_id="releases_list",
        parameters=list_parameters(selectors.RELEASE_LIST_FILTERS, selectors.RELEASE_SORT_FIELDS),
        responses={200: list_envelope(ReleaseSerializer, "Release"), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        return _releases_page(request)


class PipelineReleasesApi(APIView):
    """``GET …/releases``: the pipeline's releases; ``POST …/releases``: release a succeeded version."""

    @extend_schema(
        operation_id="pipeline_releases_list",
        parameters=list_parameters(selectors.RELEASE_LIST_FILTERS, selectors.RELEASE_SORT_FIELDS),
        responses={200: list_envelope(ReleaseSerializer, "PipelineRelease"), **errors(400, 401, 404)},
    )
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        return _releases_page(request, pipeline_id=pipeline_from_path(self.kwargs).pk)

    @extend_schema(
        operation_id="pipeline_releases_create",
        request=ReleaseCreateSerializer,
        responses={201: ReleaseSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        body = ReleaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        check_body_matches_pipeline(body.validated_data, pipeline)
        release = release_create(
            pipeline=pipeline,
            name=body.validated_data["name"],
            action=body.validated_data["action"],
            release_version=body.validated_data["release_version"],
            triggered_by_events=[manual_event(actor_email(request))],
        )
        return Response(ReleaseSerializer(release).data, status=status.HTTP_201_CREATED)


class PipelineReleaseApi(APIView):
    """``GET …/releases/{id}``: one release; ``DELETE``: cancel it."""

    @extend_schema(operation_id="pipeline_release_get", responses={200: ReleaseSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, release_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        return Response(ReleaseSerializer(selectors.release_get(pipeline_id=pipeline.pk, release_id=release_id)).data)

    @extend_schema(
        operation_id="pipeline_release_cancel", responses={200: ReleaseSerializer, **errors(400, 401, 404, 409)}
    )
    def delete(self, request: Request, source: str, owner: str, name: str, release_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        release = selectors.release_get(pipeline_id=pipeline.pk, release_id=release_id)
        return Response(ReleaseSerializer(release_cancel(release=release)).data)


def release_log_response(release: Release, record: LogRecord | None) -> StreamingHttpResponse:
    if record is None:
        raise NotFound(f"release {release.pk} has no logs yet")
    return log_document_response(record, run_fields={"releaseID": str(release.pk)})


class ReleaseLogsApi(APIView):
    """``GET …/releases/{id}/logs``: the log of the release's latest attempt."""

    @extend_schema(operation_id="pipeline_release_logs", responses={200: LogSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, release_id: str) -> StreamingHttpResponse:
        pipeline = pipeline_from_path(self.kwargs)
        release = selectors.release_get(pipeline_id=pipeline.pk, release_id=release_id)
        record = log_selectors.log_record_latest(run_kind=Release.kind, run_id=release.pk)
        return release_log_response(release, record)


class ReleaseLogStreamApi(APIView):
    """``GET …/releases/{id}/logs.stream``: the live tail of the release's log (SSE)."""

    renderer_classes = TAIL_RENDERERS

    @extend_schema(operation_id="pipeline_release_log_stream", **LOG_STREAM_SCHEMA)  # type: ignore[arg-type]
    def get(self, request: Request, source: str, owner: str, name: str, release_id: str) -> StreamingHttpResponse:
        pipeline = pipeline_from_path(self.kwargs)
        release = selectors.release_get(pipeline_id=pipeline.pk, release_id=release_id)
        return log_tail_response(kind=Release.kind, run_id=release.pk, user=tail_user(request))


class ReleaseLogByIdApi(APIView):
    """``GET …/releases/{id}/logsbyid/{logId}``: the log of one attempt."""

    @extend_schema(operation_id="pipeline_release_log_by_id", responses={200: LogSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, **path: str) -> StreamingHttpResponse:
        pipeline = pipeline_from_path(path)
        release = selectors.release_get(pipeline_id=pipeline.pk, release_id=path["release_id"])
        record = log_selectors.log_record_get(run_kind=Release.kind, run_id=release.pk, record_id=path["log_id"])
        return release_log_response(release, record)


class ReleaseLogRecordsApi(APIView):
    """``GET …/releases/{id}/alllogs``: the release's log records, newest first."""

    @extend_schema(
        operation_id="pipeline_release_all_logs",
        responses={200: LogRecordSerializer(many=True), **errors(400, 401, 404)},
    )
    def get(self, request: Request, source: str, owner: str, name: str, release_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        release = selectors.release_get(pipeline_id=pipeline.pk, release_id=release_id)
        records = log_selectors.log_records_of_run(run_kind=Release.kind, run_id=release.pk)
        return Response(LogRecordSerializer(records, many=True).data)


# -- bot runs ---------------------------------------------------------------------------------


class BotRunListApi(APIView):
    """``GET /api/bots``: bot runs of all pipelines, newest first."""

    @extend_schema(
        operation_id="bots_list",
        parameters=list_parameters(selectors.BOT_LIST_FILTERS, selectors.BOT_SORT_FIELDS),
        responses={200: list_envelope(BotRunSerializer, "BotRun"), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        return _bot_runs_page(request)


class PipelineBotRunsApi(APIView):
    """``GET …/bots``: the pipeline's bot runs; ``POST …/bots``: run a bot of its latest manifest."""

    @extend_schema(
        operation_id="pipeline_bots_list",
        parameters=list_parameters(selectors.BOT_LIST_FILTERS, selectors.BOT_SORT_FIELDS),
        responses={200: list_envelope(BotRunSerializer, "PipelineBotRun"), **errors(400, 401, 404)},
    )
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        return _bot_runs_page(request, pipeline_id=pipeline_from_path(self.kwargs).pk)

    @extend_schema(
        operation_id="pipeline_bots_create",
        request=BotCreateSerializer,
        responses={201: BotRunSerializer, **errors(400, 401, 404)},
    )
    def post(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        body = BotCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        check_body_matches_pipeline(body.validated_data, pipeline)
        run = bot_create(
            pipeline=pipeline,
            name=body.validated_data["name"],
            triggered_by_events=[manual_event(actor_email(request))],
        )
        return Response(BotRunSerializer(run).data, status=status.HTTP_201_CREATED)


class PipelineBotRunApi(APIView):
    """``GET …/bots/{id}``: one bot run; ``DELETE``: cancel it."""

    @extend_schema(operation_id="pipeline_bot_get", responses={200: BotRunSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, bot_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        return Response(BotRunSerializer(selectors.bot_run_get(pipeline_id=pipeline.pk, bot_run_id=bot_id)).data)

    @extend_schema(operation_id="pipeline_bot_cancel", responses={200: BotRunSerializer, **errors(400, 401, 404, 409)})
    def delete(self, request: Request, source: str, owner: str, name: str, bot_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        run = selectors.bot_run_get(pipeline_id=pipeline.pk, bot_run_id=bot_id)
        return Response(BotRunSerializer(bot_cancel(bot_run=run)).data)


class BotRunLogsApi(APIView):
    """``GET …/bots/{id}/logs``: the log of the bot run's latest attempt."""

    @extend_schema(operation_id="pipeline_bot_logs", responses={200: LogSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, bot_id: str) -> StreamingHttpResponse:
        pipeline = pipeline_from_path(self.kwargs)
        run = selectors.bot_run_get(pipeline_id=pipeline.pk, bot_run_id=bot_id)
        record = log_selectors.log_record_latest(run_kind=BotRun.kind, run_id=run.pk)
        if record is None:
            raise NotFound(f"bot run {run.pk} has no logs yet")
        return log_document_response(record, run_fields={"botID": str(run.pk)})


class BotRunLogStreamApi(APIView):
    """``GET …/bots/{id}/logs.stream``: the live tail of the bot run's log (SSE)."""

    renderer_classes = TAIL_RENDERERS

    @extend_schema(operation_id="pipeline_bot_log_stream", **LOG_STREAM_SCHEMA)  # type: ignore[arg-type]
    def get(self, request: Request, source: str, owner: str, name: str, bot_id: str) -> StreamingHttpResponse:
        pipeline = pipeline_from_path(self.kwargs)
        run = selectors.bot_run_get(pipeline_id=pipeline.pk, bot_run_id=bot_id)
        return log_tail_response(kind=BotRun.kind, run_id=run.pk, user=tail_user(request))
