"""Serializer helpers for Estafette's JSON: snake_case in Python, camelCase on the wire."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from builder.manifest.jsonnames import camel_case

__all__ = ["CamelCaseSerializer", "IdField", "TimestampField", "camel_case", "wire_json"]


class CamelCaseSerializer(serializers.Serializer):
    """Fields are declared snake_case and rendered camelCase.

    ``omit_when_null`` names (snake_case) fields left out of the output while their value is None,
    like Go's ``omitempty`` on pointer fields (``startedAt``, ``duration``).
    """

    omit_when_null: tuple[str, ...] = ()

    def get_fields(self) -> dict[str, serializers.Field]:
        renamed: dict[str, serializers.Field] = {}
        for name, field in super().get_fields().items():
            wire_name = camel_case(name)
            if field.source == wire_name:
                field.source = None  # DRF refuses a source equal to the field name
            elif field.source is None and wire_name != name:
                field.source = name
            if name in self.omit_when_null:
                field.required = False
                field.allow_null = True
            renamed[wire_name] = field
        return renamed

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in self.omit_when_null:
            wire_name = camel_case(name)
            if data.get(wire_name) is None:
                data.pop(wire_name, None)
        return data


class IdField(serializers.CharField):
    """Ids are strings on the wire, as in Estafette: CockroachDB's ids exceed JavaScript's safe integers."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return str(value)


class TimestampField(serializers.DateTimeField):
    """RFC 3339 in UTC with a ``Z`` (``2030-01-02T03:04:05.678901Z``), as Go's ``time.Time`` marshals.

    Cheaper than DRF's field, which re-applies the current time zone to every value.
    """

    def to_representation(self, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _WireJsonField(serializers.Field):
    """A JSON value stored in its wire shape already: passed through as it is."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return value


def wire_json(schema: serializers.BaseSerializer | Any, **kwargs: Any) -> serializers.Field:
    """A read-only field for JSON stored in Estafette's wire shape (labels, release targets, commits…).

    Nested serializers would rebuild such values field by field, which dominates the cost of a list
    page; this passes the stored value through and documents it in OpenAPI as ``schema``.
    """
    field_class = extend_schema_field(schema)(type("WireJsonField", (_WireJsonField,), {}))
    return field_class(**kwargs)
