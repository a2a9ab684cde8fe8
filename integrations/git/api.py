"""``POST /api/integrations/git/events``: a signed push, published for the consumers (202 with the event id).

The request runs no git: a missing revision is resolved by the consumer, and a repository on this machine
is accepted only under ``ESTAFETTE_LOCAL_REPOSITORY_ROOTS``.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.request import Request

from integrations.git.intake import push_check_local, push_delivery_id, push_intake_event
from integrations.git.webhook import SIGNATURE_HEADER, InvalidPush, parse_push, signature_is_valid
from integrations.intake import IntakeEvent
from integrations.intake_view import IntakeView, intake_schema

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


@intake_schema(operation_id="integrations_git_events", request=PushBodySerializer, accepted="EventAccepted")
class GitEventsApi(IntakeView):
    """Git push intake. The signature is the authentication: nothing is read or stored before it checks out."""

    not_configured = (
        "git webhooks are refused until the server has a secret: set ESTAFETTE_GIT_WEBHOOK_SECRET and sign "
        f"each body with it ({SIGNATURE_HEADER}: sha256=<HMAC-SHA256 of the body, hex>)"
    )
    not_authenticated = (
        f"the {SIGNATURE_HEADER} header is missing or does not match the body; sign the raw body with "
        "HMAC-SHA256 and the shared secret and send sha256=<hex>"
    )
    invalid = InvalidPush

    def secret(self) -> str:
        return str(settings.GIT_WEBHOOK_SECRET or "")

    def proves(self, request: Request, secret: str) -> bool:
        return signature_is_valid(request.body, request.headers.get(SIGNATURE_HEADER), secret)

    def parse(self, request: Request) -> list[IntakeEvent]:
        # No git here: the consumer resolves the branch head and reads the manifest.
        push = push_check_local(push=parse_push(request.body), roots=settings.LOCAL_REPOSITORY_ROOTS)
        return [push_intake_event(push=push, event_id=push_delivery_id(push=push, body=request.body))]
