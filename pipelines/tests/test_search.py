"""``filter[search]``: Estafette's case-insensitive contains-search over a pipeline's source, owner and
name, served by the stored ``Pipeline.search_key``."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user
from pipelines.models import Pipeline

BEFORE_SEARCH_KEY = ("pipelines", "0002_repo_url_and_trigger_facets")
WITH_SEARCH_KEY = ("pipelines", "0003_search_key")


@pytest.fixture
def client():
    return client_for(make_user())


def search(client, term: str) -> list[str]:
    response = client.get("/api/pipelines", {"filter[search]": term, "sort": "repo_source,repo_owner,repo_name"})
    assert response.status_code == 200, response.content
    return [f"{item['repoSource']}/{item['repoOwner']}/{item['repoName']}" for item in response.json()["items"]]


@pytest.mark.django_db
def test_it_matches_part_of_the_source_owner_or_name_ignoring_case(client) -> None:
    # given
    make_build(make_pipeline("Billing-API", owner="Acme", source="github.com"))
    make_build(make_pipeline("web", owner="globex", source="bitbucket.org"))
    make_build(make_pipeline("tools", owner="initech", source="source.developers.google.com"))

    # then: any one field, any part of it, any case
    assert search(client, "api") == ["github.com/Acme/Billing-API"]
    assert search(client, "ACME") == ["github.com/Acme/Billing-API"]
    assert search(client, "BitBucket") == ["bitbucket.org/globex/web"]
    assert search(client, "g-a") == ["github.com/Acme/Billing-API"]
    assert search(client, "o") == [
        "bitbucket.org/globex/web",
        "github.com/Acme/Billing-API",
        "source.developers.google.com/initech/tools",
    ]
    assert search(client, "nothing-like-it") == []


@pytest.mark.django_db
def test_it_never_matches_across_two_fields(client) -> None:
    # given
    make_build(make_pipeline("api", owner="acme", source="github.com"))

    # then: Estafette matches each field on its own, so text spanning source/owner/name finds nothing
    assert search(client, "acme/api") == []
    assert search(client, "com/acme") == []
    assert search(client, "/") == []
    assert search(client, "acme") == ["github.com/acme/api"]


@pytest.mark.django_db
def test_it_takes_like_wildcards_literally(client) -> None:
    # given
    make_build(make_pipeline("a_b"))
    make_build(make_pipeline("axb"))
    make_build(make_pipeline("100%"))

    # then
    assert search(client, "a_b") == ["github.com/acme/a_b"]
    assert search(client, "%") == ["github.com/acme/100%"]
    assert search(client, "0%") == ["github.com/acme/100%"]


@pytest.mark.django_db
def test_it_counts_only_the_matches_for_the_pagination(client) -> None:
    # given
    for name in ("api-one", "api-two", "api-three", "web"):
        make_build(make_pipeline(name))

    # when
    response = client.get("/api/pipelines", {"filter[search]": "API", "page[size]": "2"})

    # then
    assert response.json()["pagination"] == {"page": 1, "size": 2, "totalPages": 2, "totalItems": 3}
    assert [item["repoName"] for item in response.json()["items"]] == ["api-one", "api-three"]


@pytest.mark.django_db
def test_it_keeps_the_search_key_on_create_and_on_rename(client) -> None:
    # given: created through the service
    pipeline = make_build(make_pipeline("Old-Name", owner="Acme")).pipeline
    assert Pipeline.objects.get(pk=pipeline.pk).search_key == "github.com/acme/old-name"

    # when: renamed with save() and with a queryset update()
    pipeline.repo_name = "New-Name"
    pipeline.save(update_fields=["repo_name"])
    Pipeline.objects.filter(pk=pipeline.pk).update(repo_owner="Globex")

    # then
    assert Pipeline.objects.get(pk=pipeline.pk).search_key == "github.com/globex/new-name"
    assert search(client, "new-name") == ["github.com/Globex/New-Name"]
    assert search(client, "globex") == ["github.com/Globex/New-Name"]
    assert search(client, "old-name") == []
    assert search(client, "acme") == []


@pytest.mark.django_db
def test_it_keeps_the_search_key_of_pipelines_created_in_bulk(client) -> None:
    # given: bulk_create skips save(); the database computes the key anyway
    Pipeline.objects.bulk_create([Pipeline(repo_source="github.com", repo_owner="Acme", repo_name="Bulk")])

    # then
    assert Pipeline.objects.get(repo_name="Bulk").search_key == "github.com/acme/bulk"


@pytest.mark.django_db(transaction=True)
def test_it_fills_the_search_key_of_existing_pipelines_when_migrating() -> None:
    # given: the schema before the search key, holding a pipeline
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([BEFORE_SEARCH_KEY])
    try:
        old_pipeline = executor.loader.project_state([BEFORE_SEARCH_KEY]).apps.get_model("pipelines", "Pipeline")
        old_pipeline.objects.create(repo_source="GitHub.com", repo_owner="Acme", repo_name="API")

        # when
        executor = MigrationExecutor(connection)
        executor.migrate([WITH_SEARCH_KEY])
    finally:
        MigrationExecutor(connection).migrate(latest)

    # then
    assert list(Pipeline.objects.values_list("search_key", flat=True)) == ["github.com/acme/api"]
