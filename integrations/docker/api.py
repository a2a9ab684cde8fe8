"""``POST /api/integrations/docker/events``: Docker registry notifications, for docker triggers."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from rest_framework.request import Request

from integrations.docker.webhook import InvalidNotification, parse_notification
from integrations.intake import IntakeEvent
from integrations.intake_view import intake_schema
from integrations.tokens import TokenIntakeView, token_parameter


@intake_schema(
    operation_id="integrations_docker_events",
    request=OpenApiTypes.OBJECT,
    parameters=[token_parameter("ESTAFETTE_DOCKER_WEBHOOK_TOKEN")],
    accepted="DockerAccepted",
)
class DockerEventsApi(TokenIntakeView):
    """A registry's notification endpoint; the shared token authenticates, the envelope is then read."""

    not_configured = (
        "registry notifications are refused until the server has a token: set ESTAFETTE_DOCKER_WEBHOOK_TOKEN and "
        "configure the registry's endpoint with the header Authorization: Bearer <token>"
    )
    not_authenticated = "the token is missing or wrong; send Authorization: Bearer <ESTAFETTE_DOCKER_WEBHOOK_TOKEN>"
    invalid = InvalidNotification
    many = True  # an envelope holds any number of events, some of them (blobs) not published

    def secret(self) -> str:
        return str(settings.DOCKER_WEBHOOK_TOKEN or "")

    def parse(self, request: Request) -> list[IntakeEvent]:
        # The registry sends application/vnd.docker.distribution.events.v1+json: read the bytes ourselves.
        return parse_notification(request.body)
