"""Pipeline endpoints with Estafette's routes: the list and one pipeline."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.access.visibility import visible_to
from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.listing import page_of, parse_list_query
from pipelines import selectors
from pipelines.models import Pipeline
from pipelines.serializers import PipelineSerializer, render_active_releases


def render_pipelines(pipelines: list[Pipeline]) -> list[Any]:
    """Pipelines in Estafette's JSON; each active release is fetched and rendered once for the page."""
    rendered = render_active_releases(pipelines)
    for pipeline in pipelines:
        pipeline.release_targets_view = [
            {
                "name": target["name"],
                "actions": target.get("actions", []),
                "activeReleases": [rendered[i] for i in target.get("activeReleaseIds", []) if i in rendered],
            }
            for target in pipeline.release_targets
        ]
    return PipelineSerializer(pipelines, many=True).data


class PipelineListApi(APIView):
    """``GET /api/pipelines``: every pipeline with its latest build, read from the read model only."""

    @extend_schema(
        operation_id="pipelines_list",
        parameters=list_parameters(selectors.PIPELINE_LIST_FILTERS, selectors.PIPELINE_SORT_FIELDS),
        responses={200: list_envelope(PipelineSerializer, "Pipeline"), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        query = parse_list_query(
            request.query_params,
            filters=selectors.PIPELINE_LIST_FILTERS,
            sort_fields=selectors.PIPELINE_SORT_FIELDS,
            default_sort=selectors.PIPELINE_DEFAULT_SORT,
            tie_breaker=selectors.PIPELINE_DEFAULT_SORT,
            within=visible_to(request),
        )
        page = page_of(selectors.pipeline_list(filters=query.filters), query)
        return Response(page.envelope(render_pipelines))


class PipelineDetailApi(APIView):
    """``GET /api/pipelines/{source}/{owner}/{name}``: one pipeline with its active releases and medians."""

    @extend_schema(operation_id="pipeline_get", responses={200: PipelineSerializer, **errors(401, 404)})
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = selectors.pipeline_get(repo_source=source, repo_owner=owner, repo_name=name)
        return Response(render_pipelines([pipeline])[0])
