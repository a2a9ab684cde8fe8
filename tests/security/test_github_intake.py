"""Attacks through the GitHub App's webhook and its push events (issue 12): unsigned or wrongly signed deliveries,
replayed deliveries, repository names, refs and clone URLs that git or the token must not be given, forged push events
on the queue, and the installation token leaking into logs, answers or tables.

Against the API in process (the test client), the consumers without NATS (``settle``, ``deliver``) and the fake
GitHub, a real HTTP server that checks every request against GitHub's OpenAPI description. A hostile delivery must be
answered 4xx with a JSON ``{code, message}`` and leave nothing on the queue; a forged event must be refused by the
consumer before any request reaches GitHub with a token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core import serializers
from rest_framework.test import APIClient

from builds.models import Build
from builds.services import build_finish, build_start
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import Verdict, deliver
from integrations.git.testing import WEBHOOK_SECRET as GIT_SECRET
from integrations.github.testing import FakeGitHub, FakeRepository, delivery_headers, fake_github_app, sign
from runs.testing import config_of, job_runner, opened_credential  # noqa: F401 - fixture
from triggers.consumers import GitPushConsumer
from triggers.testing import settle

pytestmark = pytest.mark.django_db
URL = "/api/integrations/github/events"
MANIFEST = "stages:\n  build:\n    image: alpine:3.20\n    commands: [echo built]\n"


@pytest.fixture
def fake(tmp_path: Path, settings: Any) -> Iterator[FakeGitHub]:
    with fake_github_app(tmp_path / "github", settings) as github:
        yield github


@pytest.fixture
def repository(fake: FakeGitHub) -> FakeRepository:
    return fake.add_repository("Codertocat", "Hello-World", installation=31)


@pytest.fixture
def runner(job_runner: FakeJobRunner) -> FakeJobRunner:  # noqa: F811 - the fixture imported above
    return job_runner


def post(body: bytes, **headers: str) -> Any:
    return APIClient().post(URL, data=body, content_type="application/json", **headers)


def nothing_published() -> bool:
    return not OutboxMessage.objects.exists()


# -- signatures --------------------------------------------------------------------------------------------------------


def test_deliveries_not_signed_with_the_apps_secret_are_refused_and_nothing_is_stored(
    fake: FakeGitHub, repository: FakeRepository
) -> None:
    body = json.dumps(repository.push_delivery(fake, "a" * 40)).encode()
    good = delivery_headers("push", body, delivery="sig-1")
    attacks = {
        "no signature": {key: value for key, value in good.items() if key != "HTTP_X_HUB_SIGNATURE_256"},
        "another secret": good | {"HTTP_X_HUB_SIGNATURE_256": sign(body, "guessed-secret")},
        "the git intake's secret": good | {"HTTP_X_HUB_SIGNATURE_256": sign(body, GIT_SECRET)},
        "another body's signature": good | {"HTTP_X_HUB_SIGNATURE_256": sign(body + b" ")},
        "sha1 scheme": good | {"HTTP_X_HUB_SIGNATURE_256": "sha1=" + sign(body).removeprefix("sha256=")[:40]},
        "empty signature": good | {"HTTP_X_HUB_SIGNATURE_256": ""},
        "git's header instead": {
            **{key: value for key, value in good.items() if key != "HTTP_X_HUB_SIGNATURE_256"},
            "HTTP_X_ESTAFETTE_SIGNATURE": sign(body),
        },
    }
    for name, headers in attacks.items():
        response = post(body, **headers)
        assert response.status_code == 401, name
        assert set(response.json()) == {"code", "message"}, name
    assert nothing_published()
    assert fake.requests == []


def test_a_signed_body_with_a_changed_byte_is_refused(fake: FakeGitHub, repository: FakeRepository) -> None:
    body = json.dumps(repository.push_delivery(fake, "a" * 40)).encode()
    headers = delivery_headers("push", body)

    response = post(body.replace(b"master", b"mastex"), **headers)

    assert response.status_code == 401
    assert nothing_published()


# -- replays -----------------------------------------------------------------------------------------------------------


def test_a_replayed_delivery_makes_no_second_build_even_after_the_first_was_handled(
    fake: FakeGitHub, repository: FakeRepository, runner: FakeJobRunner
) -> None:
    # given a push that was delivered, handled and built
    revision = repository.commit({".estafette.yaml": MANIFEST})
    body = json.dumps(repository.push_delivery(fake, revision)).encode()
    headers = delivery_headers("push", body, delivery="replayed-1")
    assert post(body, **headers).status_code == 202
    settle()
    assert Build.objects.count() == 1

    # when the same signed delivery is sent again, and again under a new delivery id
    assert post(body, **headers).status_code == 202
    assert post(body, **delivery_headers("push", body, delivery="replayed-2")).status_code == 202
    settle()

    # then there is still one build
    assert Build.objects.count() == 1


# -- hostile names, refs and clone URLs --------------------------------------------------------------------------------


def _hostile(fake: FakeGitHub, repository: FakeRepository) -> dict[str, dict[str, Any]]:
    push = repository.push_delivery(fake, "a" * 40)
    clone = fake.clone_url("Codertocat", "Hello-World")

    def with_repository(**fields: Any) -> dict[str, Any]:
        changed = json.loads(json.dumps(push))
        changed["repository"].update(fields)
        return changed

    return {
        "clone URL on another host": with_repository(clone_url="https://evil.example/Codertocat/Hello-World.git"),
        "html and clone URL on another host": with_repository(
            html_url="https://evil.example/Codertocat/Hello-World",
            clone_url="https://evil.example/Codertocat/Hello-World.git",
        ),
        "clone URL on another port": with_repository(clone_url=clone.replace(fake.url, "http://127.0.0.1:1")),
        "clone URL of another repository": with_repository(clone_url=fake.clone_url("Codertocat", "Other")),
        "clone URL as an option": with_repository(clone_url="--upload-pack=touch /tmp/pwned"),
        "clone URL as a remote helper": with_repository(clone_url="ext::sh -c touch% /tmp/pwned"),
        "clone URL as ssh ProxyCommand": with_repository(clone_url="ssh://-oProxyCommand=touch%20x/acme/api"),
        "clone URL on this machine": with_repository(clone_url="file:///etc/Codertocat/Hello-World"),
        "clone URL with control characters": with_repository(clone_url=clone + "\n--upload-pack=x"),
        "owner with a dot-dot": with_repository(
            html_url=f"{fake.url}/../Hello-World",
            clone_url=f"{fake.url}/../Hello-World.git",
            full_name="../Hello-World",
        ),
        "owner as an option": with_repository(
            html_url=f"{fake.url}/-oProxyCommand/Hello-World",
            clone_url=f"{fake.url}/-oProxyCommand/Hello-World.git",
        )
        | {"ref": "refs/heads/--output=/tmp/pwned"},
        "branch as an option": push | {"ref": "refs/heads/--output=/tmp/pwned"},
        "branch with ..": push | {"ref": "refs/heads/a/../../b"},
        "branch with control characters": push | {"ref": "refs/heads/main\n"},
        "revision not a commit id": push | {"after": "HEAD~1 --output=/tmp/pwned"},
        "revision with a newline": push | {"after": "a" * 40 + "\n"},
        "installation not a number": push | {"installation": {"id": "31; rm -rf /"}},
        "repository not an object": push | {"repository": "github.com/Codertocat/Hello-World"},
    }


def test_hostile_names_refs_and_clone_urls_are_refused_before_anything_is_published(
    fake: FakeGitHub, repository: FakeRepository
) -> None:
    for name, payload in _hostile(fake, repository).items():
        body = json.dumps(payload).encode()
        response = post(body, **delivery_headers("push", body, delivery="hostile-1"))
        assert response.status_code == 400, (name, response.content)
        assert set(response.json()) == {"code", "message"}, name
    assert nothing_published()
    assert fake.requests == []


def test_a_plain_http_clone_url_is_refused_when_github_is_https(settings: Any) -> None:
    settings.GITHUB_WEBHOOK_SECRET = "s"
    settings.GITHUB_API_URL = "https://api.github.com"
    payload = {
        "ref": "refs/heads/main",
        "after": "a" * 40,
        "installation": {"id": 1},
        "repository": {
            "full_name": "acme/api",
            "html_url": "https://github.com/acme/api",
            "clone_url": "http://github.com/acme/api.git",
        },
    }
    body = json.dumps(payload).encode()

    response = post(body, **delivery_headers("push", body, secret="s"))

    assert response.status_code == 400
    assert "https" in response.json()["message"]


# -- forged events on the queue ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        {
            "repository": "https://evil.example/Codertocat/Hello-World.git",
            "pipeline": "evil.example/Codertocat/Hello-World",
        },
        {"pipeline": "127.0.0.1/Codertocat/Other"},
        {"pipeline": "127.0.0.1/../Hello-World"},
        {"repository": "ext::sh -c touch% /tmp/pwned"},
        {"installation": "31"},
        {"revision": "HEAD"},
        {"revision": "a" * 40 + "\n"},
        {"branch": "--output=/tmp/pwned"},
        {"branch": "main\n--upload-pack=x"},
        {"forge": "nonexistent"},
    ],
)
def test_forged_github_pushes_on_the_queue_are_dead_letters_before_github_is_asked(
    fake: FakeGitHub, repository: FakeRepository, forged: dict[str, Any]
) -> None:
    event = {
        "event": "push",
        "forge": "github",
        "repository": fake.clone_url("Codertocat", "Hello-World"),
        "pipeline": "127.0.0.1/Codertocat/Hello-World",
        "branch": "master",
        "revision": "a" * 40,
        "installation": 31,
    } | forged

    outcome = deliver(GitPushConsumer(), event, event_id="forged-1")

    assert outcome.verdict is Verdict.TERMINATE
    assert [request.path for request in fake.requests if "/contents/" in request.path] == []
    assert not Build.objects.exists()


# -- the token ---------------------------------------------------------------------------------------------------------


def test_the_installation_token_is_in_no_log_answer_or_table(
    fake: FakeGitHub, repository: FakeRepository, runner: FakeJobRunner, caplog: pytest.LogCaptureFixture
) -> None:
    # given a push whose status GitHub refuses (its error is logged and recorded as a dead letter)
    revision = repository.commit({".estafette.yaml": MANIFEST})
    body = json.dumps(repository.push_delivery(fake, revision)).encode()
    fake.fail("/statuses/", 500, times=100)
    with caplog.at_level(logging.DEBUG):
        assert post(body, **delivery_headers("push", body)).status_code == 202
        settle()
        (spec,) = runner.started
        build = Build.objects.select_related("pipeline").get()
        build_start(build=build)
        build_finish(build=build, status="failed")
        settle()

    # then the job was given a token GitHub issued…
    sealed = [c.additional_properties["token"] for c in config_of(spec).credentials if c.type == "github-api-token"]
    assert sealed and not any(fake.valid_token(token) for token in sealed)
    tokens = [opened_credential(spec, token) for token in sealed]
    assert tokens and all(fake.valid_token(token) for token in tokens)
    # …which is in no log line, no API answer and no row of any table
    answers = [
        APIClient().get(f"/api/pipelines/{build.pipeline.full_name}/builds/{build.pk}").content.decode(),
        APIClient().get(f"/api/pipelines/{build.pipeline.full_name}").content.decode(),
    ]
    rows = serializers.serialize("json", [row for model in apps.get_models() for row in model.objects.all()])
    for token in fake.tokens:
        assert token not in caplog.text
        assert not any(token in answer for answer in answers)
        assert token not in rows
