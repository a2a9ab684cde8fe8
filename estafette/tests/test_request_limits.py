"""Bounded input on every endpoint: bodies over their route's size limit are refused (413) before they are read, JSON
nested deeper than MAX_DEPTH or malformed is a 400, always with the ``{"code", "message"}`` body, never HTML or a 500.

(The same attacks over HTTP against the real gunicorn: tests/security/test_api_limits*.py.)
"""

import io
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from builder.contracts import CONTRACT_VERSION
from builds.testing import make_build
from estafette.lib.jobtokens import issue_job_token
from estafette.lib.json_input import MAX_DEPTH
from estafette.testing import client_for, make_user
from integrations.git.testing import signed_headers
from runs.callbacks import callback_urls
from runs.models import RunStatus

SECRET = "webhook-secret"
TOKEN = "intake-token"
DEEP = ("[" * 990 + "]" * 990).encode()
DEEPER_THAN_ALLOWED = ('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)).encode()

_users = itertools.count()

# Each endpoint that takes a JSON body: (path for a setup object, headers that get past its authentication, a client).
Endpoint = Callable[[], tuple[str, dict[str, str], Client]]


def login() -> tuple[str, dict[str, str], Client]:
    return "/api/auth/login", {}, APIClient()


def rebuild() -> tuple[str, dict[str, str], Client]:
    build = make_build(status=RunStatus.FAILED)
    pipeline = build.pipeline
    path = f"/api/pipelines/{pipeline.repo_source}/{pipeline.repo_owner}/{pipeline.repo_name}/builds"
    return path, {}, client_for(make_user(f"member-{next(_users)}", staff=True))


def encrypt() -> tuple[str, dict[str, str], Client]:
    return "/api/manifest/encrypt", {}, client_for(make_user(f"member-{next(_users)}", staff=True))


def builder_status() -> tuple[str, dict[str, str], Client]:
    build = make_build(status=RunStatus.RUNNING)
    token = issue_job_token(kind="build", run_id=build.pk)
    return (
        callback_urls(kind="build", run_id=build.pk, base_url="")[0],
        {"HTTP_AUTHORIZATION": f"Bearer {token}"},
        Client(),
    )


def builder_logs() -> tuple[str, dict[str, str], Client]:
    path, headers, client = builder_status()
    return path.removesuffix("/status") + "/logs", headers, client


def git_webhook() -> tuple[str, dict[str, str], Client]:
    return "/api/integrations/git/events", {}, Client()  # signed per body below


def pubsub_webhook() -> tuple[str, dict[str, str], Client]:
    return "/api/integrations/pubsub/events", {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, Client()


def docker_webhook() -> tuple[str, dict[str, str], Client]:
    return "/api/integrations/docker/events", {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, Client()


ENDPOINTS: dict[str, Endpoint] = {
    "login": login,
    "rebuild (DRF)": rebuild,
    "manifest encrypt (DRF)": encrypt,
    "builder status": builder_status,
    "builder logs": builder_logs,
    "git webhook": git_webhook,
    "pubsub webhook": pubsub_webhook,
    "docker webhook": docker_webhook,
}


@pytest.fixture(autouse=True)
def intake_secrets() -> Any:
    with override_settings(GIT_WEBHOOK_SECRET=SECRET, PUBSUB_TOKEN=TOKEN, DOCKER_WEBHOOK_TOKEN=TOKEN):
        yield


def post(endpoint: Endpoint, body: bytes, **extra: Any) -> Any:
    path, headers, client = endpoint()
    if path.startswith("/api/integrations/git/"):
        headers = {**headers, **signed_headers(body, SECRET)}
    return client.generic(
        "POST", path, body, content_type=extra.pop("content_type", "application/json"), **headers, **extra
    )


def assert_error(response: Any, status: int, *reasons: str) -> dict[str, str]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message"}
    for reason in reasons:
        assert reason in body["message"]
    return body


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("body", [DEEP, DEEPER_THAN_ALLOWED], ids=["990 deep", f"{MAX_DEPTH + 1} deep"])
def test_json_nested_too_deep_is_a_400_with_a_reason_on_every_endpoint(endpoint: str, body: bytes) -> None:
    assert_error(post(ENDPOINTS[endpoint], body), 400, f"nested deeper than {MAX_DEPTH} levels")


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"\xff\xfe{}", "not UTF-8"), (b'{"a": ', "not JSON"), (b'{"a": NaN}', "NaN is not a JSON number")],
    ids=["bad UTF-8", "truncated", "NaN"],
)
def test_malformed_json_is_a_400_with_a_reason_on_every_endpoint(endpoint: str, body: bytes, reason: str) -> None:
    assert_error(post(ENDPOINTS[endpoint], body), 400, reason)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_body_over_the_limit_is_a_413_before_it_is_read(endpoint: str, settings: Any) -> None:
    # given a body one byte over the route's limit, and one that only claims to be 1 GB
    limit = settings.MAX_LOG_BATCH_BYTES if endpoint == "builder logs" else settings.MAX_REQUEST_BYTES
    over = post(ENDPOINTS[endpoint], b" " * (limit + 1))
    claimed = post(ENDPOINTS[endpoint], b"{}", CONTENT_LENGTH=str(1024**3))
    # then both are refused with the limit named
    for response in (over, claimed):
        assert_error(response, 413, f"larger than this endpoint takes ({limit} bytes)")


@pytest.mark.django_db
def test_a_log_batch_may_be_larger_than_other_bodies(settings: Any) -> None:
    # given a well-formed log batch larger than the default limit (long lines, as a builder sends them)
    text = "x" * 60_000
    log_line = {"timestamp": "2030-01-01T00:00:00Z", "streamType": "stdout", "text": text}
    lines = [{"step": "build", "logLine": {"line": n, **log_line}} for n in range(1, 41)]
    body = json.dumps({"contractVersion": CONTRACT_VERSION, "seq": 1, "lines": lines}).encode()
    assert settings.MAX_REQUEST_BYTES < len(body) < settings.MAX_LOG_BATCH_BYTES
    # when the builder posts it, then it is stored; the same size elsewhere is refused
    assert post(builder_logs, body).status_code == 201
    assert_error(post(login, body), 413)


@pytest.mark.django_db
def test_a_chunked_body_is_read_up_to_the_limit(settings: Any) -> None:
    make_user("ann")

    def chunked(body: bytes) -> Any:
        # as gunicorn hands over a chunked request: no CONTENT_LENGTH, the decoded body in wsgi.input
        environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": ""}
        return APIClient().generic("POST", "/api/auth/login", b"", content_type="application/json", **environ)

    # a small chunked body reaches the view (which then checks the password)
    answer = chunked(json.dumps({"username": "ann", "password": "wrong"}).encode())
    assert_error(answer, 400, "unknown username or wrong password")
    # a long one is cut off at the limit
    assert_error(chunked(b" " * (settings.MAX_REQUEST_BYTES + 1)), 413)


@pytest.mark.django_db
def test_the_api_takes_json_only() -> None:
    make_user("ann")
    form = APIClient().generic(
        "POST", "/api/auth/login", b"username=ann&password=x", content_type="application/x-www-form-urlencoded"
    )
    latin = APIClient().generic(
        "POST", "/api/auth/login", b'{"username": "ann"}', content_type="application/json; charset=latin-1"
    )
    assert_error(form, 415, "application/x-www-form-urlencoded")
    assert_error(latin, 400, "UTF-8")


@pytest.mark.django_db
def test_outside_the_api_an_oversized_body_is_a_plain_413(settings: Any) -> None:
    response = Client().generic(
        "POST", "/admin/login/", b"x" * (settings.MAX_REQUEST_BYTES + 1), content_type="text/plain"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")
