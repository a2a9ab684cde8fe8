from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user
from pipelines.services import pipeline_archive
from releases.testing import make_release
from runs.models import RunStatus

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client():
    return client_for(make_user())


def names(response) -> list[str]:
    return [item["repoName"] for item in response.json()["items"]]


@pytest.mark.django_db
def test_it_lists_pipelines_in_estafettes_shape(client) -> None:
    # given
    pipeline = make_pipeline("api")
    build = make_build(
        pipeline,
        status=RunStatus.SUCCEEDED,
        commits=[{"message": "Fix", "author": {"email": "ann@example.com", "name": "Ann", "username": "ann"}}],
        now=T0,
        started=T0 + timedelta(seconds=3),
        finished=T0 + timedelta(seconds=63),
    )
    release = make_release(
        build, "production", action="deploy", status=RunStatus.SUCCEEDED, now=T0 + timedelta(hours=1)
    )

    # when
    response = client.get("/api/pipelines")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"page": 1, "size": 20, "totalPages": 1, "totalItems": 1}
    [item] = body["items"]
    assert item["id"] == str(build.pk)
    assert (item["repoSource"], item["repoOwner"], item["repoName"]) == ("github.com", "acme", "api")
    assert (item["repoBranch"], item["buildVersion"], item["buildStatus"]) == ("master", "1.2.1", "succeeded")
    assert item["labels"] == [{"key": "language", "value": "python"}, {"key": "team", "value": "ci"}]
    assert item["commits"][0]["author"] == {"email": "ann@example.com", "name": "Ann", "username": "ann"}
    assert item["insertedAt"] == "2030-03-01T12:00:00Z"
    assert item["duration"] == 60 * 10**9
    assert item["pendingDuration"] == 3 * 10**9
    assert item["archived"] is False
    assert item["extraInfo"] == {"medianDuration": 60 * 10**9, "medianPendingDuration": 3 * 10**9}
    assert "manifest" not in item
    production = next(target for target in item["releaseTargets"] if target["name"] == "production")
    assert production["actions"] == [{"name": "deploy", "hideBadge": False}, {"name": "rollback", "hideBadge": True}]
    [active] = production["activeReleases"]
    assert (active["id"], active["releaseVersion"], active["releaseStatus"], active["action"]) == (
        str(release.pk),
        "1.2.1",
        "succeeded",
        "deploy",
    )
    # the medians of the target's recent releases (Estafette's computed_releases.extra_info)
    assert set(active["extraInfo"]) == {"medianPendingDuration", "medianDuration"}
    assert all(isinstance(value, int) for value in active["extraInfo"].values())
    assert "pendingDuration" in active and "triggerEvents" in active


@pytest.mark.django_db
def test_it_pages_and_sorts(client) -> None:
    for name in ("c", "a", "e", "b", "d"):
        make_build(make_pipeline(name))

    first = client.get("/api/pipelines?page[size]=2&sort=-repo_name")
    last = client.get("/api/pipelines?page[size]=2&page[number]=3&sort=-repoName")

    assert names(first) == ["e", "d"]
    assert first.json()["pagination"] == {"page": 1, "size": 2, "totalPages": 3, "totalItems": 5}
    assert names(last) == ["a"]


@pytest.mark.django_db
def test_it_filters_on_status_labels_branch_search_target_and_people(client) -> None:
    # given
    make_build(make_pipeline("green"), status=RunStatus.SUCCEEDED)
    make_build(make_pipeline("red"), status=RunStatus.FAILED, branch="develop")
    busy = make_build(
        make_pipeline("busy-api"),
        status=RunStatus.SUCCEEDED,
        commits=[{"message": "x", "author": {"email": "bob@example.com"}}],
    )
    make_release(busy, "staging", by="cat@example.com")
    other_labels = "labels:\n  team: web\nstages:\n  build:\n    image: alpine:3.20\n    commands: [true]\n"
    make_build(make_pipeline("web"), status=RunStatus.RUNNING, manifest=other_labels)

    # then
    assert names(client.get("/api/pipelines?filter[status]=failed")) == ["red"]
    assert names(client.get("/api/pipelines?filter[status]=failed&filter[status]=running")) == ["red", "web"]
    assert names(client.get("/api/pipelines?filter[status]=running,succeeded")) == ["busy-api", "green", "web"]
    assert names(client.get("/api/pipelines?filter[labels]=team=web")) == ["web"]
    assert names(client.get("/api/pipelines?filter[labels]=team=ci&filter[labels]=language=python")) == [
        "busy-api",
        "green",
        "red",
    ]
    assert names(client.get("/api/pipelines?filter[branch]=develop")) == ["red"]
    assert names(client.get("/api/pipelines?filter[branch]=fix,typo")) == []
    assert names(client.get("/api/pipelines?filter[search]=API")) == ["busy-api"]
    assert names(client.get("/api/pipelines?filter[target]=staging")) == ["busy-api", "green", "red"]
    assert names(client.get("/api/pipelines?filter[recent-committer]=bob@example.com")) == ["busy-api"]
    assert names(client.get("/api/pipelines?filter[recent-releaser]=cat@example.com")) == ["busy-api"]
    assert names(client.get("/api/pipelines?filter[status]=all&filter[since]=1h")) == [
        "busy-api",
        "green",
        "red",
        "web",
    ]


@pytest.mark.django_db
def test_it_hides_archived_pipelines_unless_asked(client) -> None:
    make_build(make_pipeline("live"))
    old = make_build(make_pipeline("old"))
    pipeline_archive(pipeline=old.pipeline)

    assert names(client.get("/api/pipelines")) == ["live"]
    assert names(client.get("/api/pipelines?filter[archived]=true")) == ["old"]
    assert names(client.get("/api/pipelines?filter[archived]=all")) == ["live", "old"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("page[size]=101", "page[size] must be at most 100, got 101"),
        ("page[size]=0", "page[size] must be 1 or more, got 0"),
        ("page[number]=two", "page[number] must be a whole number, got 'two'"),
        ("filter[status]=green", "filter[status] must be one of pending, running, succeeded"),
        ("filter[since]=2d", "filter[since] must be one of 1h, 1d, 1w, 1m, 1y, eternity, got '2d'"),
        ("filter[labels]=team", "filter[labels] must look like key=value, got 'team'"),
        ("filter[colour]=red", "unknown filter 'filter[colour]'; this list supports filter[archived]"),
        ("filter[archived]=maybe", "filter[archived] must be true, false or all"),
        ("sort=-colour", "cannot sort by '-colour'; sort by one of build_status"),
        ("filter[search]=a%00b", "filter[search] must not contain a NUL character"),
        ("filter[labels]=team=%00", "filter[labels] must not contain a NUL character"),
    ],
)
def test_it_explains_a_malformed_query(client, query: str, reason: str) -> None:
    response = client.get(f"/api/pipelines?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "Bad Request"
    assert reason in response.json()["message"]


@pytest.mark.django_db
def test_it_shows_one_pipeline_and_404s_an_unknown_one(client) -> None:
    build = make_build(make_pipeline("api"))

    found = client.get("/api/pipelines/github.com/acme/api")
    missing = client.get("/api/pipelines/github.com/acme/nope")

    assert found.status_code == 200
    assert found.json()["id"] == str(build.pk)
    assert missing.status_code == 404
    assert missing.json() == {"code": "Not Found", "message": "pipeline github.com/acme/nope not found"}


@pytest.mark.django_db
def test_it_needs_a_login_unless_anonymous_reads_are_allowed() -> None:
    make_build(make_pipeline("api"))
    anonymous = client_for(None)

    refused = anonymous.get("/api/pipelines")
    with override_settings(ANONYMOUS_READ=True):
        allowed = anonymous.get("/api/pipelines")
        write = anonymous.post("/api/pipelines/github.com/acme/api/builds", {"buildVersion": "1.2.1"}, format="json")

    assert refused.status_code == 401
    assert refused.json()["code"] == "Unauthorized"
    assert allowed.status_code == 200
    assert write.status_code == 401
