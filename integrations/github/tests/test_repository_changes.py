"""A repository renamed, archived, deleted or unarchived on GitHub (example deliveries) → the same for its pipeline."""

from __future__ import annotations

import json
import logging

import pytest
from rest_framework.test import APIClient

from builds.models import Build
from builds.testing import make_build, make_pipeline
from estafette.jobs.testing import FakeJobRunner
from integrations.github.testing import WEBHOOK_SECRET, delivery_headers, webhook_example
from pipelines.models import Pipeline
from runs.models import RunStatus
from triggers.testing import settle

pytestmark = pytest.mark.django_db
OLD_NAME = "Old-World"


@pytest.fixture(autouse=True)
def github_app(settings, job_runner: FakeJobRunner) -> None:
    settings.GITHUB_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.GITHUB_API_URL = "https://api.github.com"


def deliver_repository(action: str, *, delivery: str) -> dict:
    payload = webhook_example("repository", lambda e: e["action"] == "renamed") | {"action": action}
    if action == "renamed":
        # The example renames Hello-World to itself: the same delivery, from an older name.
        payload["changes"]["repository"]["name"]["from"] = OLD_NAME
    else:
        payload.pop("changes")
    body = json.dumps(payload).encode()
    response = APIClient().post(
        "/api/integrations/github/events",
        data=body,
        content_type="application/json",
        **delivery_headers("repository", body, delivery=delivery),
    )
    assert response.status_code == 202, response.content
    settle()
    return payload


def test_a_renamed_repository_renames_its_pipeline_with_its_history() -> None:
    # given the pipeline of the repository under its old name, with a build
    old_name = OLD_NAME
    pipeline = make_pipeline(old_name, owner="Octocoders", source="github.com")
    build = make_build(pipeline, status=RunStatus.SUCCEEDED)

    # when GitHub says it was renamed
    deliver_repository("renamed", delivery="rename-1")

    # then the same pipeline has the new name and keeps its builds
    pipeline.refresh_from_db()
    assert pipeline.full_name == "github.com/Octocoders/Hello-World"
    assert list(Build.objects.filter(pipeline=pipeline)) == [build]


def test_a_rename_onto_another_pipelines_name_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    old_name = OLD_NAME
    renamed = make_pipeline(old_name, owner="Octocoders", source="github.com")
    make_pipeline("Hello-World", owner="Octocoders", source="github.com")

    with caplog.at_level(logging.WARNING):
        deliver_repository("renamed", delivery="rename-1")

    renamed.refresh_from_db()
    assert renamed.repo_name == old_name
    assert "already named github.com/Octocoders/Hello-World" in caplog.text


@pytest.mark.parametrize("action", ["archived", "deleted"])
def test_an_archived_or_deleted_repository_archives_its_pipeline_and_unarchiving_brings_it_back(action: str) -> None:
    pipeline = make_pipeline("Hello-World", owner="Octocoders", source="github.com")

    deliver_repository(action, delivery=f"{action}-1")
    pipeline.refresh_from_db()
    assert pipeline.archived

    deliver_repository("unarchived", delivery="unarchived-1")
    pipeline.refresh_from_db()
    assert not pipeline.archived


def test_a_repository_without_a_pipeline_changes_nothing() -> None:
    deliver_repository("archived", delivery="archived-1")

    assert not Pipeline.objects.exists()
