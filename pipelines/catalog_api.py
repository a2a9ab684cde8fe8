"""Estafette's catalog entities: ``GET|POST /api/catalog/entities``, ``GET|PUT|DELETE /api/catalog/entities/{id}``.

The JSON is Estafette's ``CatalogEntity`` (``{id, parentKey, parentValue, key, value, linkedPipeline, labels,
metadata, insertedAt, updatedAt}``); an update answers ``{"code": "OK"}`` and a delete too, as Estafette does. Who may
do what is ``estafette/policy.py``'s (Estafette's: anyone signed in lists; reading one and every change need a
catalog role or administrator).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from estafette.lib.api_docs import errors, list_envelope, list_parameters
from estafette.lib.errors import BadRequest, NotFound
from estafette.lib.ids import is_id
from estafette.lib.listing import ALL, page_of, parse_list_query
from pipelines.catalog import (
    CatalogEntityFields,
    CatalogEntityFilters,
    catalog_entity_create,
    catalog_entity_delete,
    catalog_entity_list,
    catalog_entity_update,
)
from pipelines.models import CatalogEntity

SORT_FIELDS = ("key", "value", "parent_key", "parent_value", "inserted_at", "id")


class CatalogLabelSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=256, trim_whitespace=False)
    value = serializers.CharField(max_length=256, allow_blank=True, trim_whitespace=False)


class CatalogEntitySerializer(serializers.Serializer):
    """An entity as Estafette's JSON spells it; ``id``, ``insertedAt`` and ``updatedAt`` are the server's."""

    id = serializers.CharField(read_only=True)
    parentKey = serializers.CharField(source="parent_key", required=False, allow_blank=True, max_length=256)
    parentValue = serializers.CharField(source="parent_value", required=False, allow_blank=True, max_length=256)
    key = serializers.CharField(max_length=256)
    value = serializers.CharField(max_length=256)
    linkedPipeline = serializers.CharField(source="linked_pipeline", required=False, allow_blank=True, max_length=770)
    labels = CatalogLabelSerializer(many=True, required=False)
    metadata = serializers.DictField(required=False, help_text="free-form JSON object")
    insertedAt = serializers.DateTimeField(source="inserted_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)
        data["id"] = str(instance.pk)
        return data


class CatalogEntityUpdateSerializer(CatalogEntitySerializer):
    # Estafette's update carries the entity's id; when it is there it must be the one in the URL.
    id = serializers.CharField(required=False)


OK = inline_serializer("CatalogEntityChanged", {"code": serializers.CharField()})
_FILTER_PARAMETERS = [
    OpenApiParameter("filter[parent]", OpenApiTypes.STR, description="the parent's key, or key=value"),
    OpenApiParameter("filter[entity]", OpenApiTypes.STR, description="the entity's key, or key=value"),
    OpenApiParameter("filter[pipeline]", OpenApiTypes.STR, description="the linked pipeline, source/owner/name"),
]


def _fields(data: dict[str, Any]) -> CatalogEntityFields:
    return CatalogEntityFields(
        key=data["key"],
        value=data["value"],
        parent_key=data.get("parent_key", ""),
        parent_value=data.get("parent_value", ""),
        linked_pipeline=data.get("linked_pipeline", ""),
        labels=tuple((label["key"], label["value"]) for label in data.get("labels", [])),
        metadata=data.get("metadata") or {},
    )


def _pair(request: Request, name: str) -> tuple[str, str | None] | None:
    values = list(dict.fromkeys(request.query_params.getlist(f"filter[{name}]")))
    if not values or values == [ALL]:
        return None
    if len(values) > 1:
        raise BadRequest(f"filter[{name}] takes one value, got {len(values)}")
    key, separator, value = values[0].partition("=")
    if not key or "\x00" in values[0]:
        raise BadRequest(f"filter[{name}] must be key or key=value, got {values[0][:100]!r}")
    return key, value if separator else None


def _entity(entity_id: str) -> CatalogEntity:
    entity = CatalogEntity.objects.filter(pk=int(entity_id)).first() if is_id(entity_id) else None
    if entity is None:
        raise NotFound(f"catalog entity {entity_id[:40]!r} not found")
    return entity


class CatalogEntitiesApi(APIView):
    @extend_schema(
        operation_id="catalog_entities_list",
        parameters=[*list_parameters(("labels", "search"), SORT_FIELDS), *_FILTER_PARAMETERS],
        responses={200: list_envelope(CatalogEntitySerializer, "CatalogEntity"), **errors(400, 401)},
    )
    def get(self, request: Request) -> Response:
        query = parse_list_query(
            request.query_params, filters=("labels", "search"), sort_fields=SORT_FIELDS, default_sort=("id",)
        )
        pipeline = _pair(request, "pipeline")
        filters = CatalogEntityFilters(
            parent=_pair(request, "parent"),
            entity=_pair(request, "entity"),
            pipeline=pipeline[0] if pipeline else None,
            labels=query.filters.labels,
            search=query.filters.search,
        )
        page = page_of(catalog_entity_list(filters=filters).order_by(*query.order_by), query)
        return Response(page.envelope(lambda items: CatalogEntitySerializer(items, many=True).data))

    @extend_schema(
        operation_id="catalog_entity_create",
        request=CatalogEntitySerializer,
        responses={201: CatalogEntitySerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        body = CatalogEntitySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entity = catalog_entity_create(fields=_fields(body.validated_data))
        return Response(CatalogEntitySerializer(entity).data, status=201)


class CatalogEntityApi(APIView):
    @extend_schema(operation_id="catalog_entity_get", responses={200: CatalogEntitySerializer, **errors(401, 403, 404)})
    def get(self, request: Request, entity_id: str) -> Response:
        return Response(CatalogEntitySerializer(_entity(entity_id)).data)

    @extend_schema(
        operation_id="catalog_entity_update",
        request=CatalogEntityUpdateSerializer,
        responses={200: OK, **errors(400, 401, 403, 404)},
    )
    def put(self, request: Request, entity_id: str) -> Response:
        entity = _entity(entity_id)
        body = CatalogEntityUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data.get("id", entity_id) != entity_id:
            raise BadRequest(f"the body's id {body.validated_data['id'][:40]!r} is not the id in the URL")
        catalog_entity_update(entity=entity, fields=_fields(body.validated_data))
        return Response({"code": "OK"})

    @extend_schema(operation_id="catalog_entity_delete", request=None, responses={200: OK, **errors(401, 403, 404)})
    def delete(self, request: Request, entity_id: str) -> Response:
        catalog_entity_delete(entity=_entity(entity_id))
        return Response({"code": "OK"})
