"""``POST /api/integrations/pubsub/events``: a Google Pub/Sub push message, for pub/sub triggers."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from rest_framework.request import Request

from integrations.intake import IntakeEvent
from integrations.intake_view import intake_schema
from integrations.pubsub.webhook import InvalidPubSubPush, parse_push_message, pubsub_intake_event
from integrations.tokens import TokenIntakeView, token_parameter


@intake_schema(
    operation_id="integrations_pubsub_events",
    request=OpenApiTypes.OBJECT,
    parameters=[token_parameter("ESTAFETTE_PUBSUB_TOKEN")],
    accepted="PubSubAccepted",
)
class PubSubEventsApi(TokenIntakeView):
    """Push endpoint of Pub/Sub subscriptions; the shared token authenticates, the body is then read."""

    not_configured = (
        "Pub/Sub pushes are refused until the server has a token: set ESTAFETTE_PUBSUB_TOKEN and add it to the "
        "push endpoint as ?token=<token> (or send Authorization: Bearer <token>)"
    )
    not_authenticated = "the token is missing or wrong; add ?token=<ESTAFETTE_PUBSUB_TOKEN> to the push endpoint URL"
    invalid = InvalidPubSubPush

    def secret(self) -> str:
        return str(settings.PUBSUB_TOKEN or "")

    def parse(self, request: Request) -> list[IntakeEvent]:
        event = parse_push_message(request.body, subscription_suffix=settings.PUBSUB_SUBSCRIPTION_SUFFIX)
        return [pubsub_intake_event(event)]
