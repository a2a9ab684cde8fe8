"""The API's serializers keep their JSON names now that the builder and the events share their camelCase rule."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module

from django.conf import settings

from estafette.lib.serializers import CamelCaseSerializer, camel_case


def serializers_rule_before(name: str) -> str:
    """``estafette/lib/serializers.py``'s own ``camel_case`` before issue 11 (the rule that became the shared one)."""
    head, *rest = name.split("_")
    return head + "".join("ID" if part == "id" else part.capitalize() for part in rest)


def camel_case_serializers() -> Iterator[type[CamelCaseSerializer]]:
    import_module(settings.ROOT_URLCONF)  # every view, so every serializer the API renders
    pending = list(CamelCaseSerializer.__subclasses__())
    while pending:
        serializer = pending.pop()
        pending.extend(serializer.__subclasses__())
        yield serializer


def test_every_serializer_field_keeps_its_json_name() -> None:
    # given every field declared on a camelCase serializer the API uses
    names = {name for serializer in camel_case_serializers() for name in serializer._declared_fields}

    # then the shared rule names it as the serializers' own rule did
    assert len(names) > 50
    assert {name: camel_case(name) for name in names} == {name: serializers_rule_before(name) for name in names}
    assert camel_case("build_id") == "buildID"
