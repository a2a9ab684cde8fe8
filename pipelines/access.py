"""Pipelines' part of identity and access: a pipeline's groups and organizations, which decide who sees and operates
it (``estafette.access``), the administrators' routes that assign them, and the scope the access rules look up."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.access.models import Group, Organization
from estafette.access.serializers import BatchSerializer, RefListField
from estafette.access.visibility import visible_to
from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.db import retry_on_serialization_failure
from estafette.lib.errors import BadRequest
from estafette.lib.listing import page_of, parse_list_query
from estafette.lib.serializers import CamelCaseSerializer, IdField
from pipelines import selectors
from pipelines.models import Pipeline


@retry_on_serialization_failure
@transaction.atomic
def pipeline_assign(
    *, pipeline: Pipeline, groups: list[Group] | None, organizations: list[Organization] | None
) -> None:
    if groups is not None:
        pipeline.groups.set(groups)
    if organizations is not None:
        pipeline.organizations.set(organizations)


class AdminPipelineSerializer(CamelCaseSerializer):
    id = IdField(source="pk", read_only=True)
    repo_source = serializers.CharField(read_only=True)
    repo_owner = serializers.CharField(read_only=True)
    repo_name = serializers.CharField(read_only=True)
    archived = serializers.BooleanField(read_only=True)
    groups = RefListField(Group, required=False)
    organizations = RefListField(Organization, required=False)


ADMIN_FILTERS = ("search", "labels", "groups", "organizations", "archived")


class AdminPipelinesApi(APIView):
    @extend_schema(
        operation_id="admin_pipelines_list",
        parameters=list_parameters(ADMIN_FILTERS, selectors.PIPELINE_SORT_FIELDS),
        responses={200: list_envelope(AdminPipelineSerializer, "AdminPipeline"), **errors(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        query = parse_list_query(
            request.query_params,
            filters=ADMIN_FILTERS,
            sort_fields=selectors.PIPELINE_SORT_FIELDS,
            default_sort=selectors.PIPELINE_DEFAULT_SORT,
            tie_breaker=selectors.PIPELINE_DEFAULT_SORT,
            within=visible_to(request),
        )
        page = page_of(selectors.pipeline_list(filters=query.filters), query)
        return Response(page.envelope(lambda items: AdminPipelineSerializer(items, many=True).data))


class AdminPipelineApi(APIView):
    @extend_schema(operation_id="admin_pipeline_get", responses={200: AdminPipelineSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = selectors.pipeline_get(repo_source=source, repo_owner=owner, repo_name=name)
        return Response(AdminPipelineSerializer(pipeline).data)

    @extend_schema(
        operation_id="admin_pipeline_update",
        request=AdminPipelineSerializer,
        responses={200: AdminPipelineSerializer, **errors(400, 401, 403, 404)},
        description="Set the pipeline's groups and organizations (who sees and operates it).",
    )
    def put(self, request: Request, source: str, owner: str, name: str) -> Response:
        pipeline = selectors.pipeline_get(repo_source=source, repo_owner=owner, repo_name=name)
        body = AdminPipelineSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        pipeline_assign(
            pipeline=pipeline,
            groups=body.validated_data.get("groups"),
            organizations=body.validated_data.get("organizations"),
        )
        return Response(
            AdminPipelineSerializer(selectors.pipeline_get(repo_source=source, repo_owner=owner, repo_name=name)).data
        )


class PipelinesBatchApi(APIView):
    @extend_schema(
        operation_id="admin_batch_pipelines",
        request=BatchSerializer,
        responses={
            200: inline_serializer("PipelinesBatchAnswer", {"changed": serializers.IntegerField()}),
            **errors(400, 401, 403),
        },
        description="Add or remove groups and organizations of several pipelines (ids, or source/owner/name).",
    )
    def post(self, request: Request) -> Response:
        data: dict[str, Any] = dict(request.data) if isinstance(request.data, dict) else {}
        names = data.pop("pipelines", None) or data.get("ids")
        body = BatchSerializer(data={**data, "ids": names})
        body.is_valid(raise_exception=True)
        changes = body.validated_data
        pipelines = []
        for key in changes["ids"]:
            parts = key.split("/")
            found = (
                Pipeline.objects.filter(pk=int(key)).first()
                if key.isdigit()
                else Pipeline.objects.filter(repo_source=parts[0], repo_owner=parts[1], repo_name=parts[2]).first()
                if len(parts) == 3
                else None
            )
            if found is None:
                raise BadRequest(f"no pipeline {key!r}")
            pipelines.append(found)
        add_groups = _named(
            Group, [*([changes["group"]] if changes.get("group") else []), *changes.get("groups_to_add", [])]
        )
        remove_groups = _named(Group, changes.get("groups_to_remove", []))
        add_orgs = _named(
            Organization,
            [
                *([changes["organization"]] if changes.get("organization") else []),
                *changes.get("organizations_to_add", []),
            ],
        )
        remove_orgs = _named(Organization, changes.get("organizations_to_remove", []))
        _batch_assign(pipelines, add_groups, remove_groups, add_orgs, remove_orgs)
        return Response({"changed": len(pipelines)})


def _named(model: type[Any], names: list[str]) -> list[Any]:
    found = list(model.objects.filter(name__in=names))
    missing = set(names) - {item.name for item in found}
    if missing:
        raise BadRequest(f"no {model._meta.verbose_name} named {sorted(missing)[0]!r}")
    return found


@retry_on_serialization_failure
@transaction.atomic
def _batch_assign(
    pipelines: list[Pipeline],
    add_groups: list[Any],
    remove_groups: list[Any],
    add_orgs: list[Any],
    remove_orgs: list[Any],
) -> None:
    for pipeline in pipelines:
        pipeline.groups.add(*add_groups)
        pipeline.groups.remove(*remove_groups)
        pipeline.organizations.add(*add_orgs)
        pipeline.organizations.remove(*remove_orgs)


urlpatterns = [
    path("admin/pipelines", AdminPipelinesApi.as_view(), name="admin-pipelines"),
    path("admin/pipelines/<str:source>/<str:owner>/<str:name>", AdminPipelineApi.as_view(), name="admin-pipeline"),
    path("admin/batch/pipelines", PipelinesBatchApi.as_view(), name="admin-batch-pipelines"),
]
