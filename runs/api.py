"""The run engine's endpoints for builders: ``POST /api/builder/v1/{kind}/{id}/status``, ``…/logs`` and ``…/end``
(the last batch and the final status in one request; the views of runs for people are ``runs.views``).

Only a builder calls the builder endpoints, with the job token of exactly that run (``Authorization: Bearer
<ciServer.jobToken>``): no token or a bad/expired one → 401, a valid token of another run → 403; the token is never
echoed. A token ends with its run: once the run has finished, every report is refused with 409
(``runs.reports.RunEnded``). The bodies are ``builder.contracts`` types (``StatusEvent``, ``LogBatch``,
``EndReport``); a malformed one → 400 naming the field. All are idempotent (the builder retries until it sees a 2xx):
a log batch is stored once per (attempt, seq); an end whose answer was lost is answered 409 when retried.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.contracts import ContractError, EndReport, LogBatch, StatusEvent
from estafette.lib.api_docs import errors
from estafette.lib.errors import BadRequest, Forbidden, TooLarge, Unauthorized
from estafette.lib.jobtokens import InvalidJobToken, read_job_token
from estafette.lib.json_input import InvalidJson, load_json
from runs.registry import run_kind
from runs.reports import run_append_log_batch, run_report_end, run_report_status


def authorize_job(request: Request, *, kind: str, run_id: int) -> None:
    """Raise ``Unauthorized``/``Forbidden`` unless the request carries the job token of run ``kind`` ``run_id``."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the run's job token: Authorization: Bearer <ciServer.jobToken>")
    try:
        claim = read_job_token(token)
    except InvalidJobToken as error:
        raise Unauthorized(f"{error}; only the job started for this run may report it") from None
    if claim.kind != kind or claim.run_id != run_id:
        raise Forbidden(f"the job token is for another run, not {kind} {run_id}")


def json_body(request: Request) -> Any:
    """The body as JSON (``estafette.lib.json_input``: UTF-8, depth-limited); its size was checked by the
    body-limit middleware before this reads it."""
    try:
        return load_json(request.body)
    except RequestDataTooBig:  # only if the middleware is not installed (its limit is checked first)
        raise TooLarge("the body is too large; send smaller log batches") from None
    except InvalidJson as error:
        raise BadRequest(str(error)) from None


def parse(contract: type[StatusEvent] | type[LogBatch] | type[EndReport], data: Any) -> Any:
    try:
        return contract.from_dict(data)
    except ContractError as error:
        raise BadRequest(str(error)) from None


class BuilderEndpoint(APIView):
    # The job token is checked by each handler (it is scoped to the run in the URL); no session, no CSRF. Authorized
    # like every route by the policy table (estafette/policy.py: OwnCredential), which leaves that check to the view.
    authentication_classes = ()


STATUS_ANSWER = inline_serializer("BuilderStatusAnswer", {"status": serializers.CharField()})
LOGS_ANSWER = inline_serializer("BuilderLogsAnswer", {"stored": serializers.BooleanField()})
END_ANSWER = inline_serializer(
    "BuilderEndAnswer", {"status": serializers.CharField(), "stored": serializers.BooleanField()}
)


class BuilderStatusApi(BuilderEndpoint):
    """``POST …/status``: the builder's ``updateStatus`` and ``heartbeat`` events (``StatusEvent``)."""

    @extend_schema(
        operation_id="builder_status",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: OpenApiResponse(STATUS_ANSWER, description="the run's status now"),
            **errors(400, 401, 403, 404, 409, 413),
        },
        description="StatusEvent (builder/contracts.py); job token of this run as Bearer token",
    )
    def post(self, request: Request, kind: str, run_id: int) -> Response:
        authorize_job(request, kind=kind, run_id=run_id)
        event = parse(StatusEvent, json_body(request))
        spec = run_kind(kind)
        status = run_report_status(kind=spec, run=spec.get_for_report(run_id), event=event)
        return Response({"status": status})


class BuilderLogsApi(BuilderEndpoint):
    """``POST …/logs``: one log batch (``LogBatch``); 201 when stored, 200 when that seq was stored before."""

    @extend_schema(
        operation_id="builder_logs",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            201: OpenApiResponse(LOGS_ANSWER, description="stored"),
            200: OpenApiResponse(LOGS_ANSWER, description="stored before (a retry)"),
            **errors(400, 401, 403, 404, 409, 413),
        },
        description="LogBatch (builder/contracts.py); job token of this run as Bearer token",
    )
    def post(self, request: Request, kind: str, run_id: int) -> Response:
        authorize_job(request, kind=kind, run_id=run_id)
        batch = parse(LogBatch, json_body(request))
        spec = run_kind(kind)
        stored = run_append_log_batch(kind=spec, run=spec.get_for_report(run_id), batch=batch)
        return Response({"stored": stored}, status=201 if stored else 200)


class BuilderEndApi(BuilderEndpoint):
    """``POST …/end``: the run's last log batch and final status in one request (``EndReport``): one request and one
    transaction fewer per run than ``…/logs`` then ``…/status``, with the same effect."""

    @extend_schema(
        operation_id="builder_end",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: OpenApiResponse(END_ANSWER, description="the run's status now; whether the batch was stored"),
            **errors(400, 401, 403, 404, 409, 413),
        },
        description="EndReport (builder/contracts.py); job token of this run as Bearer token",
    )
    def post(self, request: Request, kind: str, run_id: int) -> Response:
        authorize_job(request, kind=kind, run_id=run_id)
        report = parse(EndReport, json_body(request))
        spec = run_kind(kind)
        status, stored = run_report_end(kind=spec, run=spec.get_for_report(run_id), report=report)
        return Response({"status": status, "stored": stored})
