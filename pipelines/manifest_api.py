"""Manifest helpers in the API: ``POST /api/manifest/encrypt`` makes a secret envelope for a manifest;
``GET /api/manifest/templates``, ``POST /api/manifest/generate`` and ``POST /api/manifest/validate`` back Estafette's
manifest generator and validator pages."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder.manifest import ManifestErrors, ManifestPreferences, load_manifest
from builder.secrets import SecretError
from estafette.lib.api_docs import errors
from estafette.lib.crypt import secret_encrypt
from estafette.lib.errors import BadRequest, NotFound
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


# -- templates, generation and validation (Estafette's "create" pages) -------------------------------------

TEMPLATE_FILE = re.compile(r"^manifest-([a-z0-9][a-z0-9_.-]*)\.tmpl$")
PLACEHOLDER = re.compile(r"\{\{\s*\.([A-Za-z0-9]+)\s*\}\}")
MAX_PLACEHOLDERS = 50
MAX_PLACEHOLDER_LENGTH = 1024


def manifest_templates() -> dict[str, str]:
    """The templates of ``ESTAFETTE_MANIFEST_TEMPLATES_DIR`` by name (``manifest-<name>.tmpl``), sorted by name;
    none when the directory does not exist."""
    directory = Path(settings.MANIFEST_TEMPLATES_DIR)
    if not directory.is_dir():
        return {}
    templates = {}
    for file in sorted(directory.iterdir()):
        match = TEMPLATE_FILE.match(file.name)
        if match and file.is_file():
            templates[match.group(1)] = file.read_text(encoding="utf-8")
    return templates


def placeholders_of(template: str) -> list[str]:
    """The placeholders ``{{.Name}}`` of a template, each once, in order of appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def render_template(template: str, values: dict[str, str]) -> str:
    """The template with each ``{{.Name}}`` replaced by its value (empty when not given).

    Written here rather than with a template engine: Estafette's templates use Go's ``text/template`` syntax, of
    which they only need these placeholders; nothing else in a template is evaluated."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), template)


class TemplateSerializer(serializers.Serializer):
    template = serializers.CharField()
    placeholders = serializers.ListField(child=serializers.CharField())


class TemplatesSerializer(serializers.Serializer):
    templates = TemplateSerializer(many=True)


class GenerateSerializer(serializers.Serializer):
    template = serializers.CharField(max_length=128)
    placeholders = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=MAX_PLACEHOLDER_LENGTH), required=False, default=dict
    )

    def validate_placeholders(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_PLACEHOLDERS:
            raise serializers.ValidationError(f"at most {MAX_PLACEHOLDERS} placeholders")
        return value


class GeneratedSerializer(serializers.Serializer):
    manifest = serializers.CharField()


class ValidateSerializer(serializers.Serializer):
    manifest = serializers.CharField(allow_blank=True, trim_whitespace=False)


class ValidationSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="succeeded or failed")
    errors = serializers.CharField(help_text="one error per line, file:line:column: message; empty when valid")


class ManifestTemplatesApi(APIView):
    """``GET /api/manifest/templates``: the manifest templates and their placeholders."""

    @extend_schema(operation_id="manifest_templates", responses={200: TemplatesSerializer, **errors(401)})
    def get(self, request: Request) -> Response:
        templates = [
            {"template": name, "placeholders": placeholders_of(text)} for name, text in manifest_templates().items()
        ]
        return Response({"templates": templates})


class ManifestGenerateApi(APIView):
    """``POST /api/manifest/generate``: a template with its placeholders filled in."""

    @extend_schema(
        operation_id="manifest_generate",
        request=GenerateSerializer,
        responses={200: GeneratedSerializer, **errors(400, 401, 404)},
    )
    def post(self, request: Request) -> Response:
        body = GenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data["template"]
        # Looked up among the listed templates, never joined to a path: the name cannot reach another file.
        template = manifest_templates().get(name)
        if template is None:
            raise NotFound(f"no manifest template {name!r}; GET /api/manifest/templates lists them")
        return Response({"manifest": render_template(template, body.validated_data["placeholders"])})


class ManifestValidateApi(APIView):
    """``POST /api/manifest/validate``: whether a manifest is valid with this server's preferences (always 200)."""

    @extend_schema(
        operation_id="manifest_validate",
        request=ValidateSerializer,
        responses={200: ValidationSerializer, **errors(400, 401)},
    )
    def post(self, request: Request) -> Response:
        body = ValidateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        preferences = ManifestPreferences.from_dict(settings.MANIFEST_PREFERENCES)
        try:
            load_manifest(body.validated_data["manifest"], preferences=preferences)
        except ManifestErrors as failure:
            return Response({"status": "failed", "errors": str(failure)})
        return Response({"status": "succeeded", "errors": ""})
