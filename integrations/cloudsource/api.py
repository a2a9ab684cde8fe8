"""``POST /api/integrations/cloudsource/events``: a Cloud Source Repositories notification pushed by Pub/Sub (202
with the ids of the pushes it means: ``webhook.parse_notification``).

Authenticated by Google's OIDC token (``oidc.verify_google_token``: audience and service account configured here)
rather than a shared secret; the request speaks to no repository: the push's manifest is read by the consumer
(``forge.CloudSourceForge``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from rest_framework.request import Request

from estafette.lib.errors import Unavailable
from integrations.cloudsource.oidc import InvalidToken, verify_google_token
from integrations.cloudsource.webhook import InvalidNotification, parse_notification
from integrations.intake import IntakeEvent
from integrations.intake_view import IntakeView, intake_schema

logger = logging.getLogger(__name__)


@intake_schema(
    operation_id="integrations_cloudsource_events",
    request=OpenApiTypes.OBJECT,
    accepted="CloudSourceAccepted",
)
class CloudSourceEventsApi(IntakeView):
    """Push endpoint of the Pub/Sub subscription of a project's Cloud Source notifications."""

    not_configured = (
        "Cloud Source notifications are refused until the server knows their push subscription: set "
        "ESTAFETTE_CLOUDSOURCE_AUDIENCE and ESTAFETTE_CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL (or integrations.cloudsource "
        "in ESTAFETTE_CONFIG_FILE)"
    )
    not_authenticated = (
        "the request has no valid Google OIDC token (Authorization: Bearer) for ESTAFETTE_CLOUDSOURCE_AUDIENCE of "
        "ESTAFETTE_CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL: enable authentication on the push subscription with that "
        "service account and audience"
    )
    invalid = InvalidNotification
    many = True

    def secret(self) -> str:
        # Both name the one subscription this intake accepts; without either, no token can be checked.
        if not settings.CLOUDSOURCE_AUDIENCE or not settings.CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL:
            return ""
        return str(settings.CLOUDSOURCE_AUDIENCE)

    def proves(self, request: Request, secret: str) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            verify_google_token(
                token.strip() if scheme.lower() == "bearer" else "",
                discovery_url=settings.CLOUDSOURCE_DISCOVERY_URL,
                audience=secret,
                email=settings.CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL,
            )
        except InvalidToken as error:
            logger.warning("Cloud Source push refused: %s", error)
            return False
        except ConnectionError as error:
            raise Unavailable(f"{error}; Pub/Sub delivers the message again later") from None
        return True

    def parse(self, request: Request) -> list[IntakeEvent]:
        return parse_notification(request.body, git_url=settings.CLOUDSOURCE_GIT_URL)
