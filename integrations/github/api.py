"""``POST /api/integrations/github/events``: a GitHub App's webhook delivery, published for the consumers (202 with
the ids of the events it means: ``webhook.parse_delivery``).

The request speaks to no GitHub: the push's manifest is read by the consumer (``forge.GitHubForge``).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from integrations.git.webhook import signature_is_valid
from integrations.github.webhook import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    InvalidDelivery,
    parse_delivery,
    read_delivery,
)
from integrations.intake import IntakeEvent
from integrations.intake_view import IntakeView, intake_schema


@intake_schema(
    operation_id="integrations_github_events",
    request=OpenApiTypes.OBJECT,
    accepted="GitHubDeliveryAccepted",
    parameters=[
        OpenApiParameter(SIGNATURE_HEADER, str, OpenApiParameter.HEADER, required=True, description="sha256=<hex>"),
        OpenApiParameter(EVENT_HEADER, str, OpenApiParameter.HEADER, required=True, description="push, repository…"),
        OpenApiParameter(DELIVERY_HEADER, str, OpenApiParameter.HEADER, required=True, description="the delivery id"),
    ],
)
class GitHubEventsApi(IntakeView):
    """GitHub App intake. The signature is the authentication: nothing is read or stored before it checks out."""

    not_configured = (
        "GitHub deliveries are refused until the server has the app's webhook secret: set "
        "ESTAFETTE_GITHUB_WEBHOOK_SECRET (or integrations.github.webhookSecret in ESTAFETTE_CONFIG_FILE)"
    )
    not_authenticated = (
        f"the {SIGNATURE_HEADER} header is missing or does not match the body: the GitHub App's webhook secret and "
        "ESTAFETTE_GITHUB_WEBHOOK_SECRET must be the same"
    )
    invalid = InvalidDelivery
    many = True

    def secret(self) -> str:
        return str(settings.GITHUB_WEBHOOK_SECRET or "")

    def proves(self, request: Request, secret: str) -> bool:
        return signature_is_valid(request.body, request.headers.get(SIGNATURE_HEADER), secret)

    def parse(self, request: Request) -> list[IntakeEvent]:
        delivery = read_delivery(
            body=request.body,
            event=request.headers.get(EVENT_HEADER),
            delivery=request.headers.get(DELIVERY_HEADER),
        )
        return parse_delivery(delivery, api_url=settings.GITHUB_API_URL)
