"""``GET /api/insights/dora``: the DORA metrics of production releases (``releases.insights`` defines them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.access.visibility import visible_to
from estafette.lib.api_docs import errors
from estafette.lib.errors import BadRequest
from estafette.lib.listing import Filters
from estafette.lib.serializers import TimestampField
from pipelines.models import Pipeline
from releases import insights
from releases.insights import Definitions, Metrics, Window

DEFAULT_DAYS = 30
MAX_DAYS = 366
_AGE = re.compile(r"^(\d{1,3})([dw])$")
_NAMED = {"1w": 7, "1m": 31, "1y": 366}
_ALLOWED = {"filter[since]", "filter[labels]", "filter[pipeline]"}


def _window(raw: str | None, *, now: datetime) -> Window:
    if not raw:
        return Window(since=now - timedelta(days=DEFAULT_DAYS), until=now)
    if raw in _NAMED:
        return Window(since=now - timedelta(days=_NAMED[raw]), until=now)
    age = _AGE.match(raw)
    if age is not None:
        days = int(age.group(1)) * (7 if age.group(2) == "w" else 1)
        if not 1 <= days <= MAX_DAYS:
            raise BadRequest(f"filter[since] covers 1 to {MAX_DAYS} days, got {raw!r}")
        return Window(since=now - timedelta(days=days), until=now)
    try:
        since = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"filter[since] takes 30d, 12w, 1w, 1m, 1y or an ISO 8601 date or time (UTC unless it names a zone), "
            f"got {raw!r}"
        ) from None
    since = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    if not now - timedelta(days=MAX_DAYS) <= since < now:
        raise BadRequest(f"filter[since] must be in the last {MAX_DAYS} days and before now, got {raw!r}")
    return Window(since=since, until=now)


def _pipeline_ids(raw: str | None) -> list[int] | None:
    if not raw:
        return None
    parts = raw.strip("/").split("/")
    fields = {1: ("repo_name",), 2: ("repo_owner", "repo_name"), 3: ("repo_source", "repo_owner", "repo_name")}
    if len(parts) not in fields:
        raise BadRequest(f"filter[pipeline] takes name, owner/name or source/owner/name, got {raw!r}")
    return list(
        Pipeline.objects.filter(**dict(zip(fields[len(parts)], parts, strict=True))).values_list("pk", flat=True)
    )


def _labels(values: list[str]) -> tuple[tuple[str, str], ...]:
    labels = []
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise BadRequest(f"filter[labels] must look like key=value, got {raw!r}")
        labels.append((key.strip(), value.strip()))
    return tuple(labels)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def render_metrics(current: Metrics, previous: Metrics) -> dict[str, Any]:
    lead, lead_before = current.lead_time, previous.lead_time
    restore, restore_before = current.time_to_restore, previous.time_to_restore
    return {
        "deploymentFrequency": {
            "perDay": _rate(current.deployment_frequency),
            "deployments": current.deployments,
            "previousPerDay": _rate(previous.deployment_frequency),
            "trend": insights.trend(current.deployment_frequency, previous.deployment_frequency, higher_is_better=True),
            "band": insights.band_at_least(current.deployment_frequency, insights.DEPLOYMENT_FREQUENCY_BANDS)
            if current.deployments
            else None,
        },
        "leadTimeForChanges": {
            "seconds": _seconds(lead),
            "previousSeconds": _seconds(lead_before),
            "trend": insights.trend(lead, lead_before, higher_is_better=False),
            "band": insights.band_at_most(lead, insights.LEAD_TIME_BANDS),
        },
        "changeFailureRate": {
            "rate": _rate(current.change_failure_rate),
            "changes": current.changes,
            "failedChanges": current.failed_changes,
            "previousRate": _rate(previous.change_failure_rate),
            "trend": insights.trend(current.change_failure_rate, previous.change_failure_rate, higher_is_better=False),
            "band": insights.band_at_most(current.change_failure_rate, insights.CHANGE_FAILURE_BANDS),
        },
        "timeToRestore": {
            "seconds": _seconds(restore),
            "failures": current.failures,
            "unrestored": current.unrestored,
            "previousSeconds": _seconds(restore_before),
            "trend": insights.trend(restore, restore_before, higher_is_better=False),
            "band": insights.band_at_most(restore, insights.RESTORE_BANDS),
        },
    }


_TREND = serializers.ChoiceField(["better", "worse", "same"], allow_null=True, help_text="against the window before")
_BAND = serializers.ChoiceField(
    ["elite", "high", "medium", "low"], allow_null=True, help_text="DORA 2023 band; null without data"
)
_METRICS = inline_serializer(
    "DoraMetrics",
    {
        "deploymentFrequency": inline_serializer(
            "DoraDeploymentFrequency",
            {
                "perDay": serializers.FloatField(),
                "deployments": serializers.IntegerField(),
                "previousPerDay": serializers.FloatField(),
                "trend": _TREND,
                "band": _BAND,
            },
        ),
        "leadTimeForChanges": inline_serializer(
            "DoraLeadTime",
            {
                "seconds": serializers.FloatField(allow_null=True, help_text="median; null without deployments"),
                "previousSeconds": serializers.FloatField(allow_null=True),
                "trend": _TREND,
                "band": _BAND,
            },
        ),
        "changeFailureRate": inline_serializer(
            "DoraChangeFailureRate",
            {
                "rate": serializers.FloatField(allow_null=True, help_text="0 to 1; null without changes"),
                "changes": serializers.IntegerField(),
                "failedChanges": serializers.IntegerField(),
                "previousRate": serializers.FloatField(allow_null=True),
                "trend": _TREND,
                "band": _BAND,
            },
        ),
        "timeToRestore": inline_serializer(
            "DoraTimeToRestore",
            {
                "seconds": serializers.FloatField(allow_null=True, help_text="median; null without restored failures"),
                "failures": serializers.IntegerField(),
                "unrestored": serializers.IntegerField(),
                "previousSeconds": serializers.FloatField(allow_null=True),
                "trend": _TREND,
                "band": _BAND,
            },
        ),
    },
)
# One class, an instance per field: a field instance bound twice in one serializer keeps only its last name.
_WindowSerializer = type(inline_serializer("DoraWindow", {"since": TimestampField(), "until": TimestampField()}))

DORA_DESCRIPTION = (insights.__doc__ or "").split("Definitions", 1)[-1].strip()


class DoraApi(APIView):
    @extend_schema(
        operation_id="insights_dora",
        summary="Delivery insights: the DORA metrics of production releases",
        description="Definitions " + DORA_DESCRIPTION,
        parameters=[
            OpenApiParameter(
                "filter[since]",
                OpenApiTypes.STR,
                description=f"the window's start: 30d, 12w, 1w, 1m, 1y or an ISO 8601 date or time (UTC unless it "
                f"names a zone); the window ends now. Default {DEFAULT_DAYS}d, at most {MAX_DAYS} days",
            ),
            OpenApiParameter(
                "filter[labels]", OpenApiTypes.STR, many=True, description="key=value, repeatable; all must match"
            ),
            OpenApiParameter("filter[pipeline]", OpenApiTypes.STR, description="name, owner/name or source/owner/name"),
        ],
        responses={
            200: inline_serializer(
                "DoraReport",
                {
                    "window": _WindowSerializer(),
                    "previousWindow": _WindowSerializer(),
                    "productionTargets": serializers.ListField(child=serializers.CharField()),
                    "overall": _METRICS,
                    "pipelines": inline_serializer(
                        "DoraPipeline",
                        {
                            "repoSource": serializers.CharField(),
                            "repoOwner": serializers.CharField(),
                            "repoName": serializers.CharField(),
                            "metrics": _METRICS,
                        },
                        many=True,
                    ),
                    "labels": inline_serializer(
                        "DoraLabel", {"label": serializers.CharField(), "metrics": _METRICS}, many=True
                    ),
                },
            ),
            **errors(400, 401, 403),
        },
    )
    def get(self, request: Request) -> Response:
        unknown = sorted(key for key in request.query_params if key.startswith("filter") and key not in _ALLOWED)
        if unknown:
            raise BadRequest(f"unknown filter {unknown[0]!r}; this report takes {', '.join(sorted(_ALLOWED))}")
        window = _window(request.query_params.get("filter[since]", "").strip() or None, now=timezone.now())
        filters = Filters(labels=_labels(request.query_params.getlist("filter[labels]")), within=visible_to(request))
        report = insights.dora_report(
            window=window,
            filters=filters,
            pipeline_ids=_pipeline_ids(request.query_params.get("filter[pipeline]", "").strip() or None),
            definitions=Definitions.from_settings(),
        )
        stamp = TimestampField().to_representation
        return Response(
            {
                "window": {"since": stamp(window.since), "until": stamp(window.until)},
                "previousWindow": {"since": stamp(window.previous.since), "until": stamp(window.previous.until)},
                "productionTargets": list(report.definitions.production_targets),
                "overall": render_metrics(*report.overall),
                "pipelines": [
                    {
                        "repoSource": pipeline.repo_source,
                        "repoOwner": pipeline.repo_owner,
                        "repoName": pipeline.repo_name,
                        "metrics": render_metrics(current, previous),
                    }
                    for pipeline, current, previous in report.pipelines
                ],
                "labels": [
                    {"label": label, "metrics": render_metrics(current, previous)}
                    for label, current, previous in report.labels
                ],
            }
        )
