"""The build endpoints of builds alone: rebuild, the latest build per branch, the build of a version.

Lists, a build, its cancel and its logs are every run kind's views (``runs.views``), routed in ``builds.urls``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds import selectors
from builds.models import Build
from builds.replay import build_replay
from builds.serializers import BuildDetailSerializer, BuildSerializer, RebuildSerializer
from builds.services import build_rebuild
from builds.warnings import build_warnings, pipeline_warnings
from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.listing import Page, parse_list_query
from runs import selectors as run_selectors
from runs.registry import run_kind
from runs.views import PipelineRunsApi, pipeline_from_path


class PipelineBuildsApi(PipelineRunsApi):
    """``GET …/builds``: the pipeline's builds; ``POST …/builds``: rebuild a failed or canceled version."""

    @extend_schema(
        operation_id="pipeline_builds_rebuild",
        request=RebuildSerializer,
        responses={201: BuildDetailSerializer, **errors(400, 401, 404, 409)},
    )
    def post(self, request: Request, **path: str) -> Response:
        pipeline, body = self.command_body(request, RebuildSerializer)
        build = build_rebuild(
            pipeline=pipeline, build_version=body["build_version"], triggered_by_events=self.started_by(request)
        )
        return Response(BuildDetailSerializer(build).data, status=status.HTTP_201_CREATED)


class PipelineRecentBuildsApi(APIView):
    """``GET …/recentbuilds``: the latest build of each of the pipeline's most recent branches (up to 5)."""

    @extend_schema(
        operation_id="pipeline_recent_builds", responses={200: BuildSerializer(many=True), **errors(401, 404)}
    )
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        builds = selectors.build_recent_per_branch(pipeline_id=pipeline.pk)
        return Response(BuildSerializer(builds, many=True).data)


class PipelineBuildByVersionApi(APIView):
    """``GET …/builds/version/{version}``: the succeeded build of a version, else its latest build."""

    @extend_schema(operation_id="pipeline_build_by_version", responses={200: BuildDetailSerializer, **errors(401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, version: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        build = selectors.build_of_version(pipeline_id=pipeline.pk, build_version=version)
        return Response(BuildDetailSerializer(build).data)


class BranchCountSerializer(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField(help_text="builds of the branch")


class PipelineBuildBranchesApi(APIView):
    """``GET …/buildbranches``: the branches of the pipeline's builds with their number of builds, most first (the
    branch filter of Estafette's builds page)."""

    @extend_schema(
        operation_id="pipeline_build_branches",
        parameters=list_parameters(("status", "since"), ()),
        responses={200: list_envelope(BranchCountSerializer, "BuildBranch"), **errors(400, 401, 404)},
    )
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        query = parse_list_query(request.query_params, filters=("status", "since"), sort_fields=(), default_sort=())
        rows = selectors.build_branches(pipeline_id=pipeline.pk, filters=query.filters)
        items = list(rows[query.offset : query.offset + query.size])
        return Response(Page(items, query.page, query.size, rows.count()).envelope(list))


class WarningSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="warning or danger")
    message = serializers.CharField(help_text="markdown")


WARNINGS = inline_serializer("Warnings", {"warnings": WarningSerializer(many=True)})


class PipelineWarningsApi(APIView):
    """``GET …/warnings``: best-practice warnings about the pipeline (its build time, its latest manifest)."""

    @extend_schema(operation_id="pipeline_warnings", responses={200: WARNINGS, **errors(401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        return Response({"warnings": pipeline_warnings(pipeline_from_path(self.kwargs))})


class PipelineBuildWarningsApi(APIView):
    """``GET …/builds/{id}/warnings``: best-practice warnings about one build's manifest."""

    @extend_schema(operation_id="pipeline_build_warnings", responses={200: WARNINGS, **errors(400, 401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, build_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        build = run_selectors.run_get(run_kind(Build.kind), pipeline_id=pipeline.pk, key=build_id)
        return Response({"warnings": build_warnings(build)})


REPLAY = inline_serializer(
    "BuildReplay",
    {
        "config": serializers.DictField(help_text="the job's builder configuration without its secrets"),
        "env": serializers.DictField(child=serializers.CharField(), help_text="the ESTAFETTE_* variables it got"),
    },
)


class PipelineBuildReplayApi(APIView):
    """``GET …/builds/{id}/replay``: what ``python -m builder replay`` needs to run one build on a developer's machine.

    The job's builder configuration and ``ESTAFETTE_*`` variables without the job token, callback URLs, credentials
    or trusted images; secret envelopes stay encrypted (``builds.replay``). For viewers of the pipeline."""

    @extend_schema(operation_id="pipeline_build_replay", responses={200: REPLAY, **errors(400, 401, 403, 404)})
    def get(self, request: Request, source: str, owner: str, name: str, build_id: str) -> Response:
        pipeline = pipeline_from_path(self.kwargs)
        build = run_selectors.run_get(run_kind(Build.kind), pipeline_id=pipeline.pk, key=build_id)
        return Response(build_replay(build))
