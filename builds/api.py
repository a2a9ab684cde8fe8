"""Build endpoints with Estafette's routes: lists, detail, rebuild, cancel, logs."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import selectors
from builds.models import Build
from builds.serializers import BuildDetailSerializer, BuildSerializer, RebuildSerializer
from builds.services import build_cancel, build_rebuild
from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.errors import NotFound
from estafette.lib.listing import page_of, parse_list_query
from runs import selectors as log_selectors
from runs.api import LOG_STREAM_SCHEMA, actor_email, check_body_matches_pipeline, pipeline_from_path
from runs.events import manual_event
from runs.log_document import log_document_response
from runs.models import LogRecord
from runs.serializers import LogRecordSerializer, LogSerializer
from runs.tail import TAIL_RENDERERS, log_tail_response, tail_user

BUILD_DEFAULT_SORT = ("-inserted_at",)


def render_builds(builds: list[Build]) -> list[Any]:
    return BuildSerializer(builds, many=True).data


def _builds_page(request: Request, *, pipeline_id: int | None = None) -> Response:
    """One page of builds, of one pipeline or of all (``GET /api/builds`` and ``…/builds``)."""
    query = parse_list_query(
        request.query_params,
        filters=selectors.BUILD_LIST_FILTERS,
        sort_fields=selectors.BUILD_SORT_FIELDS,
        default_sort=BUILD_DEFAULT_SORT,
    )
    page = page_of(
        selectors.build_list(filters=query.filters, pipeline_id=pipeline_id),
        query,
        total=selectors.build_total(filters=query.filters, pipeline_id=pipeline_id),
    )
    return Response(page.envelope(render_builds))


class BuildListApi(APIView):
    """``GET /api/builds``: builds of all pipelines, newest first."""

    @extend_schema(
        operation_id="builds_list",
        parameters=list_parameters(selectors.BUILD_LIST_FILTERS, selectors.BUILD_SORT_FIELDS),
        responses={200: list_envelope(BuildSerializer, "Build"), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        return _builds_page(request)


class PipelineBuildsApi(APIView):
    """``GET …/builds``: the pipeline's builds; ``POST …/builds``: rebuild a failed or canceled version."""

    @extend_schema(
        operation_id="pipeline_builds_list",
        parameters=list_parameters(selectors.BUILD_LIST_FILTERS, selectors.BUILD_SORT_FIELDS),
        responses={200: list_envelope(BuildSerializer, "PipelineBuild"), **errors(400, 401, 404)},
    )
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        return _builds_page(request, pipeline_id=pipeline_from_path(self.kwargs).pk)

    @extend_schema(
        operation_id="pipeline_builds_rebuild",
        request=RebuildSerializer,
        responses={201: BuildDetailSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        body = RebuildSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        check_body_matches_pipeline(body.validated_data, pipeline)
        build = build_rebuild(
            pipeline=pipeline,
            build_version=body.validated_data["build_version"],
            triggered_by_events=[manual_event(actor_email(request))],
        )
        return Response(BuildDetailSerializer(build).data, status=status.HTTP_201_CREATED)


class PipelineRecentBuildsApi(APIView):
    """``GET …/recentbuilds``: the latest build of each of the pipeline's most recent branches (up to 5)."""

    @extend_schema(
        operation_id="pipeline_recent_builds", responses={200: BuildSerializer(many=True), **errors(401, 404)}
    )
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        return Response(render_builds(selectors.build_recent_per_branch(pipeline_id=pipeline.pk)))


class PipelineBuildByVersionApi(APIView):
    """``GET …/builds/version/{version}``: the succeeded build of a version, else its latest build."""

    @extend_schema(operation_id="pipeline_build_by_version", responses={200: BuildDetailSerializer, **errors(401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, version: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        build = selectors.build_of_version(pipeline_id=pipeline.pk, build_version=version)
        return Response(BuildDetailSerializer(build).data)


class PipelineBuildApi(APIView):
    """``GET …/builds/{revisionOrId}``: one build; ``DELETE``: cancel it."""

    @extend_schema(operation_id="pipeline_build_get", responses={200: BuildDetailSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, revision_or_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        build = selectors.build_get(pipeline_id=pipeline.pk, revision_or_id=revision_or_id)
        return Response(BuildDetailSerializer(build).data)

    @extend_schema(operation_id="pipeline_build_cancel", responses={200: BuildSerializer, **errors(400, 401, 404, 409)})
    def delete(self, request: Request, source: str, owner: str, name: str, revision_or_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        build = selectors.build_get(pipeline_id=pipeline.pk, revision_or_id=revision_or_id)
        return Response(BuildSerializer(build_cancel(build=build)).data)


def build_log_response(build: Build, record: LogRecord | None) -> StreamingHttpResponse:
    if record is None:
        raise NotFound(f"build {build.pk} has no logs yet")
    return log_document_response(
        record,
        run_fields={"repoBranch": build.repo_branch, "repoRevision": build.repo_revision, "buildID": str(build.pk)},
    )


class BuildLogsApi(APIView):
    """``GET …/builds/{id}/logs``: the log of the build's latest attempt."""

    @extend_schema(operation_id="pipeline_build_logs", responses={200: LogSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, build_id: str) -> StreamingHttpResponse:
        pipeline = pipeline_from_path(self.kwargs)
        build = selectors.build_get(pipeline_id=pipeline.pk, revision_or_id=build_id)
        return build_log_response(build, log_selectors.log_record_latest(run_kind=Build.kind, run_id=build.pk))


class BuildLogByIdApi(APIView):
    """``GET …/builds/{id}/logsbyid/{logId}``: the log of one attempt."""

    @extend_schema(operation_id="pipeline_build_log_by_id", responses={200: LogSerializer, **errors(400, 401, 404)})
    def get(self, request: Request, **path: str) -> StreamingHttpResponse:
        pipeline = pipeline_from_path(path)
        build = selectors.build_get(pipeline_id=pipeline.pk, revision_or_id=path["build_id"])
        record = log_selectors.log_record_get(run_kind=Build.kind, run_id=build.pk, record_id=path["log_id"])
        return build_log_response(build, record)


class BuildLogRecordsApi(APIView):
    """``GET …/builds/{id}/alllogs``: the build's log records (one per attempt), newest first."""

    @extend_schema(
        operation_id="pipeline_build_all_logs", responses={200: LogRecordSerializer(many=True), **errors(401, 404)}
    )
    def get(self, request: Request, source: str, owner: str, name: str, build_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        build = selectors.build_get(pipeline_id=pipeline.pk, revision_or_id=build_id)
        records = log_selectors.log_records_of_run(run_kind=Build.kind, run_id=build.pk)
        return Response(LogRecordSerializer(records, many=True).data)


class BuildLogStreamApi(APIView):
    """``GET …/builds/{id}/logs.stream``: the live tail of the build's log (SSE)."""

    renderer_classes = TAIL_RENDERERS

    @extend_schema(operation_id="pipeline_build_log_stream", **LOG_STREAM_SCHEMA)  # type: ignore[arg-type]
    def get(self, request: Request, source: str, owner: str, name: str, build_id: str) -> StreamingHttpResponse:
        pipeline = pipeline_from_path(self.kwargs)
        build = selectors.build_get(pipeline_id=pipeline.pk, revision_or_id=build_id)
        return log_tail_response(kind=Build.kind, run_id=build.pk, user=tail_user(request))
