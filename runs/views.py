"""One set of run views for every run kind: the lists (of all pipelines and of one), a run and its cancel, its logs
(the latest attempt's, each attempt's and the list of attempts) and its live tail.

The views are generic: each reads what differs from its ``kind``, a registered ``runs.registry.RunKind`` (its model
and list filters, how a URL names one of its runs, its serializers, the log document's fields, its cancel service).
``run_urlpatterns(kind)`` gives a kind its routes — Estafette's paths and the route names the web UI and the tests use
(``pipeline-build-logs``…) — each served by a subclass of the view that names the kind and describes its operations
in the OpenAPI document (``pipeline_build_logs``…). A kind's own commands stay with its app: it passes the view of
``…/<segment>`` with its ``post`` (rebuild a build, create a release or a bot run), built on ``PipelineRunsApi`` and
the helpers here (the pipeline in the path, the command bodies, the acting user).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.http import StreamingHttpResponse
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.errors import BadRequest, NotFound
from estafette.lib.listing import page_of, parse_list_query
from pipelines.models import Pipeline
from pipelines.selectors import pipeline_get
from runs import selectors
from runs.log_document import log_document_response
from runs.models import LogRecord
from runs.registry import RunKind
from runs.serializers import LogRecordSerializer, LogSerializer
from runs.tail import TAIL_RENDERERS, log_tail_response, tail_user

PIPELINE = "pipelines/<str:source>/<str:owner>/<str:name>"
DEFAULT_SORT = ("-inserted_at",)

# -- what the kinds' command views share --------------------------------------------------------


def pipeline_from_path(kwargs: dict[str, Any]) -> Pipeline:
    return pipeline_get(repo_source=kwargs["source"], repo_owner=kwargs["owner"], repo_name=kwargs["name"])


def check_body_matches_pipeline(data: dict[str, Any], pipeline: Pipeline) -> None:
    """Estafette's command bodies repeat the repository; when they do, it must be the URL's."""
    for field, expected in (
        ("repo_source", pipeline.repo_source),
        ("repo_owner", pipeline.repo_owner),
        ("repo_name", pipeline.repo_name),
    ):
        sent = data.get(field)
        if sent and sent != expected:
            raise BadRequest(f"the body names {field} {sent!r} but the URL names {expected!r}")


def actor_email(request: Request) -> str:
    user = request.user
    return user.email or user.get_username()


LOG_STREAM_SCHEMA = {
    "responses": {
        (200, "text/event-stream"): OpenApiResponse(
            OpenApiTypes.STR,
            description="Server-Sent Events: `log` (data: a TailLogLine), `ping` every 5 s, `close` at the end",
        ),
        **errors(400, 401, 404, 429, 503),
    },
}

# -- the views -----------------------------------------------------------------------------------

# The OpenAPI operations of one view for one kind: {method: extend_schema(...)}.
Operations = dict[str, Callable[[Any], Any]]


class RunView(APIView):
    """A view of one kind's runs. ``kind`` is set by the subclass ``run_urlpatterns`` makes for each kind."""

    kind: ClassVar[RunKind]

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        """What the OpenAPI document says of this view's methods for ``kind``."""
        raise NotImplementedError

    def pipeline(self) -> Pipeline:
        """The pipeline the path names; ``NotFound`` when there is none."""
        return pipeline_from_path(self.kwargs)

    def run(self) -> Any:
        """The run the path names, of the pipeline the path names: ``BadRequest`` or ``NotFound`` otherwise."""
        return selectors.run_get(self.kind, pipeline_id=self.pipeline().pk, key=self.kwargs[run_key(self.kind)])

    def page(self, request: Request, *, pipeline_id: int | None = None) -> Response:
        """One page of the kind's runs, of one pipeline or of all, with Estafette's filters, sort and envelope."""
        kind = self.kind
        query = parse_list_query(
            request.query_params, filters=kind.list_filters, sort_fields=kind.sort_fields, default_sort=DEFAULT_SORT
        )
        page = page_of(
            selectors.run_list(kind, filters=query.filters, pipeline_id=pipeline_id),
            query,
            total=selectors.run_total(kind, filters=query.filters, pipeline_id=pipeline_id),
        )
        return Response(page.envelope(lambda runs: kind.serializer(runs, many=True).data))

    def log(self, run: Any, record: LogRecord | None) -> StreamingHttpResponse:
        if record is None:
            raise NotFound(f"{self.kind.label} {run.pk} has no logs yet")
        return log_document_response(record, run_fields=self.kind.log_fields(run))


def run_key(kind: RunKind) -> str:
    """The path parameter naming one run of ``kind``: ``build_id``, ``release_id``, ``bot_id``."""
    return f"{kind.name}_id"


def operation(
    kind: RunKind,
    operation_id: str,
    text: str,
    *,
    responses: dict[Any, Any],
    parameters: list[OpenApiParameter] | None = None,
    of_one_run: bool = True,
) -> Callable[[Any], Any]:
    """One operation of ``kind`` in the OpenAPI document: its id, its description (``text`` with the kind's
    ``{segment}``, ``{label}`` and ``{plural}``) and, for a route of one run, what names the run in its path."""
    plural = str(kind.model._meta.verbose_name_plural)
    run = OpenApiParameter(run_key(kind), OpenApiTypes.STR, OpenApiParameter.PATH, description=kind.key_help)
    return extend_schema(
        operation_id=operation_id,
        description=text.format(segment=kind.segment, label=kind.label, plural=plural),
        parameters=[*([run] if of_one_run else []), *(parameters or [])],
        responses=responses,
    )


class RunListApi(RunView):
    """``GET /api/<segment>``: the kind's runs of all pipelines, newest first."""

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        text = "``GET /api/{segment}``: {plural} of all pipelines, newest first."
        envelope = list_envelope(kind.serializer, component_name(kind.serializer))
        return {
            "get": operation(
                kind,
                f"{kind.segment}_list",
                text,
                parameters=list_parameters(kind.list_filters, kind.sort_fields),
                responses={200: envelope, **errors(400, 401)},
                of_one_run=False,
            )
        }

    def get(self, request: Request) -> Response:
        return self.page(request)


class PipelineRunsApi(RunView):
    """``GET …/<segment>``: the pipeline's runs of the kind, newest first. A kind's subclass adds its ``post``."""

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        text = "``GET …/{segment}``: the pipeline's {plural}, newest first."
        envelope = list_envelope(kind.serializer, f"Pipeline{component_name(kind.serializer)}")
        return {
            "get": operation(
                kind,
                f"pipeline_{kind.segment}_list",
                text,
                parameters=list_parameters(kind.list_filters, kind.sort_fields),
                responses={200: envelope, **errors(400, 401, 404)},
                of_one_run=False,
            )
        }

    def get(self, request: Request, **path: str) -> Response:
        return self.page(request, pipeline_id=self.pipeline().pk)


class PipelineRunApi(RunView):
    """``GET …/<segment>/{id}``: one run; ``DELETE``: cancel it (the kind's cancel service)."""

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        text = "``GET …/{segment}/{{id}}``: one {label}; ``DELETE``: cancel it."
        detail = kind.detail_serializer or kind.serializer
        return {
            "get": operation(kind, f"pipeline_{kind.name}_get", text, responses={200: detail, **errors(400, 401, 404)}),
            "delete": operation(
                kind,
                f"pipeline_{kind.name}_cancel",
                text,
                responses={200: kind.serializer, **errors(400, 401, 404, 409)},
            ),
        }

    def get(self, request: Request, **path: str) -> Response:
        return Response((self.kind.detail_serializer or self.kind.serializer)(self.run()).data)

    def delete(self, request: Request, **path: str) -> Response:
        return Response(self.kind.serializer(self.kind.cancel(self.run(), None)).data)


class RunLogsApi(RunView):
    """``GET …/<segment>/{id}/logs``: the log of the run's latest attempt."""

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        text = "``GET …/{segment}/{{id}}/logs``: the log of the {label}'s latest attempt."
        responses = {200: LogSerializer, **errors(400, 401, 404)}
        return {"get": operation(kind, f"pipeline_{kind.name}_logs", text, responses=responses)}

    def get(self, request: Request, **path: str) -> StreamingHttpResponse:
        run = self.run()
        return self.log(run, selectors.log_record_latest(run_kind=self.kind.name, run_id=run.pk))


class RunLogByIdApi(RunView):
    """``GET …/<segment>/{id}/logsbyid/{logId}``: the log of one attempt."""

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        text = "``GET …/{segment}/{{id}}/logsbyid/{{logId}}``: the log of one attempt."
        responses = {200: LogSerializer, **errors(400, 401, 404)}
        return {"get": operation(kind, f"pipeline_{kind.name}_log_by_id", text, responses=responses)}

    def get(self, request: Request, **path: str) -> StreamingHttpResponse:
        run = self.run()
        return self.log(
            run, selectors.log_record_get(run_kind=self.kind.name, run_id=run.pk, record_id=self.kwargs["log_id"])
        )


class RunLogRecordsApi(RunView):
    """``GET …/<segment>/{id}/alllogs``: the run's log records (one per attempt), newest first."""

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        text = "``GET …/{segment}/{{id}}/alllogs``: the {label}'s log records (one per attempt), newest first."
        responses = {200: LogRecordSerializer(many=True), **errors(400, 401, 404)}
        return {"get": operation(kind, f"pipeline_{kind.name}_all_logs", text, responses=responses)}

    def get(self, request: Request, **path: str) -> Response:
        records = selectors.log_records_of_run(run_kind=self.kind.name, run_id=self.run().pk)
        return Response(LogRecordSerializer(records, many=True).data)


class RunLogStreamApi(RunView):
    """``GET …/<segment>/{id}/logs.stream``: the live tail of the run's log (SSE)."""

    renderer_classes = TAIL_RENDERERS

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        text = "``GET …/{segment}/{{id}}/logs.stream``: the live tail of the {label}'s log (SSE)."
        return {"get": operation(kind, f"pipeline_{kind.name}_log_stream", text, **LOG_STREAM_SCHEMA)}

    def get(self, request: Request, **path: str) -> StreamingHttpResponse:
        return log_tail_response(kind=self.kind.name, run_id=self.run().pk, user=tail_user(request))


def component_name(serializer: type[Any]) -> str:
    """The OpenAPI component drf-spectacular names after ``serializer``: ``BuildSerializer`` → ``Build``."""
    return serializer.__name__.removesuffix("Serializer")


def for_kind(view: type[RunView], kind: RunKind) -> type[RunView]:
    """``view`` serving ``kind``: a subclass that names the kind and describes its operations."""
    subclass = type(f"{view.__name__}_{kind.name}", (view,), {"kind": kind, "__module__": view.__module__})
    return extend_schema_view(**view.operations(kind))(subclass)


def run_urlpatterns(kind: RunKind, *, pipeline_runs: type[PipelineRunsApi] = PipelineRunsApi) -> list[URLPattern]:
    """The routes of ``kind``'s runs, under ``/api/``: ``<segment>`` (all pipelines), ``…/<segment>`` (one pipeline's,
    served by ``pipeline_runs``: the kind's own view when it takes a command there), ``…/<segment>/{<kind>_id>}`` and
    its logs. Route names: ``<segment>``, ``pipeline-<segment>``, ``pipeline-<kind>``, ``pipeline-<kind>-logs``,
    ``-tail``, ``-alllogs``, ``-log-by-id``."""
    one = f"{PIPELINE}/{kind.segment}/<str:{run_key(kind)}>"
    routes: list[tuple[str, type[RunView], str]] = [
        (kind.segment, RunListApi, kind.segment),
        (f"{PIPELINE}/{kind.segment}", pipeline_runs, f"pipeline-{kind.segment}"),
        (one, PipelineRunApi, f"pipeline-{kind.name}"),
        (f"{one}/logs", RunLogsApi, f"pipeline-{kind.name}-logs"),
        (f"{one}/logs.stream", RunLogStreamApi, f"pipeline-{kind.name}-tail"),
    ]
    if kind.log_attempt_routes:
        routes += [
            (f"{one}/alllogs", RunLogRecordsApi, f"pipeline-{kind.name}-alllogs"),
            (f"{one}/logsbyid/<str:log_id>", RunLogByIdApi, f"pipeline-{kind.name}-log-by-id"),
        ]
    return [path(route, for_kind(view, kind).as_view(), name=name) for route, view, name in routes]
