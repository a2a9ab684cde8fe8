"""``/api/me`` and session login/logout for the web UI (API clients send ``Authorization: Token …``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors
from estafette.lib.errors import BadRequest
from estafette.lib.login_throttle import LOCKED_MESSAGE, seconds_until_unlocked
from estafette.lib.serializers import CamelCaseSerializer, IdField, TimestampField


class IdentitySerializer(CamelCaseSerializer):
    provider = serializers.CharField()
    id = serializers.CharField()
    email = serializers.CharField()
    name = serializers.CharField()


class MeSerializer(CamelCaseSerializer):
    """The logged-in user, in the shape of Estafette's ``contracts.User`` where it applies."""

    id = IdField(source="pk")
    active = serializers.BooleanField(source="is_active")
    username = serializers.CharField()
    name = serializers.SerializerMethodField()
    email = serializers.CharField()
    roles = serializers.SerializerMethodField()
    identities = serializers.SerializerMethodField()
    first_visit = TimestampField(source="date_joined")
    last_visit = TimestampField(source="last_login", allow_null=True)

    @extend_schema_field(OpenApiTypes.STR)
    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_roles(self, user: Any) -> list[str]:
        return ["administrator"] if user.is_staff or user.is_superuser else []

    @extend_schema_field(IdentitySerializer(many=True))
    def get_identities(self, user: Any) -> list[dict[str, str]]:
        return [{"provider": "local", "id": str(user.pk), "email": user.email, "name": self.get_name(user)}]


class LoginSerializer(CamelCaseSerializer):
    username = serializers.CharField(max_length=150)  # Django's longest username; failures are counted per username
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="me", responses={200: MeSerializer, **errors(401)})
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class LoginApi(APIView):
    """Starts a session. JSON only (the API's one parser): a cross-site HTML form cannot send it, so no CSRF token is
    needed yet.

    Failed logins are counted per client address and per username (estafette.lib.login_throttle): past the limit
    the answer is 429 with ``Retry-After``, whatever the password, until the cool-off has passed.
    """

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="auth_login", request=LoginSerializer, responses={200: MeSerializer, **errors(400, 429)}
    )
    def post(self, request: Request) -> Response:
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        credentials = {"username": body.validated_data["username"], "password": body.validated_data["password"]}
        user = authenticate(request._request, **credentials)
        if getattr(request._request, "axes_locked_out", False):
            # Refused by the throttle (this attempt may have been the one that reached the limit): the same answer
            # whether or not the password was right, so a locked guesser learns nothing more.
            seconds = seconds_until_unlocked(request._request, {"username": credentials["username"]})
            refusal = Throttled(detail=LOCKED_MESSAGE.format(seconds=seconds))
            refusal.wait = seconds  # Retry-After; Throttled(wait=…) would append DRF's own sentence to the message
            raise refusal
        if user is None or not user.is_active:
            raise BadRequest("unknown username or wrong password")
        login(request._request, user)
        return Response(MeSerializer(user).data)


class LogoutApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_logout", request=None, responses={204: OpenApiResponse(description="session ended")}
    )
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=204)


urlpatterns = [
    path("me", MeApi.as_view(), name="me"),
    path("auth/login", LoginApi.as_view(), name="auth-login"),
    path("auth/logout", LogoutApi.as_view(), name="auth-logout"),
]
