"""``POST /api/integrations/docker/events``: Docker registry notifications, for docker triggers."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api import error_response
from estafette.lib.api_docs import errors
from integrations.docker.webhook import InvalidNotification, docker_publish, parse_notification
from integrations.tokens import token_is_valid

NOT_CONFIGURED = (
    "registry notifications are refused until the server has a token: set ESTAFETTE_DOCKER_WEBHOOK_TOKEN and "
    "configure the registry's endpoint with the header Authorization: Bearer <token>"
)
NOT_AUTHENTICATED = "the token is missing or wrong; send Authorization: Bearer <ESTAFETTE_DOCKER_WEBHOOK_TOKEN>"

AcceptedSerializer = inline_serializer(
    name="DockerAccepted", fields={"ids": serializers.ListField(child=serializers.CharField())}
)


class DockerEventsApi(APIView):
    """A registry's notification endpoint; the shared token authenticates, the envelope is then read."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="integrations_docker_events",
        request=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("token", OpenApiTypes.STR, description="ESTAFETTE_DOCKER_WEBHOOK_TOKEN")],
        responses={202: AcceptedSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        # The registry sends application/vnd.docker.distribution.events.v1+json: read the bytes ourselves.
        body = request.body
        if not settings.DOCKER_WEBHOOK_TOKEN:
            return error_response(status.HTTP_401_UNAUTHORIZED, NOT_CONFIGURED)
        if not token_is_valid(request, settings.DOCKER_WEBHOOK_TOKEN):
            return error_response(status.HTTP_401_UNAUTHORIZED, NOT_AUTHENTICATED)
        try:
            events = parse_notification(body)
        except InvalidNotification as error:
            return error_response(status.HTTP_400_BAD_REQUEST, str(error))
        return Response({"ids": docker_publish(events=events)}, status=status.HTTP_202_ACCEPTED)
