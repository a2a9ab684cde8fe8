"""Estafette's catalog entities: ``/api/catalog/entities`` (create, read, list with filters, update, delete)."""

from __future__ import annotations

from typing import Any

import pytest

from estafette.access.services import account_of
from estafette.testing import client_for, make_user
from pipelines.models import CatalogEntity

pytestmark = pytest.mark.django_db
API = "/api/catalog/entities"


def catalog_admin() -> Any:
    user = make_user("cat")
    account = account_of(user)
    account.roles = ["catalog.entities.admin"]
    account.save()
    return client_for(user)


def entity(**fields: Any) -> dict[str, Any]:
    return {"key": "service", "value": "api", **fields}


def test_it_creates_an_entity_under_a_parent_and_reads_it_back() -> None:
    # given
    api = catalog_admin()
    body = entity(
        parentKey="team",
        parentValue="ci",
        linkedPipeline="github.com/acme/api",
        labels=[{"key": "tier", "value": "1"}, {"key": "language", "value": "go"}],
        metadata={"owner": "ci@example.com", "links": [{"name": "docs", "url": "https://docs.example.com"}]},
    )

    # when
    created = api.post(API, body, format="json")
    shown = api.get(f"{API}/{created.json()['id']}")

    # then
    assert created.status_code == 201
    data = shown.json()
    assert data["id"] == created.json()["id"]
    assert (data["parentKey"], data["parentValue"], data["key"], data["value"]) == ("team", "ci", "service", "api")
    assert data["linkedPipeline"] == "github.com/acme/api"
    assert data["labels"] == [{"key": "language", "value": "go"}, {"key": "tier", "value": "1"}]  # sorted by key
    assert data["metadata"]["links"][0]["name"] == "docs"
    assert data["insertedAt"] and data["updatedAt"]


def test_it_lists_entities_by_parent_key_value_labels_and_pipeline() -> None:
    # given
    api = catalog_admin()
    api.post(API, entity(key="team", value="ci"), format="json")
    api.post(API, entity(parentKey="team", parentValue="ci", value="api", labels=[{"key": "tier", "value": "1"}]))
    api.post(API, entity(parentKey="team", parentValue="ci", value="web", linkedPipeline="github.com/acme/web"))
    api.post(API, entity(parentKey="team", parentValue="ops", value="db", labels=[{"key": "tier", "value": "1"}]))
    reader = client_for(make_user("reader"))

    def values(query: str) -> list[str]:
        response = reader.get(f"{API}?{query}")
        assert response.status_code == 200, response.content
        return [item["value"] for item in response.json()["items"]]

    # then
    assert values("") == ["ci", "api", "web", "db"]
    assert values("filter[parent]=team=ci") == ["api", "web"]
    assert values("filter[parent]=team") == ["api", "web", "db"]
    assert values("filter[entity]=team") == ["ci"]
    assert values("filter[labels]=tier=1") == ["api", "db"]
    assert values("filter[labels]=tier=1&filter[parent]=team=ops") == ["db"]
    assert values("filter[pipeline]=github.com/acme/web") == ["web"]
    assert values("filter[search]=we") == ["web"]
    assert values("sort=-value&page[size]=2") == ["web", "db"]
    assert reader.get(f"{API}?page[size]=2").json()["pagination"]["totalItems"] == 4


def test_it_updates_and_deletes_an_entity() -> None:
    # given
    api = catalog_admin()
    created = api.post(API, entity(labels=[{"key": "tier", "value": "1"}]), format="json").json()

    # when
    updated = api.put(
        f"{API}/{created['id']}",
        {"id": created["id"], "key": "service", "value": "api-v2", "labels": [], "metadata": {"a": 1}},
        format="json",
    )
    after_update = CatalogEntity.objects.get(pk=created["id"])
    deleted = api.delete(f"{API}/{created['id']}")

    # then
    assert (updated.status_code, updated.json()) == (200, {"code": "OK"})
    assert (after_update.value, after_update.labels, after_update.metadata) == ("api-v2", [], {"a": 1})
    assert api.get(f"{API}?filter[labels]=tier=1").json()["items"] == []
    assert (deleted.status_code, deleted.json()) == (200, {"code": "OK"})
    assert not CatalogEntity.objects.filter(pk=created["id"]).exists()
    assert api.get(f"{API}/{created['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"value": "api"}, "key"),
        (entity(key=" "), "key"),
        (entity(parentKey="team"), "parentKey and parentValue go together"),
        (entity(linkedPipeline="acme/api"), "linkedPipeline must be source/owner/name"),
        (entity(labels=[{"key": "a=b", "value": "c"}]), "must not contain '='"),
        (entity(labels=[{"value": "c"}]), "key"),
        (entity(metadata=["not", "an", "object"]), "metadata"),
        (entity(metadata={"blob": "x" * 70_000}), "metadata must be at most"),
        (entity(key="k" * 300), "key"),
    ],
)
def test_it_refuses_a_malformed_entity_with_a_reason(body: dict[str, Any], reason: str) -> None:
    response = catalog_admin().post(API, body, format="json")

    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not CatalogEntity.objects.exists()


def test_an_update_naming_another_id_is_refused() -> None:
    api = catalog_admin()
    first = api.post(API, entity(), format="json").json()

    response = api.put(f"{API}/{first['id']}", {**entity(), "id": "999"}, format="json")

    assert response.status_code == 400
    assert "is not the id in the URL" in response.json()["message"]


def test_ids_that_are_not_ids_are_404s() -> None:
    api = catalog_admin()

    for raw in ("abc", "²", "9" * 40):
        assert api.get(f"{API}/{raw}").status_code == 404
        assert api.delete(f"{API}/{raw}").status_code == 404
