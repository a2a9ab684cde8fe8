"""What Estafette's web UI offers as filters and counters of pipelines, read from the read model's facets:
``GET /api/releasetargets/pipelines`` (release targets with their number of pipelines), ``GET /api/labels/frequent``
(the labels more than one pipeline carries), ``GET /api/stats/pipelinescount``, and the catalog's facets
(``GET /api/catalog/filters``: the label keys configured as ``catalog.filters``; ``GET /api/catalog/filtervalues``:
the values of one key with their number of pipelines).

Each takes the pipeline list's filters (``pipelines.selectors.PIPELINE_LIST_FILTERS``) and counts the pipelines that
list would show, as Estafette counts over its computed pipelines."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.errors import BadRequest
from estafette.lib.listing import ListQuery, Page, parse_list_query
from pipelines import selectors
from pipelines.models import FacetKind, PipelineFacet


def _query(request: Request) -> ListQuery:
    return parse_list_query(
        request.query_params,
        filters=selectors.PIPELINE_LIST_FILTERS,
        sort_fields=(),
        default_sort=(),
    )


def _facet_counts(query: ListQuery, kind: str) -> QuerySet[Any]:
    """The values of the facet ``kind`` among the pipelines the list's filters show, each with its number of
    pipelines, most first."""
    pipelines = selectors.pipeline_list(filters=query.filters).values("pk")
    return (
        PipelineFacet.objects.filter(kind=kind, pipeline_id__in=pipelines)
        .values("value")
        .annotate(count=Count("pipeline_id", distinct=True))
        .order_by("-count", "value")
    )


def _page(query: ListQuery, rows: QuerySet[Any]) -> Page:
    items = list(rows[query.offset : query.offset + query.size])
    return Page(items=items, page=query.page, size=query.size, total_items=rows.count())


class ReleaseTargetCountSerializer(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField(help_text="how many of the items carry it")


class FrequentLabelSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.CharField()
    pipelinesCount = serializers.IntegerField()  # Estafette's JSON name


class PipelineReleaseTargetsApi(APIView):
    """``GET /api/releasetargets/pipelines``: the release targets of the pipelines the filters show."""

    @extend_schema(
        operation_id="release_targets_of_pipelines",
        parameters=list_parameters(selectors.PIPELINE_LIST_FILTERS, ()),
        responses={200: list_envelope(ReleaseTargetCountSerializer, "ReleaseTargetCount"), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        query = _query(request)
        page = _page(query, _facet_counts(query, FacetKind.TARGET))
        return Response(page.envelope(lambda rows: [{"name": r["value"], "count": r["count"]} for r in rows]))


class FrequentLabelsApi(APIView):
    """``GET /api/labels/frequent``: the ``key=value`` labels that more than one of the filtered pipelines carry."""

    @extend_schema(
        operation_id="labels_frequent",
        parameters=list_parameters(selectors.PIPELINE_LIST_FILTERS, ()),
        responses={200: list_envelope(FrequentLabelSerializer, "FrequentLabel"), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        query = _query(request)
        # As Estafette: a label only one pipeline has does not help to narrow a list.
        rows = _facet_counts(query, FacetKind.LABEL).filter(count__gt=1).order_by("-count", "value")
        return Response(_page(query, rows).envelope(lambda items: [_label(row) for row in items]))


def _label(row: dict[str, Any]) -> dict[str, Any]:
    key, _, value = row["value"].partition("=")
    return {"key": key, "value": value, "pipelinesCount": row["count"]}


class PipelinesCountApi(APIView):
    """``GET /api/stats/pipelinescount``: how many pipelines the list's filters show."""

    @extend_schema(
        operation_id="stats_pipelines_count",
        parameters=list_parameters(selectors.PIPELINE_LIST_FILTERS, ())[3:],
        responses={
            200: inline_serializer("StatsPipelinesCount", {"count": serializers.IntegerField()}),
            **errors(400, 401),
        },
    )
    def get(self, request: Request) -> Response:
        return Response({"count": selectors.pipeline_list(filters=_query(request).filters).order_by().count()})


class CatalogFiltersApi(APIView):
    """``GET /api/catalog/filters``: the label keys the catalog offers as facets (``catalog.filters`` of
    ``ESTAFETTE_CONFIG_FILE``; none by default, as Estafette)."""

    @extend_schema(
        operation_id="catalog_filters",
        responses={200: {"type": "array", "items": {"type": "string"}}, **errors(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(list(settings.CATALOG_FILTERS))


class CatalogFilterValuesApi(APIView):
    """``GET /api/catalog/filtervalues?filter[labels]=<key>``: the values of a label key among the pipelines that are
    not archived, each with its number of pipelines, by value (Estafette's default key: ``type``)."""

    @extend_schema(
        operation_id="catalog_filter_values",
        responses={200: FrequentLabelSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        key = request.query_params.get("filter[labels]", "").strip() or "type"
        if "\x00" in key or len(key) > 256:
            raise BadRequest("filter[labels] must be a label key of at most 256 characters")
        rows = (
            PipelineFacet.objects.filter(kind=FacetKind.LABEL, value__startswith=f"{key}=", pipeline__archived=False)
            .values("value")
            .annotate(count=Count("pipeline_id", distinct=True))
            .order_by("value")
        )
        return Response([_label(row) for row in rows])
