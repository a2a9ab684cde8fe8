"""OpenAPI descriptions shared by the list endpoints: envelope, query parameters, error body."""

from __future__ import annotations

from collections.abc import Sequence

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from estafette.lib.listing import MAX_PAGE_SIZE, RUN_STATUSES, SINCE
from estafette.lib.serializers import CamelCaseSerializer


class ErrorSerializer(CamelCaseSerializer):
    code = serializers.CharField(help_text="the HTTP status text, e.g. Bad Request")
    message = serializers.CharField(help_text="what was wrong and what to do")


class PaginationSerializer(CamelCaseSerializer):
    page = serializers.IntegerField()
    size = serializers.IntegerField()
    total_pages = serializers.IntegerField()
    total_items = serializers.IntegerField(
        help_text="exact, except on filtered lists across all pipelines, where counting stops at 10000"
    )


def list_envelope(item: type[serializers.Serializer], name: str) -> serializers.Serializer:
    return inline_serializer(
        name=f"{name}List",
        fields={"items": item(many=True), "pagination": PaginationSerializer()},
    )


_FILTER_HELP = {
    "status": f"run status, repeatable or comma-separated: {', '.join(RUN_STATUSES)}, or all",
    "since": f"only recent items: {', '.join(SINCE)}",
    "labels": "key=value, repeatable; all must match",
    "branch": "git branch",
    "search": "part of the repository source, owner or name",
    "target": "release target name",
    "bot": "bot name",
    "recent-committer": "email of someone who committed in the last week",
    "recent-releaser": "email of someone who released in the last week",
    "archived": "true, false (default) or all",
    "groups": "group name, repeatable; pipelines of any of them",
    "organizations": "organization name, repeatable; pipelines of any of them",
}


def list_parameters(filters: Sequence[str], sort_fields: Sequence[str]) -> list[OpenApiParameter]:
    parameters = [
        OpenApiParameter("page[number]", OpenApiTypes.INT, description="page number, from 1"),
        OpenApiParameter("page[size]", OpenApiTypes.INT, description=f"items per page, 1 to {MAX_PAGE_SIZE} (20)"),
        OpenApiParameter(
            "sort",
            OpenApiTypes.STR,
            description=f"comma-separated fields, '-' for descending: {', '.join(sort_fields)}",
        ),
    ]
    parameters += [
        OpenApiParameter(f"filter[{name}]", OpenApiTypes.STR, description=_FILTER_HELP[name]) for name in filters
    ]
    return parameters


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    texts = {
        400: "malformed request",
        401: "not logged in",
        403: "not allowed",
        404: "no such item",
        409: "refused in the current state",
        413: "request body larger than this endpoint takes",
        429: "too many requests: Retry-After says when to try again",
        503: "too busy now; Retry-After says when to try again",
    }
    return {status: OpenApiResponse(ErrorSerializer, description=texts[status]) for status in statuses}
