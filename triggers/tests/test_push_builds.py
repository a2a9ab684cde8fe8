"""A signed push becomes a build of the pushed revision, and the build a job with its builder configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.secrets import SecretError, SecretRestrictedError, decrypt, find_envelopes, parse_key
from builds.models import Build
from builds.services import build_finish, build_start
from estafette.jobs.testing import FakeJobRunner
from estafette.lib.crypt import installation_key, secret_encrypt
from estafette.lib.jobtokens import check_job_token
from estafette.queue.models import HandledEvent
from estafette.queue.testing import Verdict, deliver
from integrations.git.intake import push_event_id
from integrations.git.testing import GitRepository, push
from integrations.git.webhook import make_push_event
from pipelines.models import Pipeline
from runs.models import LogChunk, LogStep, RunStatus
from runs.testing import config_of
from triggers.consumers import GitPushConsumer
from triggers.testing import settle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake")]

MANIFEST = """\
labels:
  team: ci
env:
  API_TOKEN: {own_secret}
stages:
  test:
    image: alpine:3.20
    commands:
    - echo "$API_TOKEN"
  publish:
    image: extensions/docker:stable
    action: push
"""


@pytest.fixture
def repo(tmp_path: Path) -> GitRepository:
    return GitRepository(tmp_path / "acme" / "api")


def test_it_builds_a_pushed_revision_and_starts_its_job(
    repo: GitRepository, job_runner: FakeJobRunner, settings
) -> None:
    # given a repository whose manifest holds a secret of its own, and a registry credential on the server
    own_secret = secret_encrypt(value="s3cret-token", allow_list="local/acme/api")
    settings.CREDENTIALS = [
        {
            "name": "registry",
            "type": "container-registry",
            "allowedPipelines": "local/acme/.+",
            "repository": "acme",
            "password": secret_encrypt(value="registry-password", allow_list=""),
        },
        {"name": "elsewhere", "type": "container-registry", "allowedPipelines": "github.com/other/.+", "password": "x"},
    ]
    revision = repo.commit({".estafette.yaml": MANIFEST.format(own_secret=own_secret)}, "Add the manifest")

    # when it is pushed and the events are handled
    push(repo, branch="main")
    settle()

    # then one build of that revision exists, with its commit and the push that started it
    build = Build.objects.get()
    assert (build.pipeline.full_name, build.repo_branch, build.repo_revision) == ("local/acme/api", "main", revision)
    assert (build.build_version, build.status) == ("0.0.1", RunStatus.PENDING)
    assert build.commits == [
        {"message": "Add the manifest", "author": {"email": "ada@example.com", "name": "Ada Lovelace", "username": ""}}
    ]
    assert build.triggered_by_events == [
        {"fired": True, "git": {"event": "push", "repository": "local/acme/api", "branch": "main"}}
    ]
    assert build.pipeline.repo_url == str(repo.path)

    # and its job got the configuration, with a git-clone stage first and reports going to the build's URLs
    (spec,) = job_runner.started
    config = config_of(spec)
    assert spec.name == config.job_name == f"build-acme-api-{build.pk}"
    assert (config.job_type, config.build.id if config.build else None) == ("build", str(build.pk))
    assert (config.git.repo_url, config.git.repo_revision, config.git.repo_branch) == (str(repo.path), revision, "main")
    assert [stage["name"] for stage in config.stages] == ["git-clone", "test", "publish"]
    assert config.stages[0]["autoInjected"] is True
    assert config.stages[0]["image"] == "extensions/git-clone:stable"
    assert (config.version.version, config.version.current_counter, config.version.max_counter) == ("0.0.1", 1, 1)
    assert (config.version.major, config.version.minor, config.version.patch) == (0, 0, "1")
    assert config.ci_server.status_url == f"http://127.0.0.1:8000/api/builder/v1/build/{build.pk}/status"
    assert config.ci_server.logs_url == f"http://127.0.0.1:8000/api/builder/v1/build/{build.pk}/logs"
    check_job_token(config.ci_server.job_token, kind="build", run_id=build.pk)
    assert config.trigger_events == tuple(build.triggered_by_events)
    assert [image.path for image in config.trusted_images] == ["extensions/git-clone", "extensions/docker"]
    assert [credential.name for credential in config.credentials] == ["registry"]
    assert config.manifest["labels"] == {"team": "ci"}

    # and every secret in it opens with the job's key only, its allow-list kept
    text = json.dumps(spec.config)
    envelopes = find_envelopes(text)
    assert len(envelopes) == 2
    assert "s3cret-token" not in text and "registry-password" not in text
    job_key = parse_key(spec.secret_key)
    for envelope in envelopes:
        with pytest.raises(SecretError):
            decrypt(envelope, key=installation_key(), pipeline="local/acme/api")
        assert decrypt(envelope, key=job_key, pipeline="local/acme/api") in {"s3cret-token", "registry-password"}
    manifest_secret = config.manifest["env"]["API_TOKEN"]
    with pytest.raises(SecretRestrictedError):
        decrypt(manifest_secret, key=job_key, pipeline="local/acme/web")


def test_a_push_delivered_twice_makes_one_build_and_one_job(repo: GitRepository, job_runner: FakeJobRunner) -> None:
    # given one push without a revision (the consumer resolves the head), handled
    repo.commit({".estafette.yaml": "stages: {build: {image: alpine}}\n"})
    event_id = push(repo)
    settle()

    # when the same event arrives again (a redelivery), the same body is sent again, and a push naming the
    # commit it resolved to arrives as well
    outcome = deliver(GitPushConsumer(), _git_payload(repo) | {"revision": None}, event_id=event_id)
    assert push(repo) == event_id  # a byte-identical body is the same event (JetStream drops the copy)
    push(repo, revision=repo.head())
    settle()

    # then they are one push of one commit: one build, one job, handled once under the commit's key
    assert outcome.verdict is Verdict.ACK
    assert Build.objects.count() == 1
    assert len(job_runner.started) == 1
    resolved = make_push_event(repository=str(repo.path), branch="main", revision=repo.head())
    assert list(HandledEvent.objects.filter(consumer="pipelines-git-push").values_list("event_id", flat=True)) == [
        push_event_id(resolved)
    ]


def test_the_same_body_sent_after_the_branch_moved_builds_the_new_head(
    repo: GitRepository, job_runner: FakeJobRunner
) -> None:
    # given a push without a revision, handled
    repo.commit({".estafette.yaml": "stages: {build: {image: alpine}}\n"})
    first = push(repo)
    settle()

    # when the branch moves on and the same body arrives again (after JetStream's duplicate window)
    repo.commit({"README": "later"}, "later")
    assert deliver(GitPushConsumer(), _git_payload(repo) | {"revision": None}, event_id=first).verdict is Verdict.ACK

    # then the new head is built too
    assert sorted(Build.objects.values_list("repo_revision", flat=True)) == sorted(
        [repo.head(), repo.git("rev-parse", "HEAD~1").strip()]
    )


def test_the_next_push_gets_the_next_counter(repo: GitRepository, job_runner: FakeJobRunner) -> None:
    repo.commit({".estafette.yaml": "stages: {build: {image: alpine}}\n"})
    push(repo)
    settle()
    first = Build.objects.get()
    build_start(build=first)
    build_finish(build=first, status=RunStatus.SUCCEEDED)
    repo.checkout("feature/x")
    repo.commit({"README": "more"}, "More")

    push(repo, branch="feature/x")
    settle()

    second = Build.objects.exclude(pk=first.pk).get()
    assert second.build_version == "0.0.2-feature-x"
    config = config_of(job_runner.started[-1])
    assert (config.version.current_counter, config.version.max_counter, config.version.max_counter_current_branch) == (
        2,
        2,
        2,
    )
    assert config.version.label == "feature-x"


def test_a_revision_without_a_manifest_makes_no_pipeline(repo: GitRepository, job_runner: FakeJobRunner) -> None:
    repo.commit({"README": "no manifest here"})

    push(repo)
    settle()

    assert not Pipeline.objects.exists()
    assert job_runner.started == []


def test_an_invalid_manifest_gives_a_failed_build_without_a_job(repo: GitRepository, job_runner: FakeJobRunner) -> None:
    repo.commit({".estafette.yaml": "stages:\n  build:\n    commands: [true]\n"})

    push(repo)
    settle()

    build = Build.objects.get()
    assert build.status == RunStatus.FAILED
    assert list(LogStep.objects.values_list("name", "status")) == [("validate-manifest", "FAILED")]
    assert job_runner.started == []


def test_a_manifest_that_is_not_utf8_fails_its_build_and_is_recorded_as_nothing(
    repo: GitRepository, job_runner: FakeJobRunner
) -> None:
    # given a manifest whose bytes are Latin-1 ("café")
    (repo.path / ".estafette.yaml").write_bytes(b"stages:\n  build:\n    image: alpine\n    commands: [echo caf\xe9]\n")
    repo.git("add", ".estafette.yaml")
    repo.git("commit", "-q", "-m", "latin-1")

    # when it is pushed
    push(repo)
    settle()

    # then the build failed with the decoding error, and records no approximation of the manifest
    build = Build.objects.get()
    assert (build.status, build.manifest, build.manifest_valid) == (RunStatus.FAILED, "", False)
    texts = [
        entry["logLine"]["text"] for chunk in LogChunk.objects.all() for entry in chunk.entries if "logLine" in entry
    ]
    assert texts == [
        ".estafette.yaml:4:24: the manifest is not valid UTF-8: byte 0xe9 at byte offset 58 (invalid continuation "
        "byte); save the file as UTF-8"
    ]
    assert job_runner.started == []


def test_a_secret_restricted_to_another_pipeline_fails_the_build_up_front(
    repo: GitRepository, job_runner: FakeJobRunner
) -> None:
    # given a manifest with a secret made for another pipeline
    foreign = secret_encrypt(value="not-yours", allow_list="github.com/other/repo")
    repo.commit({".estafette.yaml": MANIFEST.format(own_secret=foreign)})

    # when
    push(repo)
    settle()

    # then: failed, with a validate-secrets step naming the envelope, and no job
    build = Build.objects.get()
    assert build.status == RunStatus.FAILED
    step = LogStep.objects.get()
    assert (step.name, step.status) == ("validate-secrets", "FAILED")
    chunks = LogChunk.objects.filter(step=step)
    texts = [entry["logLine"]["text"] for chunk in chunks for entry in chunk.entries if "logLine" in entry]
    assert foreign in texts
    assert "not-yours" not in json.dumps(texts)
    assert job_runner.started == []


def _git_payload(repo: GitRepository) -> dict[str, str]:
    return {"event": "push", "repository": str(repo.path), "branch": "main", "revision": repo.head()}


def test_the_servers_manifest_preferences_apply_to_pushed_manifests(
    repo: GitRepository, job_runner: FakeJobRunner, settings
) -> None:
    # given an installation that allows lowercase team labels only and builds main by default
    settings.MANIFEST_PREFERENCES = {"labelRegexes": {"team": "[a-z]+"}, "defaultBranch": "main"}
    repo.commit(
        {".estafette.yaml": "labels: {team: CI}\ntriggers:\n- cron: {schedule: '0 * * * *'}\n" + MANIFEST_STAGES}
    )

    # when
    push(repo)
    settle()

    # then the label is refused with the preference's rule
    build = Build.objects.get()
    assert build.status == RunStatus.FAILED
    texts = [
        entry["logLine"]["text"] for chunk in LogChunk.objects.all() for entry in chunk.entries if "logLine" in entry
    ]
    assert any("team" in text and "[a-z]+" in text for text in texts), texts
    assert job_runner.started == []

    # and a valid manifest gets its trigger's default branch from the preferences
    repo.commit(
        {".estafette.yaml": "labels: {team: ci}\ntriggers:\n- cron: {schedule: '0 * * * *'}\n" + MANIFEST_STAGES}
    )
    push(repo)
    settle()
    latest = Build.objects.order_by("-id").first()
    assert latest is not None and latest.status == RunStatus.PENDING
    assert latest.triggers == [{"cron": {"schedule": "0 * * * *"}, "builds": {"branch": "main"}}]


MANIFEST_STAGES = "stages:\n  build:\n    image: alpine\n"
