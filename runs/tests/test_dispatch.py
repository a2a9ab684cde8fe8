"""Job dispatch: which runs get a job, with which configuration (credentials, trusted images, stages)."""

from __future__ import annotations

import json

import pytest

from builds.models import Build
from builds.services import build_cancel
from builds.testing import make_build, make_pipeline
from estafette.jobs import JobSpec, JobStatus
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.testing import Verdict, deliver
from estafette.testing import client_for, make_user
from releases.models import BotRun, Release
from runs.consumers import JobDispatchConsumer
from runs.dispatch import job_dispatch
from runs.job_control import run_stop_job
from runs.models import RunStatus
from runs.testing import config_of
from triggers.testing import settle

pytestmark = pytest.mark.django_db


MANIFEST = """\
stages:
  build:
    image: golang:1.22
    services:
    - name: db
      image: postgres:16
  publish:
    parallelStages:
      image:
        image: extensions/docker:stable
      chart:
        image: acme/helm-pusher:1.0
releases:
  production:
    builder:
      track: beta
    actions:
    - name: deploy
    stages:
      deploy:
        image: extensions/gke:stable
bots:
  tidy:
    clone: true
    stages:
      tidy:
        image: alpine
"""


@pytest.fixture
def credentials(settings) -> None:
    settings.TRUSTED_IMAGES = [
        {"path": "extensions/docker", "runDocker": True, "injectedCredentialTypes": ["container-registry"]},
        {"path": "extensions/gke", "injectedCredentialTypes": ["kubernetes-engine"]},
        {"path": "acme/helm-pusher", "injectedCredentialTypes": ["helm"], "allowedPipelines": "github.com/acme/web"},
        {"path": "extensions/unused", "injectedCredentialTypes": ["kubernetes-engine"]},
    ]
    settings.CREDENTIALS = [
        {"name": "hub", "type": "container-registry", "allowedPipelines": "", "password": "p"},
        {"name": "pull", "type": "container-registry-pull", "allowedPipelines": "github.com/acme/.+"},
        {"name": "prod", "type": "kubernetes-engine", "allowedBranches": "main|master", "cluster": "c"},
        {"name": "pr", "type": "kubernetes-engine", "allowedBranches": "feature/.+"},
        {"name": "gke-only", "type": "kubernetes-engine", "allowedTrustedImages": "extensions/gke"},
        {"name": "not-gke", "type": "kubernetes-engine", "allowedTrustedImages": "extensions/other"},
        {"name": "helm", "type": "helm"},
    ]


@pytest.mark.usefixtures("credentials")
def test_a_build_gets_the_trusted_images_its_stages_use_and_only_their_credentials(job_runner: FakeJobRunner) -> None:
    # given a pending build on main
    build = make_build(manifest=MANIFEST, branch="main")

    # when
    name = job_dispatch(kind="build", run_id=build.pk)

    # then: docker is used and allowed; helm-pusher is used but not for this pipeline; gke is not used
    config = config_of(job_runner.spec(name or ""))
    assert [image.path for image in config.trusted_images] == ["extensions/docker"]
    assert [credential.name for credential in config.credentials] == ["hub", "pull"]
    hub = config.credentials[0]
    assert (hub.type, hub.additional_properties) == ("container-registry", {"password": "p"})
    assert [stage["name"] for stage in config.stages] == ["git-clone", "build", "publish"]


@pytest.mark.usefixtures("credentials")
def test_a_release_started_through_the_api_gets_a_job_with_the_target_stages(job_runner: FakeJobRunner) -> None:
    # given a succeeded build with a production target
    build = make_build(manifest=MANIFEST, branch="main", status=RunStatus.SUCCEEDED)
    client = client_for(make_user("ann", staff=True))

    # when someone releases it through the API
    response = client.post(
        "/api/pipelines/github.com/acme/api/releases",
        {"name": "production", "action": "deploy", "releaseVersion": build.build_version},
        format="json",
    )
    settle()

    # then its job runs the target's stages (no clone), with the release's builder track and credentials
    assert response.status_code == 201, response.content
    release = Release.objects.get()
    config = config_of(job_runner.started[-1])
    assert config.release is not None
    assert (config.release.id, config.release.action, config.release.triggered_by) == (
        str(release.pk),
        "deploy",
        "ann@example.com",
    )
    assert [stage["name"] for stage in config.stages] == ["deploy"]
    assert config.track == "beta"
    assert [image.path for image in config.trusted_images] == ["extensions/gke"]
    assert [credential.name for credential in config.credentials] == ["hub", "pull", "prod", "gke-only"]
    assert config.version.version == build.build_version


def test_a_bot_run_through_the_api_gets_a_job_and_clones_when_asked(job_runner: FakeJobRunner) -> None:
    make_build(manifest=MANIFEST, branch="main", status=RunStatus.SUCCEEDED)

    response = client_for(make_user(staff=True)).post(
        "/api/pipelines/github.com/acme/api/bots", {"name": "tidy"}, format="json"
    )
    settle()

    assert response.status_code == 201, response.content
    run = BotRun.objects.get()
    config = config_of(job_runner.started[-1])
    assert config.bot is not None and (config.bot.id, config.bot.name) == (str(run.pk), "tidy")
    assert [stage["name"] for stage in config.stages] == ["git-clone", "tidy"]
    assert job_runner.started[-1].name == f"bot-acme-api-{run.pk}"


def test_only_a_pending_run_gets_a_job_and_a_redelivery_starts_nothing_new(job_runner: FakeJobRunner) -> None:
    # given a build whose created event was handled
    build = make_build(manifest=MANIFEST)
    payload = {"kind": "build", "id": str(build.pk), "pipeline": "github.com/acme/api"}
    assert deliver(JobDispatchConsumer(), payload).verdict is Verdict.ACK

    # when it is delivered again while still pending, and once more after a cancel
    deliver(JobDispatchConsumer(), payload)
    build_cancel(build=build)
    canceled = job_dispatch(kind="build", run_id=build.pk)

    # then one job, and none for the canceled build
    assert len(job_runner.started) == 1
    assert canceled is None
    assert job_dispatch(kind="build", run_id=10**9) is None


class CanceledWhileStarting(FakeJobRunner):
    """A cancel lands while dispatch starts the job: the run is canceled and its job stop handled before the job
    exists (so the stop finds nothing to remove)."""

    def start(self, spec: JobSpec) -> str:
        build = Build.objects.get()
        build_cancel(build=build)
        assert run_stop_job(kind="build", run_id=build.pk, runner=self)
        assert self.status(spec.name) is JobStatus.NOT_FOUND
        return super().start(spec)


def test_a_job_started_while_its_run_was_canceled_is_removed_at_once() -> None:
    # given a pending build, canceled while its job is being started
    build = make_build(manifest=MANIFEST)
    runner = CanceledWhileStarting()

    # when it is dispatched
    name = job_dispatch(kind="build", run_id=build.pk, runner=runner)

    # then the job that got started is removed, not left running a canceled build
    assert name is None
    (started,) = runner.started
    assert runner.cleaned_up == [started.name]
    assert runner.status(started.name) is JobStatus.NOT_FOUND
    build.refresh_from_db()
    assert build.status == RunStatus.CANCELED


def test_a_malformed_created_event_is_a_dead_letter_not_a_retry_loop(job_runner: FakeJobRunner) -> None:
    outcome = deliver(JobDispatchConsumer(), {"kind": "deploy", "id": "1"})
    assert outcome.verdict is Verdict.TERMINATE
    assert job_runner.started == []


def test_the_config_holds_no_installation_key_secret(job_runner: FakeJobRunner, settings) -> None:
    # given a manifest whose release stage carries an envelope made elsewhere (not openable here)
    build = make_build(make_pipeline("web"))

    # when
    name = job_dispatch(kind="build", run_id=build.pk) or ""

    # then it is handed on as it is, and nothing in the configuration is the installation key
    text = json.dumps(job_runner.spec(name).config)
    assert "estafette.secret(deFTz5Bdjg6SUe29.oPIkXbze5G9PNEWS2-ZnArl8BCqHnx4MdTdxHg37th9u)" in text
    assert settings.SECRET_DECRYPTION_KEY not in text
    assert job_runner.spec(name).secret_key != settings.SECRET_DECRYPTION_KEY


def test_a_build_dispatched_after_newer_builds_gets_their_counters_as_the_maxima(job_runner: FakeJobRunner) -> None:
    # given a build on master, then newer builds on master and on a feature branch
    pipeline = make_pipeline()
    older = make_build(pipeline, manifest=MANIFEST)
    make_build(pipeline, manifest=MANIFEST)
    newest = make_build(pipeline, manifest=MANIFEST, branch="feature")

    # when the older one and the newest one get their jobs
    job_dispatch(kind="build", run_id=older.pk)
    job_dispatch(kind="build", run_id=newest.pk)

    # then the older one's maxima are the newest build's and its branch's latest; the newest one's are its own
    older_version, newest_version = (config_of(spec).version for spec in job_runner.started)
    assert (older_version.current_counter, older_version.max_counter, older_version.max_counter_current_branch) == (
        1,
        3,
        2,
    )
    assert (newest_version.current_counter, newest_version.max_counter, newest_version.max_counter_current_branch) == (
        3,
        3,
        3,
    )
