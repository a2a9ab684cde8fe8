"""``GET /api/logs/search?q=…``: the log lines of every run the caller may see that contain what ``q`` asks for."""

from __future__ import annotations

from urllib.parse import quote, urlencode

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
from estafette.lib.listing import MAX_PAGE_SIZE
from estafette.lib.serializers import TimestampField
from runs.log_search import MAX_QUERY_CHARS, SQLITE_CANDIDATES, LogSearchPage, log_search, parse_log_query
from runs.models import LogSearchLine
from runs.registry import run_kind

DEFAULT_SEARCH_PAGE_SIZE = 50

SEARCH_HELP = f"""Words and "quoted phrases" a line must all contain (each as written, case-insensitive; a word such as
`ERR_CONN_RESET` matches that sequence of letters and digits), and qualifiers narrowing the runs:
`pipeline:owner/name` (or `name`, or `source/owner/name`), `branch:main`, `status:failed` (or `status:failed,canceled`),
`since:7d` (`12h`, `2w`, Estafette's `1h`…`1y`, or an ISO 8601 date or time, UTC unless it names a zone). The same
qualifier twice matches either value; different qualifiers must all match. Text containing a colon must be quoted.
At most {MAX_QUERY_CHARS} characters; anything else is a 400 saying how to write it."""


def log_line_link(line: LogSearchLine, pipeline_path: str) -> str:
    """The web UI's address of the line: the run's log tab and an anchor naming the step and the line
    (``#step=<name>&line=<n>``, ``&service=1`` for a service container), which the log page opens and highlights."""
    segment = run_kind(line.run_kind).segment
    anchor = {"step": line.step.name, "line": str(line.line)}
    if line.step.kind == "service":
        anchor["service"] = "1"
    return f"/pipelines/{pipeline_path}/{segment}/{line.run_id}/logs#{urlencode(anchor, quote_via=quote)}"


def render(page: LogSearchPage) -> list[dict[str, object]]:
    timestamp = TimestampField()
    items = []
    for line in page.lines:
        pipeline = page.pipelines.get(line.pipeline_id)
        if pipeline is None:  # deleted between the two reads
            continue
        path = "/".join(
            quote(part, safe="") for part in (pipeline.repo_source, pipeline.repo_owner, pipeline.repo_name)
        )
        items.append(
            {
                "repoSource": pipeline.repo_source,
                "repoOwner": pipeline.repo_owner,
                "repoName": pipeline.repo_name,
                "runKind": line.run_kind,
                "runId": str(line.run_id),
                "logId": str(line.record_id),
                "attempt": line.record.attempt,
                "step": line.step.name,
                "parentStage": line.step.parent_stage,
                "stepId": str(line.step_id),
                "line": line.line,
                "text": line.text,
                "insertedAt": timestamp.to_representation(line.inserted_at),
                "link": log_line_link(line, path),
            }
        )
    return items


_HIT = inline_serializer(
    "LogSearchHit",
    {
        "repoSource": serializers.CharField(),
        "repoOwner": serializers.CharField(),
        "repoName": serializers.CharField(),
        "runKind": serializers.CharField(help_text="build, release or bot"),
        "runId": serializers.CharField(),
        "logId": serializers.CharField(help_text="the attempt's log (…/logsbyid/{logId})"),
        "attempt": serializers.IntegerField(),
        "step": serializers.CharField(help_text="the stage or service the line belongs to"),
        "parentStage": serializers.CharField(help_text="for a parallel stage or a service: its stage; else empty"),
        "stepId": serializers.CharField(),
        "line": serializers.IntegerField(help_text="the line's number within its step"),
        "text": serializers.CharField(help_text="the line as stored (masked)"),
        "insertedAt": TimestampField(),
        "link": serializers.CharField(help_text="the web UI's address opening the log at this line"),
    },
    many=True,
)


class LogSearchApi(APIView):
    @extend_schema(
        operation_id="logs_search",
        summary="Search the logs of every run",
        description=(
            "The log lines of builds, releases and bot runs of the pipelines the caller may see that contain every "
            "word and phrase of `q`, newest first, found through the database's full-text index (SQLite FTS5, "
            "PostgreSQL and CockroachDB `tsvector` with an inverted index). Pruned logs are not found. On SQLite the "
            f"search looks at the newest {SQLITE_CANDIDATES} lines containing the words, before the qualifiers "
            "narrow them; PostgreSQL and CockroachDB have no such limit."
        ),
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True, description=SEARCH_HELP),
            OpenApiParameter("page[number]", OpenApiTypes.INT, description="page number, from 1"),
            OpenApiParameter(
                "page[size]",
                OpenApiTypes.INT,
                description=f"lines per page, 1 to {MAX_PAGE_SIZE} ({DEFAULT_SEARCH_PAGE_SIZE})",
            ),
        ],
        responses={
            200: inline_serializer(
                "LogSearchResult",
                {
                    "items": _HIT,
                    "pagination": inline_serializer(
                        "LogSearchPagination",
                        {
                            "page": serializers.IntegerField(),
                            "size": serializers.IntegerField(),
                            "hasMore": serializers.BooleanField(help_text="whether the next page has lines"),
                        },
                    ),
                },
            ),
            **errors(400, 401, 403),
        },
    )
    def get(self, request: Request) -> Response:
        query = parse_log_query(request.query_params.get("q", ""), now=timezone.now())
        page = _number(request, "page[number]", default=1, maximum=1000)
        size = _number(request, "page[size]", default=DEFAULT_SEARCH_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        found = log_search(query, within=visible_to(request), page=page, size=size)
        return Response({"items": render(found), "pagination": {"page": page, "size": size, "hasMore": found.has_more}})


def _number(request: Request, name: str, *, default: int, maximum: int) -> int:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"{name} must be a whole number from 1 to {maximum}, got {raw!r}")
    return int(raw)
