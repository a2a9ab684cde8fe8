"""``GET /api/pipelines/{source}/{owner}/{name}/stats/hints``: right-sizing hints (``runs.hints``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors
from pipelines.selectors import pipeline_get
from runs import hints

_HINT = inline_serializer(
    "ResourceHint",
    {
        "kind": serializers.CharField(help_text="build, release or bot"),
        "resource": serializers.ChoiceField(["cpu", "memory"]),
        "runs": serializers.IntegerField(help_text="measured succeeded runs read (the latest)"),
        "p95": serializers.FloatField(help_text="95th percentile of the runs' peaks: cores or bytes"),
        "peak": serializers.FloatField(help_text="the largest peak: cores or bytes"),
        "request": serializers.FloatField(allow_null=True, help_text="the configured request; null when none"),
        "suggested": serializers.FloatField(help_text="the request to set: cores or bytes"),
        "verdict": serializers.ChoiceField(["lower", "raise", "ok", "unset"]),
        "message": serializers.CharField(),
    },
    many=True,
)


class PipelineHintsApi(APIView):
    @extend_schema(
        operation_id="pipeline_stats_hints",
        summary="Right-sizing hints of a pipeline's jobs",
        description=(hints.__doc__ or "").strip(),
        responses={200: inline_serializer("ResourceHints", {"hints": _HINT}), **errors(401, 403, 404)},
    )
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = pipeline_get(repo_source=source, repo_owner=owner, repo_name=name)
        found: list[dict[str, Any]] = [
            {
                "kind": hint.kind,
                "resource": hint.resource,
                "runs": hint.runs,
                "p95": hint.p95,
                "peak": hint.peak,
                "request": hint.request,
                "suggested": hint.suggested,
                "verdict": hint.verdict,
                "message": hint.message,
            }
            for hint in hints.pipeline_hints(pipeline_id=pipeline.pk)
        ]
        return Response({"hints": found})
