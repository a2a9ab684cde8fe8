"""The Bitbucket Cloud Connect app's routes: its descriptor, its lifecycle callbacks and its webhook.

- ``GET /api/integrations/bitbucket/descriptor``: what a workspace administrator installs (``connect.descriptor``).
- ``POST …/installed`` and ``…/uninstalled``: Bitbucket tells the app it was added to or removed from a workspace
  (``services``). The JWT of ``installed`` is checked with the secret of the installation this server knows under that
  client key, or — only for a client key it does not know — with the secret the request brings.
- ``POST …/events``: a webhook event, authenticated by the installation's JWT, published for the consumers (202 with
  the ids of the events it means: ``webhook.parse_event``). The request speaks to no Bitbucket: the push's manifest is
  read by the consumer (``forge.BitbucketForge``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors
from estafette.lib.errors import BadRequest, Unauthorized
from estafette.lib.json_input import InvalidJson, load_json
from integrations.bitbucket.client import bitbucket_client
from integrations.bitbucket.connect import InvalidToken, Verified, descriptor, presented_token, verify_request
from integrations.bitbucket.models import BitbucketInstallation
from integrations.bitbucket.services import (
    installation_install,
    installation_secret,
    installation_uninstall,
    lifecycle_read,
)
from integrations.bitbucket.webhook import (
    ATTEMPT_HEADER,
    EVENT_HEADER,
    HOOK_HEADER,
    REQUEST_HEADER,
    Installation,
    InvalidEvent,
    parse_event,
    read_event,
)
from integrations.intake import IntakeEvent
from integrations.intake_view import IntakeView, intake_schema

_JWT = OpenApiParameter(
    "Authorization", str, OpenApiParameter.HEADER, required=True, description="JWT <installation's token>"
)


def verified(request: Request, secret_of: Callable[[str], str | None]) -> Verified:
    """The request's JWT checked against the request itself; ``Unauthorized`` saying why not."""
    try:
        return verify_request(
            presented_token(request.headers.get("Authorization", "")),
            method=request.method or "",
            path=request.path_info,
            query=parse_qs(request.META.get("QUERY_STRING", ""), keep_blank_values=True),
            secret_of=secret_of,
        )
    except InvalidToken as error:
        raise Unauthorized(str(error)) from None


def _json_body(request: Request) -> object:
    try:
        return load_json(request.body)
    except InvalidJson as error:
        raise BadRequest(str(error)) from None


class BitbucketDescriptorApi(APIView):
    """The Connect descriptor: public, as Bitbucket fetches it when an administrator installs the app by its URL."""

    authentication_classes = ()

    @extend_schema(operation_id="integrations_bitbucket_descriptor", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(descriptor(app_key=settings.BITBUCKET_APP_KEY, base_url=settings.BASE_URL))


class BitbucketInstalledApi(APIView):
    """The app was installed (or its installation renewed): stored once Bitbucket confirms it."""

    authentication_classes = ()

    @extend_schema(
        operation_id="integrations_bitbucket_installed",
        request=OpenApiTypes.OBJECT,
        parameters=[_JWT],
        responses={204: None, **errors(400, 401, 503)},
    )
    def post(self, request: Request) -> Response:
        def secret_of(client_key: str) -> str | None:
            known = installation_secret(client_key)
            if known is not None:
                return known  # an installation is renewed only with the secret it has now
            # A first installation: the token is signed with the secret its body brings (read only for a token).
            brought = lifecycle_read(_json_body(request), event_type="installed")
            return brought.shared_secret if client_key == brought.client_key else None

        client_key = verified(request, secret_of).client_key
        lifecycle = lifecycle_read(_json_body(request), event_type="installed")
        if client_key != lifecycle.client_key:
            raise Unauthorized("the request's JWT is of another installation than its body's clientKey")
        installation_install(lifecycle=lifecycle, client=bitbucket_client())
        return Response(status=status.HTTP_204_NO_CONTENT)


class BitbucketUninstalledApi(APIView):
    """The app was removed from a workspace: its installation is forgotten."""

    authentication_classes = ()

    @extend_schema(
        operation_id="integrations_bitbucket_uninstalled",
        request=OpenApiTypes.OBJECT,
        parameters=[_JWT],
        responses={204: None, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        client_key = verified(request, installation_secret).client_key
        lifecycle = lifecycle_read(_json_body(request), event_type="uninstalled")
        if client_key != lifecycle.client_key:
            raise Unauthorized("the request's JWT is of another installation than its body's clientKey")
        installation_uninstall(client_key=lifecycle.client_key)
        return Response(status=status.HTTP_204_NO_CONTENT)


@intake_schema(
    operation_id="integrations_bitbucket_events",
    request=OpenApiTypes.OBJECT,
    accepted="BitbucketEventAccepted",
    parameters=[
        _JWT,
        OpenApiParameter(EVENT_HEADER, str, OpenApiParameter.HEADER, required=True, description="repo:push…"),
        OpenApiParameter(REQUEST_HEADER, str, OpenApiParameter.HEADER, required=True, description="the request"),
        OpenApiParameter(HOOK_HEADER, str, OpenApiParameter.HEADER, description="the webhook"),
        OpenApiParameter(ATTEMPT_HEADER, str, OpenApiParameter.HEADER, description="1, 2… for retries"),
    ],
)
class BitbucketEventsApi(IntakeView):
    """Bitbucket webhook intake. The installation's JWT is the authentication: nothing is read or stored before it
    checks out."""

    invalid = InvalidEvent
    many = True

    def authenticate(self, request: Request) -> None:
        client_key = verified(request, installation_secret).client_key
        installation = BitbucketInstallation.objects.filter(client_key=client_key).first()
        if installation is None:  # uninstalled since its secret was read
            raise Unauthorized("the request's installation was uninstalled: install the app again")
        self.installation = Installation(client_key=client_key, principal_uuid=installation.principal_uuid)

    def parse(self, request: Request) -> list[IntakeEvent]:
        event = read_event(
            body=request.body,
            event=request.headers.get(EVENT_HEADER),
            hook=request.headers.get(HOOK_HEADER),
            request=request.headers.get(REQUEST_HEADER),
            attempt=request.headers.get(ATTEMPT_HEADER),
        )
        return parse_event(event, web_url=settings.BITBUCKET_URL, installation=self.installation)
