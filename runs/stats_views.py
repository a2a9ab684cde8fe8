"""Estafette's statistics routes for every run kind (``runs.stats`` reads them): ``/api/stats/<segment>count``,
``<segment>duration``, ``<segment>adoption``, ``most<segment>``, and a pipeline's ``…/stats/<segment>durations``,
``<segment>cpu`` and ``<segment>memory``. ``stats_urlpatterns(kind)`` gives a kind its routes (``run_urlpatterns``
calls it), each a subclass naming the kind, as the run views do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors, list_parameters
from estafette.lib.errors import BadRequest
from estafette.lib.ids import is_id
from estafette.lib.listing import Filters, ListQuery, Page, parse_list_query
from estafette.lib.serializers import TimestampField
from pipelines.selectors import pipeline_get
from runs import stats
from runs.models import RunStatus
from runs.registry import RunKind

PIPELINE = "pipelines/<str:source>/<str:owner>/<str:name>"
STATS_FILTERS = ("status", "since")


def _query(request: Request) -> ListQuery:
    return parse_list_query(request.query_params, filters=STATS_FILTERS, sort_fields=(), default_sort=())


def _last(request: Request) -> int:
    """``filter[last]``: how many of the latest runs (Estafette's default 100), at most ``stats.MAX_LAST``."""
    raw = request.query_params.get("filter[last]", "").strip()
    if not raw:
        return stats.DEFAULT_LAST
    if not is_id(raw) or not 1 <= int(raw) <= stats.MAX_LAST:
        raise BadRequest(f"filter[last] must be a whole number from 1 to {stats.MAX_LAST}, got {raw!r}")
    return int(raw)


def _succeeded_unless_asked(request: Request, filters: Filters) -> Filters:
    # Estafette's charts show succeeded runs unless the query names statuses (``filter[status]=all``: every run).
    if "filter[status]" in request.query_params:
        return filters
    return replace(filters, statuses=frozenset({RunStatus.SUCCEEDED}))


class StatsView(APIView):
    kind: ClassVar[RunKind]


class RunCountApi(StatsView):
    def get(self, request: Request) -> Response:
        return Response({"count": stats.run_count(self.kind, filters=_query(request).filters)})


class RunTotalDurationApi(StatsView):
    def get(self, request: Request) -> Response:
        return Response({"duration": stats.run_total_duration_ns(self.kind, filters=_query(request).filters)})


class RunAdoptionApi(StatsView):
    def get(self, request: Request) -> Response:
        field = TimestampField()
        return Response({"datetimes": [field.to_representation(first) for first in stats.run_adoption(self.kind)]})


class MostRunsApi(StatsView):
    def get(self, request: Request) -> Response:
        query = _query(request)
        ranking = stats.pipelines_with_most_runs(self.kind, filters=query.filters)
        rows = list(ranking[query.offset : query.offset + query.size])
        page = Page(items=rows, page=query.page, size=query.size, total_items=ranking.count())
        return Response(page.envelope(lambda items: [stats.ranking_row(row) for row in items]))


class PipelineRunDurationsApi(StatsView):
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_get(repo_source=source, repo_owner=owner, repo_name=name)
        filters = _succeeded_unless_asked(request, _query(request).filters)
        durations = stats.run_durations(self.kind, pipeline_id=pipeline.pk, filters=filters, last=_last(request))
        field = TimestampField()
        return Response(
            {"durations": [{**d, "insertedAt": field.to_representation(d["insertedAt"])} for d in durations]}
        )


class PipelineRunMeasurementsApi(StatsView):
    measurement: ClassVar[str]

    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_get(repo_source=source, repo_owner=owner, repo_name=name)
        filters = _succeeded_unless_asked(request, _query(request).filters)
        rows = stats.run_measurements(
            self.kind, measurement=self.measurement, pipeline_id=pipeline.pk, filters=filters, last=_last(request)
        )
        field = TimestampField()
        return Response(
            {"measurements": [{**row, "insertedAt": field.to_representation(row["insertedAt"])} for row in rows]}
        )


class PipelineRunCpuApi(PipelineRunMeasurementsApi):
    measurement = "cpu"


class PipelineRunMemoryApi(PipelineRunMeasurementsApi):
    measurement = "memory"


# -- the OpenAPI document --------------------------------------------------------------------------------

_LAST = OpenApiParameter(
    "filter[last]", OpenApiTypes.INT, description=f"the latest N runs ({stats.DEFAULT_LAST}; at most {stats.MAX_LAST})"
)
_OF_STATUS = OpenApiParameter(
    "filter[status]", OpenApiTypes.STR, description="run status (default succeeded), repeatable, or all"
)


def _answer(name: str, fields: dict[str, serializers.Field]) -> Any:
    return inline_serializer(name, fields)


def _item(kind: RunKind, name: str, fields: dict[str, serializers.Field]) -> Any:
    own = {field: serializers.CharField() for field in kind.stats_fields}
    return _answer(name, {"insertedAt": TimestampField(), **own, **fields})


def _operations(kind: RunKind) -> dict[type[StatsView], tuple[str, Callable[[Any], Any]]]:
    """Each view's route (under /api/) and OpenAPI operation for ``kind``."""
    seg, title = kind.segment, kind.segment.capitalize()
    ranking = _answer(
        f"Most{title}",
        {
            "repo_source": serializers.CharField(),
            "repo_owner": serializers.CharField(),
            "repo_name": serializers.CharField(),
            "nr_records": serializers.IntegerField(),
        },
    )
    ranking_page = _answer(
        f"Most{title}List",
        {"items": serializers.ListField(child=ranking), "pagination": _answer(f"Most{title}Pagination", _PAGINATION)},
    )
    per_run = [_OF_STATUS, _LAST]
    count_parameters = list_parameters(STATS_FILTERS, ())[3:]
    return {
        RunCountApi: (
            f"stats/{seg}count",
            extend_schema(
                operation_id=f"stats_{seg}_count",
                description=f"How many {seg} match the filters.",
                parameters=count_parameters,
                responses={
                    200: _answer(f"Stats{title}Count", {"count": serializers.IntegerField()}),
                    **errors(400, 401),
                },
            ),
        ),
        RunTotalDurationApi: (
            f"stats/{seg}duration",
            extend_schema(
                operation_id=f"stats_{seg}_duration",
                description=f"The summed run time of the finished {seg} that match the filters (nanoseconds).",
                parameters=count_parameters,
                responses={
                    200: _answer(f"Stats{title}Duration", {"duration": serializers.IntegerField()}),
                    **errors(400, 401),
                },
            ),
        ),
        RunAdoptionApi: (
            f"stats/{seg}adoption",
            extend_schema(
                operation_id=f"stats_{seg}_adoption",
                description=f"When each pipeline ran its first of its {seg}, oldest first.",
                responses={
                    200: _answer(f"Stats{title}Adoption", {"datetimes": serializers.ListField(child=TimestampField())}),
                    **errors(401),
                },
            ),
        ),
        MostRunsApi: (
            f"stats/most{seg}",
            extend_schema(
                operation_id=f"stats_most_{seg}",
                description=f"Pipelines ranked by their number of {seg} matching the filters, most first.",
                parameters=list_parameters(STATS_FILTERS, ())[:2] + count_parameters,
                responses={200: ranking_page, **errors(400, 401)},
            ),
        ),
        PipelineRunDurationsApi: (
            f"{PIPELINE}/stats/{seg}durations",
            extend_schema(
                operation_id=f"pipeline_stats_{seg}_durations",
                description=f"The pending and running time of the pipeline's latest {seg}, oldest first.",
                parameters=per_run,
                responses={
                    200: _answer(
                        f"Stats{title}Durations",
                        {
                            "durations": serializers.ListField(
                                child=_item(kind, f"Stats{title}DurationItem", _DURATIONS)
                            )
                        },
                    ),
                    **errors(400, 401, 404),
                },
            ),
        ),
        PipelineRunCpuApi: (
            f"{PIPELINE}/stats/{seg}cpu",
            _measurement_operation(kind, "cpu", "cpuMaxUsage", "CPU cores", per_run),
        ),
        PipelineRunMemoryApi: (
            f"{PIPELINE}/stats/{seg}memory",
            _measurement_operation(kind, "memory", "memoryMaxUsage", "bytes", per_run),
        ),
    }


_DURATIONS = {"pendingDuration": serializers.IntegerField(), "duration": serializers.IntegerField()}
_PAGINATION = {
    "page": serializers.IntegerField(),
    "size": serializers.IntegerField(),
    "totalPages": serializers.IntegerField(),
    "totalItems": serializers.IntegerField(),
}


def _measurement_operation(
    kind: RunKind, measurement: str, wire: str, unit: str, parameters: list[OpenApiParameter]
) -> Callable[[Any], Any]:
    seg, title = kind.segment, kind.segment.capitalize()
    item = _item(kind, f"Stats{title}{measurement.capitalize()}Item", {wire: serializers.FloatField()})
    return extend_schema(
        operation_id=f"pipeline_stats_{seg}_{measurement}",
        description=(
            f"The measured maximum {measurement} ({unit}) of the pipeline's latest {seg} that have one, oldest first; "
            "empty while the runs carry no measurements."
        ),
        parameters=parameters,
        responses={
            200: _answer(
                f"Stats{title}{measurement.capitalize()}", {"measurements": serializers.ListField(child=item)}
            ),
            **errors(400, 401, 404),
        },
    )


def stats_urlpatterns(kind: RunKind) -> list[URLPattern]:
    """The statistics routes of ``kind``'s runs, under ``/api/``; route names ``stats-<segment>-<view>``."""
    patterns = []
    for view, (route, operation) in _operations(kind).items():
        subclass = type(f"{view.__name__}_{kind.name}", (view,), {"kind": kind, "__module__": view.__module__})
        subclass = extend_schema_view(get=operation)(subclass)
        patterns.append(path(route, subclass.as_view(), name=f"stats-{kind.segment}-{view.__name__}"))
    return patterns
