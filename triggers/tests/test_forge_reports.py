"""What the trigger layer asks of a forge that hosts a repository, with a recording forge (no provider): run reports
from the run events, clone credentials for jobs, repository changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from builder.contracts import Credential
from builds.testing import make_build, make_pipeline
from estafette.jobs.testing import FakeJobRunner
from pipelines.models import Pipeline
from runs.models import RunStatus
from runs.testing import config_of
from triggers import forges
from triggers.forges import InvalidChange, RepositoryChange, RepositoryName, RunReport
from triggers.repositories import repository_change_apply
from triggers.testing import settle

pytestmark = pytest.mark.django_db


@dataclass
class RecordingForge:
    """Hosts the repositories of ``forge.example``; records reports; gives a fixed clone token."""

    reports: list[RunReport] = field(default_factory=list)

    def identify(self, location: str) -> RepositoryName:
        raise forges.InvalidSource("not used here")

    def read_push(self, payload: Mapping[str, Any]) -> Any:
        raise forges.InvalidSource("not used here")

    def hosts(self, repository: RepositoryName) -> bool:
        return repository.source == "forge.example"

    def clone_credentials(self, repository: RepositoryName) -> list[Credential]:
        return [Credential(name="forge", type="github-api-token", additional_properties={"token": "clone-token"})]

    def report(self, report: RunReport) -> None:
        self.reports.append(report)


@pytest.fixture
def forge(monkeypatch: pytest.MonkeyPatch) -> RecordingForge:
    recording = RecordingForge()
    monkeypatch.setitem(forges._forges, "recording", recording)
    return recording


def test_a_hosted_pipelines_build_is_reported_when_it_starts_and_ends(
    forge: RecordingForge, job_runner: FakeJobRunner, settings: Any
) -> None:
    build = make_build(make_pipeline("api", owner="acme", source="forge.example"), status=RunStatus.FAILED)

    settle()

    assert [(report.kind, report.state) for report in forge.reports] == [("build", "pending"), ("build", "failed")]
    assert forge.reports[-1].revision == build.repo_revision
    assert forge.reports[-1].repository == RepositoryName("forge.example", "acme", "api")
    assert forge.reports[-1].url == f"{settings.BASE_URL}/pipelines/forge.example/acme/api/builds/{build.pk}/logs"


def test_a_pipeline_no_forge_hosts_is_reported_nowhere(forge: RecordingForge, job_runner: FakeJobRunner) -> None:
    make_build(make_pipeline("api", owner="acme", source="local"), status=RunStatus.SUCCEEDED)

    settle()

    assert forge.reports == []


def test_a_hosted_pipelines_job_gets_the_forges_clone_credentials_first(
    forge: RecordingForge, job_runner: FakeJobRunner
) -> None:
    make_build(make_pipeline("api", owner="acme", source="forge.example"))
    make_build(make_pipeline("api", owner="acme", source="local"))

    settle()

    hosted, local = (config_of(spec) for spec in job_runner.started)
    assert [credential.name for credential in hosted.credentials][:1] == ["forge"]
    assert "forge" not in [credential.name for credential in local.credentials]


def test_a_repository_change_is_applied_once_and_again_changes_nothing() -> None:
    pipeline = make_pipeline("old", owner="acme", source="forge.example")
    change = RepositoryChange(change="renamed", repository="forge.example/acme/new", previous="forge.example/acme/old")

    repository_change_apply(change=change)
    repository_change_apply(change=change)

    pipeline.refresh_from_db()
    assert pipeline.full_name == "forge.example/acme/new"
    assert Pipeline.objects.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"change": "deleted", "repository": "forge.example/acme/api"},
        {"change": "archived", "repository": "forge.example/acme"},
        {"change": "archived", "repository": "forge.example/../api"},
        {"change": "renamed", "repository": "forge.example/acme/api", "previous": ""},
        {"change": "archived", "repository": "forge.example/acme/api\n"},
    ],
)
def test_a_payload_that_is_not_a_repository_change_is_refused(payload: dict[str, str]) -> None:
    with pytest.raises(InvalidChange):
        RepositoryChange.from_dict(payload)
