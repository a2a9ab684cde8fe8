"""Estafette's read-only configuration and SCM-migration routes, as its web UI reads them (ESTAFETTE.md §3.3):

* ``GET /api/config``, ``/api/config/credentials``, ``/api/config/trustedimages``, ``/api/config/buildControl`` →
  ``{"config": "<yaml>"}``: the server's non-secret configuration (``ESTAFETTE_CONFIG_FILE``, the manifest
  preferences). Redacted: every ``estafette.secret(...)`` is ``***``, and so is every property of a credential
  other than its name, type, filters and the few that name where it applies (``REVEALED_CREDENTIAL_KEYS``): a value
  written into the file in plain text is a secret too. Signed-in users only, even with anonymous reads allowed.
* ``GET /api/migrations/from/{source}/{owner}/{name}``, ``/api/migrations/builds/{id}``,
  ``/api/migrations/releases/{id}`` → 404 "not migrated": this server does not move pipelines between repositories
  (Estafette's SCM migration), so nothing was ever migrated; the UI shows its migration notice only on a 200.
"""

from __future__ import annotations

from typing import Any

import yaml
from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors
from estafette.lib.errors import NotFound
from estafette.lib.redact import REDACTED, redact_secrets

CREDENTIAL_FILTER_KEYS = ("allowedPipelines", "allowedTrustedImages", "allowedBranches")
REVEALED_CREDENTIAL_KEYS = frozenset({"name", "type", *CREDENTIAL_FILTER_KEYS, "repository", "project", "region"})

CONFIG = inline_serializer("ConfigYaml", {"config": serializers.CharField(help_text="YAML, secrets as ***")})


def redacted_credential(credential: dict[str, Any]) -> dict[str, Any]:
    """A credential as the configuration pages show it: its other properties' values replaced by ``***``."""
    return {key: value if key in REVEALED_CREDENTIAL_KEYS else REDACTED for key, value in credential.items()}


def _yaml(data: Any) -> str:
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return redact_secrets(text)


def configuration() -> dict[str, Any]:
    return {
        "manifestPreferences": settings.MANIFEST_PREFERENCES,
        "credentials": [redacted_credential(dict(c)) for c in settings.CREDENTIALS],
        "trustedImages": [dict(image) for image in settings.TRUSTED_IMAGES],
    }


def _config_answer(part: str | None) -> Response:
    config = configuration()
    return Response({"config": _yaml(config if part is None else config[part])})


class ConfigAllApi(APIView):
    """``GET /api/config``: the manifest preferences, credentials (redacted) and trusted images."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="config_all", responses={200: CONFIG, **errors(401)})
    def get(self, request: Request) -> Response:
        return _config_answer(None)


class ConfigCredentialsApi(APIView):
    """``GET /api/config/credentials``: the credentials jobs may receive, redacted."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="config_credentials", responses={200: CONFIG, **errors(401)})
    def get(self, request: Request) -> Response:
        return _config_answer("credentials")


class ConfigTrustedImagesApi(APIView):
    """``GET /api/config/trustedimages``: the trusted images and what each may do."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="config_trusted_images", responses={200: CONFIG, **errors(401)})
    def get(self, request: Request) -> Response:
        return _config_answer("trustedImages")


class ConfigBuildControlApi(APIView):
    """``GET /api/config/buildControl``: Estafette's build control; this server has none (an empty map)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(operation_id="config_build_control", responses={200: CONFIG, **errors(401)})
    def get(self, request: Request) -> Response:
        return Response({"config": _yaml({})})


class NotMigratedApi(APIView):
    """Estafette's SCM migration lookups: nothing on this server was ever migrated (404)."""

    @extend_schema(responses={404: errors(404)[404], **errors(401)})
    def get(self, request: Request, **path: str) -> Response:
        what = "/".join(path.values())
        raise NotFound(f"{what} was not migrated: this server does not migrate pipelines between repositories")


urlpatterns = [
    path("config", ConfigAllApi.as_view(), name="config"),
    path("config/credentials", ConfigCredentialsApi.as_view(), name="config-credentials"),
    path("config/trustedimages", ConfigTrustedImagesApi.as_view(), name="config-trusted-images"),
    path("config/buildControl", ConfigBuildControlApi.as_view(), name="config-build-control"),
    path("migrations/from/<str:source>/<str:owner>/<str:name>", NotMigratedApi.as_view(), name="migrations-from-repo"),
    path("migrations/builds/<str:id>", NotMigratedApi.as_view(), name="migrations-build"),
    path("migrations/releases/<str:id>", NotMigratedApi.as_view(), name="migrations-release"),
]
