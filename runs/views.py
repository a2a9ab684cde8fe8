"""One set of run views for every run kind: the lists (of all pipelines and of one), a run and its cancel, its logs
(the latest attempt's, each attempt's and the list of attempts) and its live tail.

The views are generic: each reads what differs from its ``kind``, a registered ``runs.registry.RunKind`` (its model
and list filters, how a URL names one of its runs, its serializers, the log document's fields, its cancel service).
``run_urlpatterns(kind)`` gives a kind its routes — Estafette's paths and the route names the web UI and the tests use
(``pipeline-build-logs``…) — each served by a subclass of the view that names the kind and describes its operations
in the OpenAPI document (``pipeline_build_logs``…). A kind's own commands stay with its app: it passes the view of
``…/<segment>`` with its ``post`` (rebuild a build, create a release or a bot run), a subclass of ``PipelineRunsApi``
(which reads the command's body and who asked).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from django.http import StreamingHttpResponse
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from builder.contracts import BuildLogStep, ContractError
from estafette.access.visibility import visible_to
from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.errors import BadRequest, NotFound
from estafette.lib.listing import page_of, parse_list_query
from pipelines.models import Pipeline
from pipelines.selectors import pipeline_get
from runs import selectors
from runs.api import authorize_job, json_body
from runs.events import manual_event
from runs.log_document import log_document_response
from runs.models import LogRecord
from runs.registry import RunKind
from runs.reports import run_store_posted_log
from runs.serializers import LogRecordSerializer, LogSerializer
from runs.stats_views import stats_urlpatterns
from runs.tail import TAIL_RENDERERS, log_tail_response, tail_user

PIPELINE = "pipelines/<str:source>/<str:owner>/<str:name>"
DEFAULT_SORT = ("-inserted_at",)


def pipeline_from_path(kwargs: dict[str, Any]) -> Pipeline:
    """The pipeline of ``…/pipelines/{source}/{owner}/{name}/…``; ``NotFound`` when there is none."""
    return pipeline_get(repo_source=kwargs["source"], repo_owner=kwargs["owner"], repo_name=kwargs["name"])


# -- the views -----------------------------------------------------------------------------------

# The OpenAPI operations of one view for one kind: {method: extend_schema(...)}.
Operations = dict[str, Callable[[Any], Any]]


class RunView(APIView):
    """A view of one kind's runs. ``kind`` is set by the subclass ``run_urlpatterns`` makes for each kind.

    That subclass is described in the OpenAPI document by ``operations(kind)``: an operation per entry of
    ``operation_ids`` (a method and its operation id, with the kind's ``{segment}`` and ``{name}``), described by
    ``about`` (with the kind's ``{segment}``, ``{label}`` and ``{plural}``) and answering ``answers``.
    """

    kind: ClassVar[RunKind]
    operation_ids: ClassVar[dict[str, str]] = {}
    about: ClassVar[str] = ""
    answers: ClassVar[dict[Any, Any]] = {}
    of_one_run: ClassVar[bool] = True  # the path names one run (``{<kind>_id}``)

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        return {method: cls.operation(kind, method) for method in cls.operation_ids}

    @classmethod
    def operation(
        cls,
        kind: RunKind,
        method: str,
        *,
        responses: dict[Any, Any] | None = None,
        parameters: Sequence[OpenApiParameter] = (),
    ) -> Callable[[Any], Any]:
        """The OpenAPI operation of ``method`` for ``kind`` (``responses`` instead of ``answers`` when given)."""
        plural = str(kind.model._meta.verbose_name_plural)
        run = OpenApiParameter(run_key(kind), OpenApiTypes.STR, OpenApiParameter.PATH, description=kind.key_help)
        return extend_schema(
            operation_id=cls.operation_ids[method].format(segment=kind.segment, name=kind.name),
            description=cls.about.format(segment=kind.segment, label=kind.label, plural=plural),
            parameters=[*([run] if cls.of_one_run else []), *parameters],
            responses=cls.answers if responses is None else responses,
        )

    @classmethod
    def list_operations(cls, kind: RunKind, *, envelope: str, refusals: Sequence[int]) -> Operations:
        """The operation of a list: its filters, its sort fields and a page of the kind's runs (``<envelope>List``)."""
        page = list_envelope(kind.serializer, envelope)
        return {
            "get": cls.operation(
                kind,
                "get",
                parameters=list_parameters(kind.list_filters, kind.sort_fields),
                responses={200: page, **errors(*refusals)},
            )
        }

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
            request.query_params,
            filters=kind.list_filters,
            sort_fields=kind.sort_fields,
            default_sort=DEFAULT_SORT,
            within=visible_to(request),
        )
        query = replace(query, order_by=tuple(_through_pipeline(term) for term in query.order_by))
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


_PIPELINE_SORT_FIELDS = frozenset({"repo_source", "repo_owner", "repo_name"})


def _through_pipeline(term: str) -> str:
    """A sort term on the repository (``-repo_name``) as the run's pipeline's field (``-pipeline__repo_name``)."""
    name = term.lstrip("-")
    return term.replace(name, f"pipeline__{name}") if name in _PIPELINE_SORT_FIELDS else term


def run_key(kind: RunKind) -> str:
    """The path parameter naming one run of ``kind``: ``build_id``, ``release_id``, ``bot_id``."""
    return f"{kind.name}_id"


class RunListApi(RunView):
    """``GET /api/<segment>``: the kind's runs of all pipelines, newest first."""

    operation_ids = {"get": "{segment}_list"}
    about = "``GET /api/{segment}``: {plural} of all pipelines, newest first."
    of_one_run = False

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        return cls.list_operations(kind, envelope=component_name(kind.serializer), refusals=(400, 401))

    def get(self, request: Request) -> Response:
        return self.page(request)


class PipelineRunsApi(RunView):
    """``GET …/<segment>``: the pipeline's runs of the kind, newest first. A kind's subclass adds its command:
    ``post`` (``command_body`` and ``started_by`` read the request)."""

    operation_ids = {"get": "pipeline_{segment}_list"}
    about = "``GET …/{segment}``: the pipeline's {plural}, newest first."
    of_one_run = False

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        envelope = f"Pipeline{component_name(kind.serializer)}"
        return cls.list_operations(kind, envelope=envelope, refusals=(400, 401, 404))

    def get(self, request: Request, **path: str) -> Response:
        return self.page(request, pipeline_id=self.pipeline().pk)

    def command_body(self, request: Request, body: type[Serializer]) -> tuple[Pipeline, dict[str, Any]]:
        """The pipeline in the path and the command's body read with ``body``: ``BadRequest`` when it is malformed or
        names another repository (Estafette's bodies repeat the repository; when they do, it must be the URL's),
        ``NotFound`` when there is no such pipeline."""
        pipeline = self.pipeline()
        command = body(data=request.data)
        command.is_valid(raise_exception=True)
        for field in ("repo_source", "repo_owner", "repo_name"):
            sent, expected = command.validated_data.get(field), getattr(pipeline, field)
            if sent and sent != expected:
                raise BadRequest(f"the body names {field} {sent!r} but the URL names {expected!r}")
        return pipeline, command.validated_data

    def started_by(self, request: Request) -> list[dict[str, Any]]:
        """The events of a run the requesting person starts: Estafette's ``manual`` event with their email."""
        user = request.user
        return [manual_event(user.email or user.get_username())]


class PipelineRunApi(RunView):
    """``GET …/<segment>/{id}``: one run; ``DELETE``: cancel it (the kind's cancel service)."""

    operation_ids = {"get": "pipeline_{name}_get", "delete": "pipeline_{name}_cancel"}
    about = "``GET …/{segment}/{{id}}``: one {label}; ``DELETE``: cancel it."

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        detail = kind.detail_serializer or kind.serializer
        return {
            "get": cls.operation(kind, "get", responses={200: detail, **errors(400, 401, 404)}),
            "delete": cls.operation(kind, "delete", responses={200: kind.serializer, **errors(400, 401, 404, 409)}),
        }

    def get(self, request: Request, **path: str) -> Response:
        return Response((self.kind.detail_serializer or self.kind.serializer)(self.run()).data)

    def delete(self, request: Request, **path: str) -> Response:
        return Response(self.kind.serializer(self.kind.cancel(self.run(), None)).data)


POSTED_LOG_ANSWER = inline_serializer("PostedLogAnswer", {"stored": serializers.BooleanField()})


class RunLogsApi(RunView):
    """``GET …/<segment>/{id}/logs``: the log of the run's latest attempt. ``POST``: a builder posts the run's whole
    log, as Estafette's builders do at the end of a job (``contracts.BuildLog``: its ``steps`` are read), with the
    run's job token; kept as the run's ``posted-log`` attempt (``runs.reports.run_store_posted_log``). People cannot
    post logs: no job token, 401; another run's, 403; once the run is final, 409 as for every builder report."""

    operation_ids = {"get": "pipeline_{name}_logs", "post": "pipeline_{name}_logs_post"}
    about = "``GET …/{segment}/{{id}}/logs``: the log of the {label}'s latest attempt."
    answers = {200: LogSerializer, **errors(400, 401, 404)}

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        posted = POSTED_LOG_ANSWER
        return {
            "get": cls.operation(kind, "get"),
            "post": extend_schema(
                operation_id=cls.operation_ids["post"].format(name=kind.name),
                description=f"A builder posts the {kind.label}'s whole log (Estafette's BuildLog) with its job token.",
                parameters=[OpenApiParameter(run_key(kind), OpenApiTypes.STR, OpenApiParameter.PATH)],
                request={"application/json": OpenApiTypes.OBJECT},
                responses={201: posted, 200: posted, **errors(400, 401, 403, 404, 409, 413)},
            ),
        }

    def get_authenticators(self) -> list[Any]:
        # A builder's POST carries its job token, checked by ``post`` for the run in the path: no session, no CSRF.
        return [] if self._posted() else super().get_authenticators()

    def _posted(self) -> bool:
        request = getattr(self, "request", None)  # None while the OpenAPI document is generated
        return request is not None and request.method == "POST"

    def get(self, request: Request, **path: str) -> StreamingHttpResponse:
        run = self.run()
        return self.log(run, selectors.log_record_latest(run_kind=self.kind.name, run_id=run.pk))

    def post(self, request: Request, **path: str) -> Response:
        run = self.run()
        authorize_job(request, kind=self.kind.name, run_id=run.pk)
        body = json_body(request)
        raw_steps = body.get("steps") if isinstance(body, dict) else None
        if not isinstance(raw_steps, list):
            raise BadRequest('steps: send the log as Estafette\'s BuildLog, {"steps": [...]}')
        try:
            steps = [BuildLogStep.from_dict(step) for step in raw_steps]
        except ContractError as error:
            raise BadRequest(f"steps: {error}") from None
        stored = run_store_posted_log(kind=self.kind, run=run, steps=steps)
        return Response({"stored": stored}, status=201 if stored else 200)


class RunLogByIdApi(RunView):
    """``GET …/<segment>/{id}/logsbyid/{logId}``: the log of one attempt."""

    operation_ids = {"get": "pipeline_{name}_log_by_id"}
    about = "``GET …/{segment}/{{id}}/logsbyid/{{logId}}``: the log of one attempt."
    answers = {200: LogSerializer, **errors(400, 401, 404)}

    def get(self, request: Request, **path: str) -> StreamingHttpResponse:
        run = self.run()
        record_id = self.kwargs["log_id"]
        return self.log(run, selectors.log_record_get(run_kind=self.kind.name, run_id=run.pk, record_id=record_id))


# One component for every kind's ``…/alllogs`` (drf-spectacular refuses two of the same name).
LOG_RECORD_PAGE = list_envelope(LogRecordSerializer, "LogRecord")


class RunLogRecordsApi(RunView):
    """``GET …/<segment>/{id}/alllogs``: a page of the run's log records (one per attempt), oldest first, in
    Estafette's list envelope (its web UI reads ``.items`` and shows the last as the latest)."""

    operation_ids = {"get": "pipeline_{name}_all_logs"}
    about = "``GET …/{segment}/{{id}}/alllogs``: the {label}'s log records (one per attempt), oldest first."

    @classmethod
    def operations(cls, kind: RunKind) -> Operations:
        return {
            "get": cls.operation(
                kind,
                "get",
                parameters=list_parameters((), ()),
                responses={200: LOG_RECORD_PAGE, **errors(400, 401, 404)},
            )
        }

    def get(self, request: Request, **path: str) -> Response:
        run = self.run()
        query = parse_list_query(request.query_params, filters=(), sort_fields=(), default_sort=("attempt",))
        records = selectors.log_records_of_run(run_kind=self.kind.name, run_id=run.pk).select_related("pipeline")
        context = {"run_fields": self.kind.log_fields(run)}
        return Response(
            page_of(records, query).envelope(lambda rows: LogRecordSerializer(rows, many=True, context=context).data)
        )


class RunLogStreamApi(RunView):
    """``GET …/<segment>/{id}/logs.stream``: the live tail of the run's log (SSE)."""

    renderer_classes = TAIL_RENDERERS
    operation_ids = {"get": "pipeline_{name}_log_stream"}
    about = "``GET …/{segment}/{{id}}/logs.stream``: the live tail of the {label}'s log (SSE)."
    answers = {
        (200, "text/event-stream"): OpenApiResponse(
            OpenApiTypes.STR,
            description="Server-Sent Events: `log` (data: a TailLogLine), `ping` every 5 s, `close` at the end",
        ),
        **errors(400, 401, 404, 429, 503),
    }

    def get(self, request: Request, **path: str) -> StreamingHttpResponse:
        return log_tail_response(kind=self.kind.name, run_id=self.run().pk, user=tail_user(request))


class RunLogTailApi(RunLogStreamApi):
    """``GET …/<segment>/{id}/logs/tail``: Estafette's other path of the live tail, the same stream."""

    operation_ids = {"get": "pipeline_{name}_log_tail"}
    about = "``GET …/{segment}/{{id}}/logs/tail``: the live tail of the {label}'s log (SSE), as ``logs.stream``."


def component_name(serializer: type[Any]) -> str:
    """The OpenAPI component drf-spectacular names after ``serializer``: ``BuildSerializer`` → ``Build``."""
    return serializer.__name__.removesuffix("Serializer")


def for_kind(view: type[RunView], kind: RunKind) -> type[RunView]:
    """``view`` serving ``kind``: a subclass that names the kind and describes its operations."""
    subclass = type(f"{view.__name__}_{kind.name}", (view,), {"kind": kind, "__module__": view.__module__})
    return extend_schema_view(**view.operations(kind))(subclass)


def run_urlpatterns(kind: RunKind, *, pipeline_runs: type[PipelineRunsApi] = PipelineRunsApi) -> list[URLPattern]:
    """The routes of ``kind``'s runs, under ``/api/``: ``<segment>`` (all pipelines), ``…/<segment>`` (one pipeline's,
    served by ``pipeline_runs``: the kind's own view when it takes a command there), ``…/<segment>/{<kind>_id}`` and
    its logs. Route names: ``<segment>``, ``pipeline-<segment>``, ``pipeline-<kind>``, ``pipeline-<kind>-logs``,
    ``-tail``, ``-logs-tail``, ``-alllogs``, ``-log-by-id``."""
    one = f"{PIPELINE}/{kind.segment}/<str:{run_key(kind)}>"
    routes: list[tuple[str, type[RunView], str]] = [
        (kind.segment, RunListApi, kind.segment),
        (f"{PIPELINE}/{kind.segment}", pipeline_runs, f"pipeline-{kind.segment}"),
        (one, PipelineRunApi, f"pipeline-{kind.name}"),
        (f"{one}/logs", RunLogsApi, f"pipeline-{kind.name}-logs"),
        (f"{one}/logs.stream", RunLogStreamApi, f"pipeline-{kind.name}-tail"),
        (f"{one}/logs/tail", RunLogTailApi, f"pipeline-{kind.name}-logs-tail"),
    ]
    if kind.log_attempt_routes:
        routes += [
            (f"{one}/alllogs", RunLogRecordsApi, f"pipeline-{kind.name}-alllogs"),
            (f"{one}/logsbyid/<str:log_id>", RunLogByIdApi, f"pipeline-{kind.name}-log-by-id"),
        ]
    return [
        *(path(route, for_kind(view, kind).as_view(), name=name) for route, view, name in routes),
        *stats_urlpatterns(kind),
    ]
