"""Single sign-on: Estafette's routes ``/api/auth/providers``, ``/api/auth/login/{provider}`` and
``/api/auth/handle/{provider}`` over the providers of the ``auth`` configuration (``estafette.access.config``).

Why authlib: it is the well-kept Python implementation of OAuth 2 and OpenID Connect clients, with a Django
integration that does what must not be hand-written here — OpenID Connect discovery (``server_metadata_url``), PKCE
(S256 ``code_verifier``/``code_challenge``), a random ``state`` and ``nonce`` kept in the Django session and checked
on the way back, the code exchange, and the ID token's signature (the issuer's JWKS), issuer, audience, expiry and
nonce. mozilla-django-oidc only speaks to one OpenID Connect issuer and neither to GitHub nor to per-organization
providers; django-allauth brings its own account model, templates and sign-up flow, which Estafette's users,
identities and organizations would have to be mapped onto.

What is this project's own: Estafette's rules after the provider has answered — the email must match the provider's
``allowedIdentitiesRegex``; the user is found by the identity, else by the email, else created, with the identity
(provider, id, email, name, avatar); an organization's provider makes the user join it; ``returnURL`` is only ever a
path of this site (no open redirect).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.access.config import GITHUB_URL, Provider
from estafette.access.services import user_login_with_identity
from estafette.lib.errors import NotFound

log = logging.getLogger(__name__)

LOGIN_PAGE = "/login"
SESSION_PREFIX = "estafette-login:"  # + the state: where to go back to and which organization, for one login
HTTP_TIMEOUT_SECONDS = 10
TENANT_PLACEHOLDER = "{tenantid}"  # in the issuer of Microsoft's multi-tenant discovery documents

_clients: dict[tuple[str, str, str, str], Any] = {}


def providers() -> tuple[Provider, ...]:
    return settings.AUTH.providers


def oauth_client(provider: Provider) -> Any:
    """The authlib client of a provider, made once per process (it caches the provider's discovery document)."""
    key = (provider.name, provider.organization, provider.client_id, provider.issuer)
    client = _clients.get(key)
    if client is None:
        # Here, not at the top: authlib and joserfc (with ``cryptography``) stay out of a web process until someone
        # logs in through a provider (~10 MB of its idle memory).
        from authlib.integrations.django_client import OAuth

        registry = OAuth()
        common: dict[str, Any] = {
            "client_id": provider.client_id,
            "client_secret": provider.client_secret,
            "client_kwargs": {
                "scope": provider.scopes,
                "code_challenge_method": "S256",
                "timeout": HTTP_TIMEOUT_SECONDS,
            },
        }
        if provider.kind == "github":
            web = provider.issuer
            client = registry.register(
                name=provider.name,
                access_token_url=f"{web}/login/oauth/access_token",
                authorize_url=f"{web}/login/oauth/authorize",
                api_base_url=github_api_url(web),
                **common,
            )
        else:
            client = registry.register(
                name=provider.name,
                server_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
                **common,
            )
        _clients[key] = client
    return client


def github_api_url(web: str) -> str:
    """The REST API of a GitHub: api.github.com for github.com, ``<url>/api/v3/`` for a GitHub Enterprise Server."""
    return "https://api.github.com/" if web == GITHUB_URL else f"{web}/api/v3/"


def issuer_check(client: Any) -> dict[str, Any]:
    """authlib's claims options for the ID token's ``iss``: the discovery document's issuer, where Microsoft's
    multi-tenant endpoints (``common``, ``organizations``) publish a template, ``…/{tenantid}/v2.0``, that each token
    fills with its own tenant (its ``tid`` claim). authlib compares ``iss`` with the template literally, which would
    refuse every such login; a template is filled with the token's ``tid`` and then compared exactly."""
    template = str(client.load_server_metadata().get("issuer") or "")

    def matches(claims: Any, value: Any) -> bool:
        if TENANT_PLACEHOLDER not in template:
            return value == template
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or not re.fullmatch(r"[0-9a-fA-F-]{36}", tenant):
            return False
        return value == template.replace(TENANT_PLACEHOLDER, tenant)

    return {"iss": {"essential": True, "validate": matches}}


def safe_return_url(value: str | None) -> str:
    """``returnURL`` when it is a path of this site, else ``/``: never another site (``//evil``, ``https://evil``,
    ``/\\evil``…), judged by Django's own ``url_has_allowed_host_and_scheme`` with no host allowed."""
    if not value or not value.startswith("/"):
        return "/"
    if not url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return "/"
    return value


def _refused(message: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{LOGIN_PAGE}?{urlencode({'error': message})}")


def _provider_of(name: str, organization: str) -> Provider:
    provider = settings.AUTH.provider(name, organization)
    if provider is None:
        raise NotFound(f"no login provider {name!r}{f' for organization {organization!r}' if organization else ''}")
    return provider


class ProviderItem(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    organization = serializers.CharField()
    path = serializers.CharField()


class ProvidersApi(APIView):
    """``GET /api/auth/providers``: Estafette's list of login buttons."""

    authentication_classes: list[type] = []

    @extend_schema(operation_id="auth_providers", responses={200: ProviderItem(many=True)})
    def get(self, request: Request) -> Response:
        items = []
        for provider in providers():
            query = f"?{urlencode({'organization': provider.organization})}" if provider.organization else ""
            items.append(
                {
                    "id": provider.name,
                    "name": provider.display_name,
                    "organization": provider.organization,
                    "path": f"/api/auth/login/{provider.name}{query}",
                }
            )
        return Response(items)


RETURN_URL = OpenApiParameter("returnURL", OpenApiTypes.STR, description="a path of this site to go back to")
ORGANIZATION = OpenApiParameter("organization", OpenApiTypes.STR, description="the organization whose provider it is")


class ProviderLoginApi(APIView):
    """``GET /api/auth/login/{provider}``: to the provider's login page (authorization code flow, PKCE, state)."""

    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="auth_provider_login",
        parameters=[RETURN_URL, ORGANIZATION],
        responses={302: OpenApiResponse(description="to the provider's login page"), 404: None},
    )
    def get(self, request: Request, provider: str) -> HttpResponse:
        organization = request.query_params.get("organization", "")
        chosen = _provider_of(provider, organization)
        client = oauth_client(chosen)
        django_request: HttpRequest = request._request
        redirect_uri = django_request.build_absolute_uri(f"/api/auth/handle/{chosen.name}")
        try:
            answer = client.create_authorization_url(redirect_uri)
        except (requests.RequestException, ValueError) as error:  # its discovery document could not be read
            log.warning("login provider %s unreachable: %s", chosen.name, type(error).__name__)
            return _refused(f"the login provider {chosen.display_name} cannot be reached; try again later")
        client.save_authorize_data(django_request, redirect_uri=redirect_uri, **answer)
        django_request.session[SESSION_PREFIX + answer["state"]] = {
            "returnURL": safe_return_url(request.query_params.get("returnURL")),
            "organization": organization,
        }
        return HttpResponseRedirect(answer["url"])


class ProviderHandleApi(APIView):
    """``GET /api/auth/handle/{provider}``: the provider's answer; signs the user in and goes back to ``returnURL``."""

    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="auth_provider_handle",
        parameters=[
            OpenApiParameter("code", OpenApiTypes.STR),
            OpenApiParameter("state", OpenApiTypes.STR),
        ],
        responses={302: OpenApiResponse(description="signed in: to returnURL; refused: to /login?error=…")},
    )
    def get(self, request: Request, provider: str) -> HttpResponse:
        django_request: HttpRequest = request._request
        state = request.query_params.get("state", "")
        pending = django_request.session.pop(SESSION_PREFIX + state, None) if state else None
        if pending is None:
            return _refused("this login was not started here or has expired: log in again")
        chosen = settings.AUTH.provider(provider, pending["organization"])
        if chosen is None:
            return _refused("unknown login provider")
        user, refusal = _user_of_answer(django_request, chosen)
        if user is None:
            return _refused(refusal)
        login(django_request, user, backend="django.contrib.auth.backends.ModelBackend")
        return HttpResponseRedirect(pending["returnURL"])


def _user_of_answer(request: HttpRequest, provider: Provider) -> tuple[Any, str]:
    """The user the provider's answer signs in (made on first login), or None and why not."""
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.base_client.errors import OAuthError
    from joserfc.errors import JoseError

    client = oauth_client(provider)
    try:
        if provider.kind == "github":  # OAuth 2 only: no ID token to check
            token = client.authorize_access_token(request)
        else:
            token = client.authorize_access_token(request, claims_options=issuer_check(client))
        identity = _identity(provider, client, token)
    except OAuthError as error:  # refused by the provider, or the state not matching
        return None, f"the login provider refused: {error.error}"
    except (AuthlibBaseError, JoseError) as error:  # an ID token that does not verify (signature, nonce, audience…)
        log.warning("login through %s refused: %s", provider.name, type(error).__name__)
        return None, "the login provider's answer did not verify; log in again"
    except (requests.RequestException, KeyError, ValueError) as error:
        log.warning("login through %s failed: %s", provider.name, type(error).__name__)
        return None, f"the login through {provider.display_name} failed; try again"
    if not identity["email"] or not provider.allows(identity["email"]):
        return None, f"{identity['email'] or 'a login without a verified email'} may not log in here"
    user = user_login_with_identity(provider=provider.name, organization=provider.organization, **identity)
    if not user.is_active:
        return None, "this user is deactivated"
    return user, ""


def _identity(provider: Provider, client: Any, token: dict[str, Any]) -> dict[str, str]:
    """``{subject, email, name, avatar}`` from the ID token (and the userinfo endpoint when it holds more), or from
    GitHub's user API (its primary verified email)."""
    if provider.kind == "github":
        user = client.get("user", token=token).json()
        emails = client.get("user/emails", token=token).json()
        primary = next((e["email"] for e in emails if e.get("primary") and e.get("verified")), "")
        return {
            "subject": str(user["id"]),
            "email": primary,
            "name": user.get("name") or user.get("login") or "",
            "avatar": user.get("avatar_url") or "",
        }
    claims = dict(token.get("userinfo") or {})
    if "email" not in claims:
        claims.update(client.userinfo(token=token))
    verified = claims.get("email_verified", True) is not False
    if TENANT_PLACEHOLDER in str(client.load_server_metadata().get("issuer") or ""):
        # Microsoft's multi-tenant endpoints: any tenant's administrator sets their users' email claim, verified or
        # not ("nOAuth"), and a user is found by email here; the email counts only when Microsoft says the tenant
        # owns its domain (the optional claim xms_edov, to add in the app registration) or it is marked verified.
        verified = claims.get("xms_edov") in (True, "true", "1", 1) or claims.get("email_verified") is True
    return {
        "subject": str(claims["sub"]),
        "email": str(claims.get("email") or "") if verified else "",
        "name": str(claims.get("name") or claims.get("preferred_username") or ""),
        "avatar": str(claims.get("picture") or ""),
    }


class LogoutApi(APIView):
    """``GET /api/auth/logout`` (Estafette's: ends the session, then to the login page) and ``POST`` (the web UI's:
    204). Only the session counts here: a token in the request has nothing to end."""

    authentication_classes = [SessionAuthentication]

    @extend_schema(operation_id="auth_logout_redirect", responses={302: OpenApiResponse(description="to /login")})
    def get(self, request: Request) -> HttpResponse:
        logout(request._request)
        return HttpResponseRedirect(LOGIN_PAGE)

    @extend_schema(
        operation_id="auth_logout", request=None, responses={204: OpenApiResponse(description="session ended")}
    )
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=204)


urlpatterns = [
    path("auth/providers", ProvidersApi.as_view(), name="auth-providers"),
    path("auth/login/<str:provider>", ProviderLoginApi.as_view(), name="auth-provider-login"),
    path("auth/handle/<str:provider>", ProviderHandleApi.as_view(), name="auth-provider-handle"),
    path("auth/logout", LogoutApi.as_view(), name="auth-logout"),
]
