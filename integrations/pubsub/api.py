"""``POST /api/integrations/pubsub/events``: a Google Pub/Sub push message, for pub/sub triggers."""

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
from integrations.pubsub.webhook import InvalidPubSubPush, parse_push_message, pubsub_publish
from integrations.tokens import token_is_valid

NOT_CONFIGURED = (
    "Pub/Sub pushes are refused until the server has a token: set ESTAFETTE_PUBSUB_TOKEN and add it to the "
    "push endpoint as ?token=<token> (or send Authorization: Bearer <token>)"
)
NOT_AUTHENTICATED = "the token is missing or wrong; add ?token=<ESTAFETTE_PUBSUB_TOKEN> to the push endpoint URL"

AcceptedSerializer = inline_serializer(name="PubSubAccepted", fields={"id": serializers.CharField()})


class PubSubEventsApi(APIView):
    """Push endpoint of Pub/Sub subscriptions; the shared token authenticates, the body is then read."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="integrations_pubsub_events",
        request=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("token", OpenApiTypes.STR, description="ESTAFETTE_PUBSUB_TOKEN")],
        responses={202: AcceptedSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        body = request.body
        if not settings.PUBSUB_TOKEN:
            return error_response(status.HTTP_401_UNAUTHORIZED, NOT_CONFIGURED)
        if not token_is_valid(request, settings.PUBSUB_TOKEN):
            return error_response(status.HTTP_401_UNAUTHORIZED, NOT_AUTHENTICATED)
        try:
            event = parse_push_message(body, subscription_suffix=settings.PUBSUB_SUBSCRIPTION_SUFFIX)
        except InvalidPubSubPush as error:
            return error_response(status.HTTP_400_BAD_REQUEST, str(error))
        return Response({"id": pubsub_publish(event=event)}, status=status.HTTP_202_ACCEPTED)
