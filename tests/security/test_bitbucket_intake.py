"""Attacks through the Bitbucket Connect app (issue 12): events and lifecycle callbacks without a JWT, with a forged,
expired or long-lived one, one made for another request (qsh), one of an installation this server does not know;
an installation Bitbucket never issued, one hijacked or moved to another workspace; replayed events; repository
URLs, workspaces and branches that git or the token must not be given; oversized bodies; forged push events on the
queue; and the access tokens or the shared secret leaking into logs, answers or tables.

Against the API in process (the test client), the consumers without NATS (``settle``, ``deliver``) and the fake
Bitbucket, a real HTTP server that checks every API request against Bitbucket's OpenAPI description. A hostile request
must be answered 4xx with a JSON ``{code, message}`` and leave nothing on the queue and nothing stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from atlassian_jwt import encode_token
from django.apps import apps
from django.core import serializers
from rest_framework.test import APIClient

from builds.models import Build
from builds.services import build_finish, build_start
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import Verdict, deliver
from integrations.bitbucket.models import BitbucketInstallation
from integrations.bitbucket.testing import (
    FakeBitbucket,
    Installed,
    event_headers,
    fake_bitbucket_app,
    install_app,
    lifecycle_body,
    post_lifecycle,
    push_payload,
    repository_entity,
    send_event,
)
from runs.testing import config_of, job_runner, opened_credential  # noqa: F401 - fixture
from triggers.consumers import GitPushConsumer
from triggers.testing import settle

pytestmark = pytest.mark.django_db
URL = "/api/integrations/bitbucket/events"
OTHER_WORKSPACE = "{11111111-1111-4111-8111-111111111111}"
MANIFEST = "stages:\n  build:\n    image: alpine:3.20\n    commands: [echo built]\n"


@pytest.fixture
def fake(tmp_path: Path, settings: Any) -> Iterator[FakeBitbucket]:
    with fake_bitbucket_app(tmp_path / "bitbucket", settings) as bitbucket:
        yield bitbucket


@pytest.fixture
def installed(fake: FakeBitbucket) -> Installed:
    return install_app(fake, workspace="acme")


def post(payload: Any, **headers: str) -> Any:
    return APIClient().post(URL, data=json.dumps(payload), content_type="application/json", **headers)


def refused(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message"}
    return str(body["message"])


def nothing_published() -> bool:
    return not OutboxMessage.objects.exists()


# -- the JWT -----------------------------------------------------------------------------------------------------------


def test_events_without_a_jwt_of_a_known_installation_for_this_request_are_refused(
    fake: FakeBitbucket, installed: Installed
) -> None:
    payload = push_payload(fake.url, "acme", "api", "a" * 40)
    key, secret = installed.client_key, installed.shared_secret
    good = event_headers("repo:push", client_key=key, shared_secret=secret)

    def token(**changes: Any) -> str:
        arguments = {"method": "POST", "url": URL, "client_key": key, "secret": secret, "timeout": 180} | changes
        return "JWT " + encode_token(
            arguments["method"], arguments["url"], arguments["client_key"], arguments["secret"], arguments["timeout"]
        )

    attacks = {
        "no Authorization": ({k: v for k, v in good.items() if k != "HTTP_AUTHORIZATION"}, "no 'Authorization"),
        "a bearer token": (good | {"HTTP_AUTHORIZATION": "Bearer " + secret}, "no 'Authorization"),
        "forged (guessed secret)": (good | {"HTTP_AUTHORIZATION": token(secret="g" * 40)}, "shared secret"),
        "expired": (good | {"HTTP_AUTHORIZATION": token(timeout=-600)}, "expired"),
        "lives a year": (good | {"HTTP_AUTHORIZATION": token(timeout=365 * 86400)}, "too long"),
        "qsh of another path": (
            good | {"HTTP_AUTHORIZATION": token(url="/api/integrations/bitbucket/installed")},
            "qsh",
        ),
        "qsh of another method": (good | {"HTTP_AUTHORIZATION": token(method="GET")}, "qsh"),
        "qsh with a query": (good | {"HTTP_AUTHORIZATION": token(url=URL + "?x=1")}, "qsh"),
        "unknown client key": (good | {"HTTP_AUTHORIZATION": token(client_key="ari:cloud:other")}, "does not know"),
        "alg none": (
            good | {"HTTP_AUTHORIZATION": "JWT " + jwt.encode({"iss": key}, key="", algorithm="none")},
            "HS256",
        ),
    }
    for name, (headers, reason) in attacks.items():
        assert reason in refused(post(payload, **headers), 401), name
    assert nothing_published()
    assert fake.requests == []


def test_a_token_bitbucket_made_for_another_request_does_not_pass(fake: FakeBitbucket, installed: Installed) -> None:
    # a genuine token of the installation, seen on another request (a GET of the descriptor), replayed on this one
    stolen = encode_token(
        "GET", "/api/integrations/bitbucket/descriptor", installed.client_key, installed.shared_secret
    )
    headers = event_headers("repo:push", client_key=installed.client_key, shared_secret=installed.shared_secret)

    response = post(
        push_payload(fake.url, "acme", "api", "a" * 40), **headers | {"HTTP_AUTHORIZATION": f"JWT {stolen}"}
    )

    assert "qsh" in refused(response, 401)
    assert nothing_published()


# -- the lifecycle -----------------------------------------------------------------------------------------------------


def test_an_installation_bitbucket_never_issued_is_not_stored(fake: FakeBitbucket) -> None:
    # an attacker makes up a client key and secret and signs the callback with them: Bitbucket grants them nothing
    body = lifecycle_body("installed", client_key="made-up", shared_secret="s" * 32, web_url=fake.url, workspace="acme")

    response = post_lifecycle("installed", body, client_key="made-up", shared_secret="s" * 32)

    assert "not an installation of this app" in refused(response, 401)
    assert not BitbucketInstallation.objects.exists()


def test_an_installation_cannot_be_taken_over_with_a_new_secret(fake: FakeBitbucket, installed: Installed) -> None:
    # the installed callback of a known client key, signed with the secret the request brings rather than the stored
    body = lifecycle_body(
        "installed", client_key=installed.client_key, shared_secret="t" * 32, web_url=fake.url, workspace="acme"
    )

    response = post_lifecycle("installed", body, client_key=installed.client_key, shared_secret="t" * 32)

    refused(response, 401)
    assert BitbucketInstallation.objects.get().shared_secret == installed.shared_secret


def test_an_installation_cannot_move_to_another_workspace_or_bitbucket(
    fake: FakeBitbucket, installed: Installed
) -> None:
    moved = lifecycle_body(
        "installed",
        client_key=installed.client_key,
        shared_secret=installed.shared_secret,
        web_url=fake.url,
        workspace="victim",
    )
    moved["principal"]["uuid"] = "{00000000-0000-4000-8000-000000000000}"
    elsewhere = lifecycle_body(
        "installed",
        client_key=installed.client_key,
        shared_secret=installed.shared_secret,
        web_url="https://evil.example",
        workspace="acme",
    )
    for body in (moved, elsewhere):
        response = post_lifecycle(
            "installed", body, client_key=installed.client_key, shared_secret=installed.shared_secret
        )
        refused(response, 400)
    assert BitbucketInstallation.objects.get().principal_name == "acme"


def test_an_uninstall_needs_the_installations_own_jwt(fake: FakeBitbucket, installed: Installed) -> None:
    body = lifecycle_body(
        "uninstalled", client_key=installed.client_key, shared_secret="", web_url=fake.url, workspace="acme"
    )

    response = post_lifecycle("uninstalled", body, client_key=installed.client_key, shared_secret="u" * 32)

    refused(response, 401)
    assert BitbucketInstallation.objects.exists()


# -- replays -----------------------------------------------------------------------------------------------------------


def test_a_replayed_event_makes_no_second_build(
    fake: FakeBitbucket,
    installed: Installed,
    job_runner: FakeJobRunner,  # noqa: F811 - the fixture imported above
) -> None:
    revision = fake.add_repository("acme", "api").commit({".estafette.yaml": MANIFEST})
    payload = push_payload(fake.url, "acme", "api", revision)
    request = "0f5f4e8e-4c1d-4a55-9d38-5ad0e0c6b6a1"
    assert send_event("repo:push", payload, installed, request=request).status_code == 202
    settle()
    assert Build.objects.count() == 1

    # the same request again (Bitbucket's retry, or a replay), and under a new request id
    assert send_event("repo:push", payload, installed, request=request).status_code == 202
    assert send_event("repo:push", payload, installed).status_code == 202
    settle()

    assert Build.objects.count() == 1


# -- hostile repositories, workspaces, branches --------------------------------------------------------------------


def _hostile(fake: FakeBitbucket) -> dict[str, dict[str, Any]]:
    push = push_payload(fake.url, "acme", "api", "a" * 40)

    def with_repository(**links: Any) -> dict[str, Any]:
        changed = json.loads(json.dumps(push))
        changed["repository"].update(links.pop("fields", {}))
        if "href" in links:
            changed["repository"]["links"]["html"]["href"] = links["href"]
        return changed

    def with_branch(name: str, revision: str = "a" * 40) -> dict[str, Any]:
        changed = json.loads(json.dumps(push))
        change = changed["push"]["changes"][0]["new"]
        change["name"], change["target"]["hash"] = name, revision
        return changed

    return {
        "repository on another host": with_repository(href="https://evil.example/acme/api"),
        "repository on another port": with_repository(href="http://127.0.0.1:1/acme/api"),
        "repository as an option": with_repository(href="--upload-pack=touch /tmp/pwned"),
        "repository as a remote helper": with_repository(href="ext::sh -c touch% /tmp/pwned"),
        "repository on this machine": with_repository(href="file:///etc/acme/api"),
        "repository with control characters": with_repository(href=f"{fake.url}/acme/api\n--upload-pack=x"),
        "full_name not the href's": with_repository(fields={"full_name": "acme/other"}),
        "workspace with a dot-dot": with_repository(href=f"{fake.url}/../api", fields={"full_name": "../api"}),
        "another installation's workspace": with_repository(
            fields={"workspace": {"type": "workspace", "slug": "acme", "uuid": OTHER_WORKSPACE}}
        ),
        "branch as an option": with_branch("--output=/tmp/pwned"),
        "branch with ..": with_branch("a/../../b"),
        "branch with control characters": with_branch("main\n"),
        "revision not a commit id": with_branch("main", "HEAD~1 --output=/tmp/pwned"),
        "repository not an object": push | {"repository": "bitbucket.org/acme/api"},
        "changes not a list": push | {"push": {"changes": "all"}},
    }


def test_hostile_repositories_and_branches_are_refused_before_anything_is_published(
    fake: FakeBitbucket, installed: Installed
) -> None:
    for name, payload in _hostile(fake).items():
        response = send_event("repo:push", payload, installed)
        assert response.status_code == 400, (name, response.content)
        assert set(response.json()) == {"code", "message"}, name
    assert nothing_published()
    assert [request for request in fake.requests if "/src/" in request.path] == []


def test_hostile_headers_are_refused(fake: FakeBitbucket, installed: Installed) -> None:
    payload = push_payload(fake.url, "acme", "api", "a" * 40)
    good = event_headers("repo:push", client_key=installed.client_key, shared_secret=installed.shared_secret)
    for name, change in {
        "no event key": {"HTTP_X_EVENT_KEY": ""},
        "event key with a newline": {"HTTP_X_EVENT_KEY": "repo:push\nX: y"},
        "request id not a uuid": {"HTTP_X_REQUEST_UUID": "../../etc"},
        "attempt not a number": {"HTTP_X_ATTEMPT_NUMBER": "1; drop"},
    }.items():
        assert post(payload, **good | change).status_code == 400, name
    assert nothing_published()


def test_a_body_over_bitbucket_s_limit_is_refused_before_it_is_read_or_its_jwt_checked(
    fake: FakeBitbucket, installed: Installed, settings: Any
) -> None:
    limit = settings.BITBUCKET_MAX_EVENT_BYTES
    assert limit == 256 * 1024
    payload = push_payload(fake.url, "acme", "api", "a" * 40) | {"padding": "x" * limit}

    response = post(payload)  # no JWT at all: the size is refused first

    assert f"({limit} bytes)" in refused(response, 413)
    assert nothing_published()


# -- forged events on the queue ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        {"repository": "https://evil.example/acme/api.git", "pipeline": "evil.example/acme/api"},
        {"pipeline": "127.0.0.1/acme/other"},
        {"repository": "ext::sh -c touch% /tmp/pwned"},
        {"clientKey": "ari:cloud:unknown"},
        {"clientKey": None},
        {"revision": "HEAD"},
        {"branch": "--output=/tmp/pwned"},
    ],
)
def test_forged_bitbucket_pushes_on_the_queue_are_dead_letters_before_bitbucket_is_asked(
    fake: FakeBitbucket, installed: Installed, forged: dict[str, Any]
) -> None:
    event = {
        "event": "push",
        "forge": "bitbucket",
        "repository": f"{fake.url}/acme/api.git",
        "pipeline": "127.0.0.1/acme/api",
        "branch": "master",
        "revision": "a" * 40,
        "clientKey": installed.client_key,
    } | forged

    outcome = deliver(GitPushConsumer(), event, event_id="forged-1")

    assert outcome.verdict is Verdict.TERMINATE
    assert [request for request in fake.requests if "/src/" in request.path] == []
    assert not Build.objects.exists()


# -- the tokens and the secret -----------------------------------------------------------------------------------------


def test_tokens_and_the_shared_secret_are_in_no_log_answer_or_table(
    fake: FakeBitbucket,
    job_runner: FakeJobRunner,  # noqa: F811 - the fixture imported above
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        # given the app installed, a push built and its statuses refused by Bitbucket (errors logged, dead letters)
        installed = install_app(fake, workspace="acme")
        revision = fake.add_repository("acme", "api").commit({".estafette.yaml": MANIFEST})
        fake.fail("/statuses/build", 500, times=100)
        assert send_event("repo:push", push_payload(fake.url, "acme", "api", revision), installed).status_code == 202
        settle()
        (spec,) = job_runner.started
        build = Build.objects.select_related("pipeline").get()
        build_start(build=build)
        build_finish(build=build, status="failed")
        settle()
        trigger = {"repository": repository_entity(fake.url, "acme", "api")}
        assert send_event("repo:commit_comment_created", trigger, installed).status_code == 202

    # then the job was given a token Bitbucket issued, sealed…
    sealed = [c.additional_properties["token"] for c in config_of(spec).credentials if c.type == "bitbucket-api-token"]
    assert sealed and all(fake.valid_token(opened_credential(spec, token)) for token in sealed)
    # …and no token, nor the installation's secret, is in a log line, an API answer or a row of any table
    answers = [
        APIClient().get(f"/api/pipelines/{build.pipeline.full_name}/builds/{build.pk}").content.decode(),
        APIClient().get(f"/api/pipelines/{build.pipeline.full_name}").content.decode(),
        APIClient().get("/api/integrations/bitbucket/descriptor").content.decode(),
    ]
    rows = serializers.serialize("json", [row for model in apps.get_models() for row in model.objects.all()])
    assert fake.tokens
    for secret in [*fake.tokens, installed.shared_secret]:
        assert secret not in caplog.text
        assert not any(secret in answer for answer in answers)
        assert secret not in rows
