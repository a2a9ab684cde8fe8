"""The Connect app's lifecycle and a Bitbucket push through the consumers (no NATS: ``settle``) against the fake
Bitbucket: the installation stored once Bitbucket grants it a token, the manifest read through the API at the pushed
revision, the build with the pushed commits, the job's clone token (``x-token-auth``), the trigger event, the build
statuses, renames and archives. Payloads: Atlassian's documented formats (``integrations.bitbucket.testing``)."""

from __future__ import annotations

import json

import pytest
from django.apps import apps

from builds.models import Build
from builds.services import build_finish, build_start
from builds.testing import make_build, make_pipeline
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import Verdict, deliver
from integrations.bitbucket.connect import query_string_hash
from integrations.bitbucket.models import BitbucketInstallation
from integrations.bitbucket.testing import (
    FakeBitbucket,
    Installed,
    bitbucket_api,
    install_app,
    lifecycle_body,
    post_lifecycle,
    push_payload,
    repository_entity,
    send_event,
    updated_payload,
)
from pipelines.models import Pipeline
from runs.models import RunStatus
from runs.testing import config_of, opened_credential
from triggers.consumers import BuildReportConsumer
from triggers.testing import settle

pytestmark = pytest.mark.django_db
MANIFEST = "stages:\n  test:\n    image: alpine:3.20\n    commands: [echo hi]\n"


def test_the_installed_callback_stores_the_installation_once_bitbucket_grants_it_a_token(
    bitbucket: FakeBitbucket,
) -> None:
    installed = install_app(bitbucket, workspace="acme")

    installation = BitbucketInstallation.objects.get()
    assert (installation.client_key, installation.principal_name) == (installed.client_key, "acme")
    assert installation.shared_secret == installed.shared_secret
    # the secret is stored sealed, never as it is
    assert installed.shared_secret not in installation.sealed_shared_secret
    assert installed.shared_secret not in repr(installation)
    # and Bitbucket was asked for a token with the new installation's credentials
    assert len(bitbucket.tokens) == 1


def test_the_uninstalled_callback_forgets_the_installation(bitbucket: FakeBitbucket) -> None:
    installed = install_app(bitbucket)
    body = lifecycle_body(
        "uninstalled", client_key=installed.client_key, shared_secret="", web_url=bitbucket.url, workspace="acme"
    )

    response = post_lifecycle(
        "uninstalled", body, client_key=installed.client_key, shared_secret=installed.shared_secret
    )

    assert response.status_code == 204, response.content
    assert not BitbucketInstallation.objects.exists()


def pushed(bitbucket: FakeBitbucket) -> tuple[Installed, str]:
    """The app installed in ``acme``, and a push of a revision with a manifest to ``acme/api`` sent and handled."""
    installed = install_app(bitbucket, workspace="acme")
    revision = bitbucket.add_repository("acme", "api").commit({".estafette.yaml": MANIFEST})
    response = send_event("repo:push", push_payload(bitbucket.url, "acme", "api", revision), installed)
    assert response.status_code == 202, response.content
    settle()
    return installed, revision


def test_a_push_builds_the_revision_with_its_manifest_and_commits(
    bitbucket: FakeBitbucket, job_runner: FakeJobRunner
) -> None:
    # given the app installed in a workspace, a revision with a manifest in one of its repositories, and its push
    _, revision = pushed(bitbucket)

    # then the pipeline of the repository has a build of that revision, with the pushed commit
    build = Build.objects.select_related("pipeline").get()
    assert build.pipeline.full_name == "127.0.0.1/acme/api"
    assert build.pipeline.repo_url == f"{bitbucket.url}/acme/api.git"
    assert (build.repo_branch, build.repo_revision, build.manifest) == ("master", revision, MANIFEST)
    assert build.commits == [
        {"message": "Add a stage\n", "author": {"email": "ann@example.com", "name": "Ann Example", "username": "ann"}}
    ]
    # and the manifest was read through the API, at the revision
    sources = [request.path for request in bitbucket.requests if "/src/" in request.path]
    assert sources == [f"/2.0/repositories/acme/api/src/{revision}/.estafette.yaml"]
    # and the job clones with a token Bitbucket issued, sealed, as Bitbucket's token user
    (spec,) = job_runner.started
    (credential,) = [c for c in config_of(spec).credentials if c.type == "bitbucket-api-token"]
    assert credential.additional_properties["token"].startswith("estafette.secret(")
    assert bitbucket.valid_token(opened_credential(spec, credential.additional_properties["token"]))


def test_every_event_is_published_for_bitbucket_triggers(bitbucket: FakeBitbucket) -> None:
    installed = install_app(bitbucket, workspace="acme")
    payload = {"actor": {"type": "user"}, "repository": repository_entity(bitbucket.url, "acme", "api")}

    response = send_event("repo:commit_comment_created", payload, installed, request=REQUEST)

    assert response.status_code == 202, response.content
    assert response.json() == {"ids": [f"bitbucket-{REQUEST}"]}
    (message,) = OutboxMessage.objects.all()
    event = json.loads(message.payload)
    assert event["event"] == "repo:commit_comment_created"
    assert event["repository"] == "127.0.0.1/acme/api"
    assert event["requestUUID"] == REQUEST
    assert json.loads(event["payload"]) == payload


REQUEST = "8c1b3c47-0d34-4b39-9f0c-4c0f3b7a5a10"


def test_a_tag_or_a_revision_without_a_manifest_makes_no_build(bitbucket: FakeBitbucket) -> None:
    installed = install_app(bitbucket, workspace="acme")
    repository = bitbucket.add_repository("acme", "api")
    revision = repository.commit({"README.md": "no manifest"})

    tag = push_payload(bitbucket.url, "acme", "api", revision, branch="v1.0.0", kind="tag")
    assert send_event("repo:push", tag, installed).status_code == 202
    assert send_event("repo:push", push_payload(bitbucket.url, "acme", "api", revision), installed).status_code == 202
    settle()

    assert not Build.objects.exists()


def test_a_build_shows_inprogress_then_its_result_and_a_release_its_own_status(
    bitbucket: FakeBitbucket, job_runner: FakeJobRunner, settings
) -> None:
    _, revision = pushed(bitbucket)
    build = Build.objects.get()

    build_start(build=build)
    settle()
    build_finish(build=Build.objects.get(), status=RunStatus.SUCCEEDED)
    settle()

    assert bitbucket.status_states() == [("estafette", "INPROGRESS"), ("estafette", "SUCCESSFUL")]
    last = bitbucket.statuses[-1]
    assert last["commit"] == revision
    assert last["url"] == f"{settings.BASE_URL}/pipelines/127.0.0.1/acme/api/builds/{build.pk}/logs"


def test_a_failed_status_delivery_is_retried_and_never_fails_the_build(
    bitbucket: FakeBitbucket, job_runner: FakeJobRunner
) -> None:
    # given a build of a pushed revision, and Bitbucket failing the next status
    pushed(bitbucket)
    build = Build.objects.get()
    bitbucket.fail("/statuses/build", 503)

    # when the started event is handled: it is to be retried later, and the build goes on
    build_start(build=build)
    outcomes = [outcome for durable, _, outcome in settle() if durable == "triggers-build-report"]
    assert [outcome.verdict for outcome in outcomes] == [Verdict.RETRY]
    assert outcomes[0].delay_seconds > 0
    assert Build.objects.get().status == RunStatus.RUNNING

    # then its redelivery sets the status
    redelivered = deliver(BuildReportConsumer(), {"pipeline": {}}, event_id=f"build-{build.pk}-started", deliveries=2)
    assert redelivered.verdict is Verdict.ACK
    assert bitbucket.status_states() == [("estafette", "INPROGRESS")]


def test_a_renamed_repository_renames_its_pipeline_and_a_deleted_one_archives_it(bitbucket: FakeBitbucket) -> None:
    installed = install_app(bitbucket, workspace="acme")
    pipeline = make_pipeline("old-api", owner="acme", source="127.0.0.1")
    build = make_build(pipeline, status=RunStatus.SUCCEEDED)

    assert (
        send_event("repo:updated", updated_payload(bitbucket.url, "acme", "old-api", "api"), installed).status_code
        == 202
    )
    settle()
    pipeline.refresh_from_db()
    assert pipeline.full_name == "127.0.0.1/acme/api"
    assert list(Build.objects.filter(pipeline=pipeline)) == [build]

    deleted = {"actor": {"type": "user"}, "repository": repository_entity(bitbucket.url, "acme", "api")}
    assert send_event("repo:deleted", deleted, installed).status_code == 202
    settle()
    assert Pipeline.objects.get(pk=pipeline.pk).archived


def test_the_api_description_refuses_what_bitbucket_does_not_take() -> None:
    # the check the fake applies to every request can fail: GitHub's status shape, a wrong path, an unknown field
    api = bitbucket_api()
    status = "/repositories/acme/api/commit/" + "a" * 40 + "/statuses/build"
    assert api.problems("POST", status, {}, json.dumps({"state": "success", "context": "x"}).encode())
    assert api.problems("GET", "/repos/acme/api/contents/.estafette.yaml", {}, b"")
    assert api.problems("GET", "/repositories/acme/api/src/" + "a" * 40 + "/x", {"ref": ["main"]}, b"")
    assert not api.problems("POST", status, {}, json.dumps({"key": "k", "state": "FAILED", "url": "u"}).encode())
    assert query_string_hash("POST", "/", {})  # (used by the fake's grant check through Atlassian's library)
    assert apps.get_model("integrations", "BitbucketInstallation") is BitbucketInstallation
