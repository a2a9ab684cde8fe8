"""Manifest helpers in the API: ``POST /api/manifest/encrypt`` makes a secret envelope for a manifest."""

from __future__ import annotations

import base64

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.secrets import SecretError
from estafette.lib.api_docs import errors
from estafette.lib.crypt import secret_encrypt
from estafette.lib.errors import BadRequest
from estafette.lib.serializers import CamelCaseSerializer

MAX_SECRET_LENGTH = 256 * 1024


class EncryptSerializer(CamelCaseSerializer):
    value = serializers.CharField(
        trim_whitespace=True, max_length=MAX_SECRET_LENGTH, help_text="the value to encrypt (trimmed)"
    )
    base64 = serializers.BooleanField(default=False, help_text="base64-encode the value first (Kubernetes secrets)")
    pipeline_allow_list = serializers.CharField(
        default="",
        allow_blank=True,
        max_length=1024,
        help_text="regular expression for the pipelines (source/owner/name) that may use it; empty or .* for all",
    )


class SecretSerializer(CamelCaseSerializer):
    secret = serializers.CharField(help_text="estafette.secret(...) to paste into .estafette.yaml")


class ManifestEncryptApi(APIView):
    """``POST /api/manifest/encrypt``: an ``estafette.secret(...)`` of a value, restricted to some pipelines."""

    @extend_schema(
        operation_id="manifest_encrypt",
        request=EncryptSerializer,
        responses={200: SecretSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        body = EncryptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        value: str = body.validated_data["value"]
        if body.validated_data["base64"]:
            value = base64.b64encode(value.encode()).decode()
        try:
            secret = secret_encrypt(value=value, allow_list=body.validated_data["pipeline_allow_list"].strip())
        except SecretError as error:
            raise BadRequest(f"pipelineAllowList: {error}") from None
        return Response(SecretSerializer({"secret": secret}).data)
