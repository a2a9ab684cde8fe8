"""``POST /api/integrations/slack/slash``: Slack's ``/estafette`` slash command.

The signature is the authentication (``webhook.signature_is_valid``): nothing is read before it checks out, and a
request without it is 401 with Estafette's ``{"code", "message"}``. A signed request is answered 200 with an
ephemeral message (``{"response_type": "ephemeral", "text"}``), also when the command is refused: Slack shows the
user the text, and a 4xx only as "failed".
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors
from estafette.lib.errors import BadRequest, Unauthorized
from integrations.slack.commands import slash_answer
from integrations.slack.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidCommand,
    read_command,
    signature_is_valid,
)

NOT_CONFIGURED = (
    "Slack commands are refused until the server has the Slack app's signing secret: set "
    "ESTAFETTE_SLACK_SIGNING_SECRET (or integrations.slack.signingSecret in ESTAFETTE_CONFIG_FILE)"
)
NOT_AUTHENTICATED = (
    f"the {SIGNATURE_HEADER} header is missing, does not match the body, or {TIMESTAMP_HEADER} is more than five "
    "minutes from now: the Slack app's signing secret and ESTAFETTE_SLACK_SIGNING_SECRET must be the same"
)


class SlackSlashApi(APIView):
    """Slack's slash command intake. Authorized by the policy table as an own credential (the signing secret)."""

    authentication_classes = ()

    @extend_schema(
        operation_id="integrations_slack_slash",
        request={"application/x-www-form-urlencoded": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True, description="v0=<hex>"),
            OpenApiParameter(TIMESTAMP_HEADER, str, OpenApiParameter.HEADER, required=True, description="Unix time"),
        ],
        responses={
            200: inline_serializer(
                name="SlackEphemeralMessage",
                fields={"response_type": serializers.CharField(), "text": serializers.CharField()},
            ),
            **errors(400, 401),
        },
    )
    def post(self, request: Request) -> Response:
        body = request.body  # the raw bytes the signature covers, before anything parses them
        secret = str(settings.SLACK_SIGNING_SECRET or "")
        if not secret:
            raise Unauthorized(NOT_CONFIGURED)
        if not signature_is_valid(
            body,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            secret=secret,
        ):
            raise Unauthorized(NOT_AUTHENTICATED)
        try:
            command = read_command(body)
        except InvalidCommand as error:
            raise BadRequest(str(error)) from None
        return Response({"response_type": "ephemeral", "text": slash_answer(command=command, body=body)})
