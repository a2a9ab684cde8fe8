"""Default API permission; kept apart from ``api.py`` because DRF imports it while loading its views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ReadIfAllowedWriteIfAuthenticated(BasePermission):
    """Reads need a user unless ``ESTAFETTE_ANONYMOUS_READ=true``; every mutation needs a user."""

    message = "Log in or send an API token (Authorization: Token ...) to use this endpoint."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            return True
        return request.method in SAFE_METHODS and bool(settings.ANONYMOUS_READ)
