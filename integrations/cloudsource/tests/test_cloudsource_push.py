"""Cloud Source notifications pushed by Pub/Sub → a build per updated branch, against the fake Google: a real HTTP
server with its own discovery document, keys and git over smart HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builds.models import Build
from integrations.cloudsource import oidc
from integrations.cloudsource.testing import FakeGoogle, notification_body, ref_update
from triggers.testing import settle

pytestmark = pytest.mark.django_db
URL = "/api/integrations/cloudsource/events"
MANIFEST = "stages:\n  build:\n    image: alpine:3.20\n    commands: [echo built]\n"


def post(google: FakeGoogle, body: bytes, token: str | None = None) -> Any:
    return APIClient().post(
        URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token or google.token()}"
    )


def test_a_pushed_branch_builds_the_pushed_revision(google: FakeGoogle, job_runner: Any) -> None:
    repository = google.add_repository("api")
    revision = repository.commit({".estafette.yaml": MANIFEST}, message="the first change")

    response = post(google, notification_body("api", ref_update("refs/heads/main", revision)))
    settle()

    assert response.status_code == 202, response.content
    assert len(response.json()["ids"]) == 1
    build = Build.objects.select_related("pipeline").get()
    assert build.pipeline.full_name == "127.0.0.1/estafette-tests/api"
    assert (build.repo_branch, build.repo_revision) == ("main", revision)
    assert build.commits[0]["message"] == "the first change"
    assert build.pipeline.repo_url == f"{google.url}/p/estafette-tests/r/api"


def test_each_updated_branch_builds_and_tags_and_deleted_branches_do_not(google: FakeGoogle, job_runner: Any) -> None:
    repository = google.add_repository("api")
    main = repository.commit({".estafette.yaml": MANIFEST}, branch="main")
    feature = repository.commit({".estafette.yaml": MANIFEST, "x": "1"}, branch="feature/x")
    updates = {
        **ref_update("refs/heads/main", main),
        **ref_update("refs/heads/feature/x", feature, update_type="CREATE"),
        **ref_update("refs/heads/old", "0" * 40, update_type="DELETE"),
        **ref_update("refs/tags/v1", main, update_type="CREATE"),
    }

    response = post(google, notification_body("api", updates))
    settle()

    assert len(response.json()["ids"]) == 2
    assert sorted(Build.objects.values_list("repo_branch", flat=True)) == ["feature/x", "main"]


def test_a_revision_without_a_manifest_makes_no_build(google: FakeGoogle, job_runner: Any) -> None:
    repository = google.add_repository("api")
    revision = repository.commit({"README": "no manifest"})

    assert post(google, notification_body("api", ref_update("refs/heads/main", revision))).status_code == 202
    settle()

    assert not Build.objects.exists()


def test_a_repository_created_or_deleted_publishes_nothing(google: FakeGoogle) -> None:
    body = notification_body("api", {}, refUpdateEvent=None, createRepoEvent={})

    response = post(google, body)

    assert response.status_code == 202
    assert response.json() == {"ids": []}


def test_googles_keys_are_fetched_once_and_again_for_a_new_key(google: FakeGoogle, monkeypatch: Any) -> None:
    monkeypatch.setattr(oidc, "KEY_REFETCH_COOLDOWN_SECONDS", 0.0)  # the next unknown key id is looked up at once
    body = notification_body("api", {}, refUpdateEvent=None)

    for _ in range(3):
        assert post(google, body).status_code == 202
    assert (google.discovery_hits, google.jwks_hits) == (1, 1)

    google.rotate()
    for _ in range(2):
        assert post(google, body).status_code == 202
    assert (google.discovery_hits, google.jwks_hits) == (1, 2)


def test_google_that_cannot_be_reached_is_a_503_so_that_pubsub_retries(google: FakeGoogle, settings: Any) -> None:
    settings.CLOUDSOURCE_DISCOVERY_URL = "http://127.0.0.1:1/.well-known/openid-configuration"

    response = post(google, notification_body("api", {}, refUpdateEvent=None))

    assert response.status_code == 503
    assert set(response.json()) == {"code", "message"}
