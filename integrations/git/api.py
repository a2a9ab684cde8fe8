"""``POST /api/integrations/git/events``: a signed push, published for the consumers (202 with the event id).

The request runs no git: a missing revision is resolved by the consumer, and a repository on this machine
is accepted only under ``ESTAFETTE_LOCAL_REPOSITORY_ROOTS``.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api import error_response
from estafette.lib.api_docs import errors
from integrations.git.intake import push_check_local, push_delivery_id, push_publish
from integrations.git.webhook import SIGNATURE_HEADER, InvalidPush, parse_push, signature_is_valid

NO_SECRET = (
    "git webhooks are refused until the server has a secret: set ESTAFETTE_GIT_WEBHOOK_SECRET and sign "
    f"each body with it ({SIGNATURE_HEADER}: sha256=<HMAC-SHA256 of the body, hex>)"
)
BAD_SIGNATURE = (
    f"the {SIGNATURE_HEADER} header is missing or does not match the body; sign the raw body with "
    "HMAC-SHA256 and the shared secret and send sha256=<hex>"
)

PushBodySerializer = inline_serializer(
    name="GitPush",
    fields={
        "event": serializers.ChoiceField(choices=["push"]),
        "repository": serializers.CharField(
            help_text="clone URL (https, ssh, git), or a path or file:// URL under ESTAFETTE_LOCAL_REPOSITORY_ROOTS"
        ),
        "branch": serializers.CharField(),
        "revision": serializers.CharField(required=False, help_text="commit id; default: the head of the branch"),
    },
)
AcceptedSerializer = inline_serializer(name="EventAccepted", fields={"id": serializers.CharField()})


class GitEventsApi(APIView):
    """Git push intake. The signature is the authentication: nothing is read or stored before it checks out."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        operation_id="integrations_git_events",
        request=PushBodySerializer,
        responses={202: AcceptedSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        body = request.body  # the raw bytes the signature covers, before any parsing
        secret = settings.GIT_WEBHOOK_SECRET
        if not secret:
            return error_response(status.HTTP_401_UNAUTHORIZED, NO_SECRET)
        if not signature_is_valid(body, request.headers.get(SIGNATURE_HEADER), secret):
            return error_response(status.HTTP_401_UNAUTHORIZED, BAD_SIGNATURE)
        try:
            # No git here: the consumer resolves the branch head and reads the manifest.
            push = push_check_local(push=parse_push(body), roots=settings.LOCAL_REPOSITORY_ROOTS)
        except InvalidPush as error:
            return error_response(status.HTTP_400_BAD_REQUEST, str(error))
        event_id = push_publish(push=push, event_id=push_delivery_id(push=push, body=body))
        return Response({"id": event_id}, status=status.HTTP_202_ACCEPTED)
