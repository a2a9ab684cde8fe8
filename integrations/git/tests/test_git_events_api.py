"""``POST /api/integrations/git/events`` and ``manage.py push_event``: checked, resolved, published once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from estafette.queue.models import DeadLetter, OutboxMessage
from estafette.queue.testing import Verdict, deliver
from integrations.git.testing import GitRepository, push_body, signed_headers
from triggers.consumers import GitPushConsumer

pytestmark = pytest.mark.django_db
URL = "/api/integrations/git/events"
SECRET = "webhook-secret"


@pytest.fixture(autouse=True)
def configured(settings, tmp_path: Path) -> None:
    settings.GIT_WEBHOOK_SECRET = SECRET
    settings.GIT_CACHE_DIR = tmp_path / "git-cache"
    settings.LOCAL_REPOSITORY_ROOTS = (tmp_path,)
    settings.OUTBOX_RELAY_IN_PROCESS = False  # the command leaves the event in the outbox


@pytest.fixture
def repo(tmp_path: Path) -> GitRepository:
    repository = GitRepository(tmp_path / "acme" / "api")
    repository.commit({".estafette.yaml": "stages: {build: {image: alpine}}\n"}, "first")
    return repository


def post(body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    response = APIClient().post(URL, data=body, content_type="application/json", **headers)
    return response.status_code, response.json()


def published() -> list[dict]:
    return [
        json.loads(row.payload) | {"id": row.dedup_key}
        for row in OutboxMessage.objects.filter(subject="estafette.events.git")
    ]


def test_it_publishes_a_signed_push_without_running_git(repo: GitRepository, tmp_path: Path, monkeypatch) -> None:
    # given a push without a revision, and a `git` first on PATH that records being run
    body = push_body(str(repo.path), branch="main")
    recorder = tmp_path / "bin" / "git"
    recorder.parent.mkdir()
    recorder.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "git-was-run"}\nexit 1\n')
    recorder.chmod(0o755)
    monkeypatch.setenv("PATH", f"{recorder.parent}:{os.environ['PATH']}")

    # when
    status, answer = post(body, signed_headers(body, SECRET))

    # then: 202 with the event id; the event leaves the revision to the consumer, and git never ran
    assert status == 202, answer
    assert published() == [
        {"event": "push", "repository": str(repo.path), "branch": "main", "revision": None, "id": answer["id"]}
    ]
    assert not (tmp_path / "git-was-run").exists()


def test_a_byte_identical_redelivery_without_a_revision_is_the_same_event(repo: GitRepository) -> None:
    # given a push without a revision, delivered once
    body = push_body(str(repo.path), branch="main")
    _, first = post(body, signed_headers(body, SECRET))

    # when the same bytes are delivered again, and a body that differs in its bytes only
    _, again = post(body, signed_headers(body, SECRET))
    spaced = body.replace(b", ", b",  ")
    _, other = post(spaced, signed_headers(spaced, SECRET))

    # then the redelivery has the same event id (JetStream drops the copy inside its duplicate window); the
    # other body is another event, which the consumer builds once per resolved commit
    assert first["id"] == again["id"] != other["id"]


def test_a_redelivered_push_is_the_same_event_even_after_the_branch_moved(repo: GitRepository) -> None:
    # given a push that was delivered once
    first_head = repo.head()
    body = push_body(str(repo.path), branch="main", revision=first_head)
    _, first = post(body, signed_headers(body, SECRET))
    repo.commit({"README": "later"}, "later")

    # when it is delivered again
    _, again = post(body, signed_headers(body, SECRET))

    # then both deliveries carry the same event id (JetStream and the consumers see one event)
    assert first["id"] == again["id"]
    assert {row["revision"] for row in published()} == {first_head}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_ESTAFETTE_SIGNATURE": "sha256=" + "0" * 64},
        {"HTTP_X_ESTAFETTE_SIGNATURE": "not a signature"},
    ],
)
def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(repo: GitRepository, headers: dict) -> None:
    body = push_body(str(repo.path), branch="main")

    status, answer = post(body, headers)

    assert status == 401
    assert "X-Estafette-Signature" in answer["message"]
    assert not OutboxMessage.objects.exists()


def test_a_body_signed_with_another_secret_or_changed_after_signing_is_refused(repo: GitRepository) -> None:
    body = push_body(str(repo.path), branch="main")
    assert post(body, signed_headers(body, "other-secret"))[0] == 401
    assert post(body.replace(b"main", b"evil"), signed_headers(body, SECRET))[0] == 401
    assert not OutboxMessage.objects.exists()


def test_without_a_configured_secret_every_push_is_refused_saying_what_to_set(settings, repo: GitRepository) -> None:
    settings.GIT_WEBHOOK_SECRET = ""
    body = push_body(str(repo.path), branch="main")

    status, answer = post(body, signed_headers(body, ""))

    assert status == 401
    assert "set ESTAFETTE_GIT_WEBHOOK_SECRET" in answer["message"]
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{nope", "the body is not JSON"),
        (json.dumps({"event": "tag", "repository": "/x/y", "branch": "main"}).encode(), "event must be 'push'"),
        (json.dumps({"event": "push", "repository": "/x/y"}).encode(), "branch is required"),
        (json.dumps({"event": "push", "repository": "/x/y", "branch": "a..b"}).encode(), "not a valid git branch"),
        (
            json.dumps({"event": "push", "repository": "/x/y", "branch": "main", "revision": "zz"}).encode(),
            "hexadecimal commit id",
        ),
    ],
)
def test_a_signed_but_malformed_body_is_a_400_with_the_reason(body: bytes, reason: str) -> None:
    status, answer = post(body, signed_headers(body, SECRET))

    assert status == 400
    assert reason in answer["message"]
    assert not OutboxMessage.objects.exists()


def test_a_branch_that_does_not_exist_is_refused_by_the_consumer(repo: GitRepository) -> None:
    # given a push of a branch the repository does not have (the request cannot know: it runs no git)
    body = push_body(str(repo.path), branch="nope")
    status, answer = post(body, signed_headers(body, SECRET))
    (event,) = published()

    # when the consumer reads it
    outcome = deliver(
        GitPushConsumer(), {key: value for key, value in event.items() if key != "id"}, event_id=event["id"]
    )

    # then it was accepted, and the consumer gives up at once, saying why (retrying cannot help)
    assert status == 202, answer
    assert outcome.verdict is Verdict.TERMINATE
    (dead,) = DeadLetter.objects.all()
    assert "cannot resolve the head of branch 'nope'" in dead.reason


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> GitRepository:
    """A repository outside the roots the tests allow (another user's checkout, say)."""
    repository = GitRepository(tmp_path_factory.mktemp("elsewhere") / "acme" / "secret")
    repository.commit({".estafette.yaml": "stages: {build: {image: alpine}}\n"}, "first")
    return repository


def test_a_local_repository_is_refused_until_roots_are_listed(settings, repo: GitRepository) -> None:
    settings.LOCAL_REPOSITORY_ROOTS = ()
    body = push_body(str(repo.path), branch="main")

    status, answer = post(body, signed_headers(body, SECRET))

    assert (status, answer["code"]) == (400, "Bad Request")
    assert "set ESTAFETTE_LOCAL_REPOSITORY_ROOTS" in answer["message"]
    assert not OutboxMessage.objects.exists()


def test_a_local_repository_outside_the_roots_is_refused(repo: GitRepository, outside: GitRepository) -> None:
    # given paths that name a repository outside the roots: directly, as a file:// URL, through `..`, and
    # through a symlink that lies under a root
    (repo.path.parent / "link").symlink_to(outside.path)
    locations = [
        str(outside.path),
        f"file://{outside.path}",
        f"{repo.path}/../../{os.path.relpath(outside.path, repo.path.parent.parent)}",
        str(repo.path.parent / "link"),
    ]
    for location in locations:
        body = push_body(location, branch="main")

        # when it is pushed
        status, answer = post(body, signed_headers(body, SECRET))

        # then it is refused, naming the setting
        assert status == 400, (location, answer)
        assert "is not under a directory listed in ESTAFETTE_LOCAL_REPOSITORY_ROOTS" in answer["message"]
    assert not OutboxMessage.objects.exists()


def test_a_local_repository_under_a_root_is_published_as_its_real_path(repo: GitRepository) -> None:
    # given a file:// URL and a symlink, both leading to a repository under a root
    (repo.path.parent / "alias").symlink_to(repo.path)
    for location in (f"file://{repo.path}", str(repo.path.parent / "alias")):
        body = push_body(location, branch="main", revision=repo.head())

        # when
        status, answer = post(body, signed_headers(body, SECRET))

        # then the event names the path git will read
        assert status == 202, answer
    assert {event["repository"] for event in published()} == {str(repo.path)}


def test_push_event_publishes_the_same_event_as_the_webhook(repo: GitRepository, capsys, monkeypatch) -> None:
    # given the repository's path relative to the working directory
    monkeypatch.chdir(repo.path.parent)

    # when
    call_command("push_event", "api", "--branch", "main")

    # then
    output = capsys.readouterr().out
    (event,) = published()
    assert event["repository"] == str(repo.path)
    assert event["revision"] == repo.head()
    assert f"push of local/acme/api main at {repo.head()}: event {event['id']}" in output
    assert "queued in the outbox" in output
    body = push_body(str(repo.path), branch="main", revision=repo.head())
    assert post(body, signed_headers(body, SECRET))[1]["id"] == event["id"]


def test_push_event_names_the_problem(repo: GitRepository) -> None:
    with pytest.raises(CommandError, match="cannot resolve the head of branch 'nope'"):
        call_command("push_event", str(repo.path), "--branch", "nope")
    with pytest.raises(CommandError, match="does not appear to be a git repository"):
        call_command("push_event", "lonely", "--branch", "main")
    with pytest.raises(CommandError, match="unsupported scheme 'ftp'"):
        call_command("push_event", "ftp://example.com/acme/api", "--branch", "main")
