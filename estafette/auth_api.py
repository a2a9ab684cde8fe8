"""``/api/me`` and the local password login of the web UI (break-glass administrators and the embedded default;
login providers are ``estafette.access.sso``; scripts send ``Authorization: Token …``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model, login
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.access.principal import ClientUser, Principal, principal_of, user_principal
from estafette.access.serializers import MeSerializer
from estafette.access.services import account_of
from estafette.lib.api_docs import errors
from estafette.lib.errors import BadRequest
from estafette.lib.login_throttle import LOCKED_MESSAGE, seconds_until_unlocked
from estafette.lib.serializers import CamelCaseSerializer


def me_data(user: Any, principal: Principal) -> Any:
    user = (
        get_user_model()
        .objects.prefetch_related("identities", "account__groups", "account__organizations")
        .get(pk=user.pk)
    )
    return MeSerializer(user, context={"principal": principal}).data


class LoginSerializer(CamelCaseSerializer):
    username = serializers.CharField(max_length=150)  # Django's longest username; failures are counted per username
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class MeApi(APIView):
    """``GET /api/me``: the caller as Estafette's ``contracts.User``, with the roles they hold (own, their groups' and
    organizations'), their groups and organizations, the provider and organization of their last login and their
    identities. An API client gets its own description."""

    @extend_schema(operation_id="me", responses={200: MeSerializer, **errors(401)})
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        if isinstance(request.user, ClientUser):
            client = request.user.client
            return Response(
                {
                    "id": "",
                    "active": client.active,
                    "name": client.name,
                    "email": request.user.email,
                    "identities": [],
                    "roles": sorted(principal.roles),
                    "groups": [],
                    "organizations": [{"id": str(o.pk), "name": o.name} for o in client.organizations.all()],
                    "currentProvider": "client",
                    "currentOrganization": "",
                    "username": request.user.email,
                }
            )
        account_of(request.user)
        return Response(me_data(request.user, principal))


class LoginApi(APIView):
    """Starts a session. JSON only (the API's one parser): a cross-site HTML form cannot send it, so no CSRF token is
    needed yet.

    Failed logins are counted per client address and per username (estafette.lib.login_throttle): past the limit
    the answer is 429 with ``Retry-After``, whatever the password, until the cool-off has passed.
    """

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
        account = account_of(user)
        if account.current_provider != "local":
            account.current_provider = "local"
            account.save(update_fields=["current_provider"])
        request._request.access_principal = None  # the caller is now this user
        return Response(me_data(user, user_principal(user)))


urlpatterns = [
    path("me", MeApi.as_view(), name="me"),
    path("auth/login", LoginApi.as_view(), name="auth-login"),
]
