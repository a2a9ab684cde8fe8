"""One intake view for every integration, as Buildbot's change hooks have it: each source only turns a request into
events, and one base authenticates, submits and answers.

A kind's view (``integrations/<kind>/api.py``) subclasses ``IntakeView`` and supplies what only it knows:

- ``secret()``: the intake's shared secret (its setting, read per request). While it is empty every request is
  refused with 401 saying what to set (``not_configured``).
- ``proves(request, secret)``: whether the request proves it knows the secret (a signature of the raw body, a
  token); else 401 (``not_authenticated``). Nothing is parsed before this.
- ``parse(request) -> list[IntakeEvent]``: what to publish (its ``webhook.py`` reads the body). A request it refuses
  raises ``invalid`` (its webhook's error type): 400 with the reason.

``submit`` (``integrations.intake``) publishes the events after commit, in one transaction, each under its natural
id. The answer is 202 with the event's id, ``{"id": …}``, or, for an intake whose requests carry any number of events
(``many``), ``{"ids": […]}``. Refusals
have Estafette's body ``{"code", "message"}``. ``intake_schema`` describes a kind's POST in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors
from estafette.lib.errors import BadRequest, Unauthorized
from integrations.intake import IntakeEvent, submit


class IntakeView(APIView):
    """``POST`` an intake's request: authenticate, parse, submit, answer 202. See the module's docstring."""

    # The shared secret is the authentication: no session, no CSRF, no user. Authorized like every route by the
    # policy table (estafette/policy.py: OwnCredential), which leaves the check of that secret to this view.
    authentication_classes = ()

    not_configured: ClassVar[str]  # the 401 message while the server has no secret for this intake
    not_authenticated: ClassVar[str]  # the 401 message for a request that does not prove it knows it
    invalid: ClassVar[type[Exception]]  # what ``parse`` raises for a request it refuses (its message is the reason)
    many: ClassVar[bool] = False  # the answer lists the ids ({"ids"}) rather than naming the one event ({"id"})

    def secret(self) -> str:
        raise NotImplementedError

    def proves(self, request: Request, secret: str) -> bool:
        raise NotImplementedError

    def parse(self, request: Request) -> list[IntakeEvent]:
        raise NotImplementedError

    def authenticate(self, request: Request) -> None:
        """Raise ``Unauthorized`` unless the intake has a secret and the request proves it knows it."""
        secret = self.secret()
        if not secret:
            raise Unauthorized(self.not_configured)
        if not self.proves(request, secret):
            raise Unauthorized(self.not_authenticated)

    def post(self, request: Request) -> Response:
        # The raw bytes, read before anything else (what a signature covers; a body over Django's limit is refused
        # here, before the secret is looked at): ``proves`` and ``parse`` read them again from the request's cache.
        request.body  # noqa: B018
        self.authenticate(request)
        try:
            events = self.parse(request)
        except self.invalid as error:
            raise BadRequest(str(error)) from None
        ids = submit(events)
        return Response({"ids": ids} if self.many else {"id": ids[0]}, status=status.HTTP_202_ACCEPTED)


def intake_schema(
    *, operation_id: str, request: Any, accepted: str, parameters: Sequence[OpenApiParameter] = ()
) -> Callable[[type[IntakeView]], type[IntakeView]]:
    """Describe an intake view's ``POST`` in the OpenAPI document: ``request``, and 202 with the answer (the component
    ``accepted``: ``{"id"}``, or ``{"ids"}`` for a view of ``many``), 400 and 401."""

    def describe(view: type[IntakeView]) -> type[IntakeView]:
        ids = serializers.ListField(child=serializers.CharField())
        answer = {"ids": ids} if view.many else {"id": serializers.CharField()}
        return extend_schema_view(
            post=extend_schema(
                operation_id=operation_id,
                request=request,
                parameters=list(parameters),
                responses={202: inline_serializer(name=accepted, fields=answer), **errors(400, 401)},
            )
        )(view)

    return describe
