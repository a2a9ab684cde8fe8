"""Bounded input on every endpoint, against the real gunicorn over HTTP.

Seen before: JSON nested ~990 deep was a 500 (RecursionError) on any JSON endpoint, including the anonymous login;
a 20 MB webhook body was a 400 HTML page and a logged traceback per request. Now deep or malformed JSON is a 400 and an
oversized body a 413, always with the ``{"code", "message"}`` JSON body, decided before the body is read (a 1 GB
Content-Length is refused at once; a chunked body is cut off at the limit), and the server logs no traceback.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from builds.models import Build
from builds.testing import make_build
from estafette.lib.jobtokens import issue_job_token
from estafette.queue.jetstream import QueueSettings
from integrations.git.testing import WEBHOOK_SECRET
from integrations.git.webhook import SIGNATURE_HEADER, sign
from runs.models import RunStatus
from tests.harness.asserts import assert_json_error, assert_no_crash_in
from tests.harness.system import System, start_system

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

INTAKE_TOKEN = "intake-token-for-the-test"
MB = 1024 * 1024
DEEP = ("[" * 990 + "]" * 990).encode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_post(
    url: str,
    path: str,
    headers: dict[str, str],
    body: Iterable[bytes],
    *,
    content_length: int | None = None,
    chunked: bool = False,
) -> Answer:
    """POST over a plain socket, sending in a thread while the answer is read (a server may answer, and close, before
    it read the body, as a 413 must): ``content_length`` is declared as given, whatever the body is."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    head = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {content_length}")

    def send() -> None:
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            for piece in body:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before taking everything: what a limit does

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        response = http.client.HTTPResponse(sock, method="POST")
        response.begin()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        sock.close()
        sender.join(10)


def pieces(size: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, size, piece):
        yield b" " * min(piece, size - start)


@dataclass
class Target:
    name: str
    path: str
    headers: dict[str, str]

    def headers_for(self, body: bytes) -> dict[str, str]:
        if self.path.endswith("/git/events"):  # the git webhook is signed: the attack comes with a valid signature
            return {**self.headers, SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET)}
        return self.headers


def targets(system: System, build: Build) -> list[Target]:
    key = (system.processes.data_dir / "secret-key").read_text().strip()
    with override_settings(SECRET_KEY=key):
        job_token = issue_job_token(kind="build", run_id=build.pk)
    json_type = {"Content-Type": "application/json"}
    user = {**json_type, "Authorization": system.api.headers["Authorization"]}
    builder = {**json_type, "Authorization": f"Bearer {job_token}"}
    intake = {**json_type, "Authorization": f"Bearer {INTAKE_TOKEN}"}
    pipeline = build.pipeline
    return [
        Target("login (anonymous)", "/api/auth/login", json_type),
        Target("rebuild (a DRF POST on a list)", f"/api/pipelines/{pipeline.full_name}/builds", user),
        Target("manifest encrypt (DRF)", "/api/manifest/encrypt", user),
        Target("builder status", f"/api/builder/v1/build/{build.pk}/status", builder),
        Target("builder logs", f"/api/builder/v1/build/{build.pk}/logs", builder),
        Target("git webhook", "/api/integrations/git/events", json_type),
        Target("pubsub webhook", "/api/integrations/pubsub/events", intake),
        Target("docker webhook", "/api/integrations/docker/events", intake),
    ]


@pytest.fixture
def stack(transactional_db: None, queue_settings: QueueSettings, tmp_path: Path) -> Iterator[tuple[System, Build]]:
    # A finished build made before the system starts: nothing dispatches a job for it.
    build = make_build(status=RunStatus.FAILED)
    env = {"ESTAFETTE_PUBSUB_TOKEN": INTAKE_TOKEN, "ESTAFETTE_DOCKER_WEBHOOK_TOKEN": INTAKE_TOKEN}
    with start_system(queue_settings, tmp_path, env=env) as system:
        yield system, build


def test_deep_or_malformed_json_is_a_400_with_a_reason_on_every_endpoint(stack: tuple[System, Build]) -> None:
    system, build = stack
    for target in targets(system, build):
        for body, reason in (
            (DEEP, "nested deeper than 64 levels"),
            (b'{"a": [1, 2', "not JSON"),
            (b'{"text": "\xff\xfe"}', "not UTF-8"),
        ):
            answer = raw_post(
                system.processes.url, target.path, target.headers_for(body), [body], content_length=len(body)
            )
            assert_json_error(answer, 400, reason, where=target.name)
    assert_no_crash_in(system.processes.log())


def test_a_20_mb_body_or_a_1_gb_claim_is_a_413_before_it_is_read(stack: tuple[System, Build]) -> None:
    system, build = stack
    for target in targets(system, build):
        limit = 8 * MB if target.name == "builder logs" else MB
        # a 20 MB body
        big = raw_post(system.processes.url, target.path, target.headers, pieces(20 * MB), content_length=20 * MB)
        assert_json_error(big, 413, f"({limit} bytes)", where=target.name)
        # a small body claiming to be 1 GB: refused at once (the server does not wait for the rest)
        claim = raw_post(system.processes.url, target.path, target.headers, [b"{}"], content_length=1024**3)
        assert_json_error(claim, 413, f"({limit} bytes)", where=target.name)
    assert_no_crash_in(system.processes.log())


def test_a_chunked_body_is_read_up_to_the_limit_and_no_further(stack: tuple[System, Build]) -> None:
    system, build = stack
    login = targets(system, build)[0]
    # a chunked body over the limit is cut off with a 413
    endless = raw_post(system.processes.url, login.path, login.headers, pieces(20 * MB), chunked=True)
    assert_json_error(endless, 413, f"({MB} bytes)", where="chunked 20 MB")
    # one within the limit is read like any other: deep JSON is a 400, a login attempt reaches the password check
    deep = raw_post(system.processes.url, login.path, login.headers, [DEEP[:500], DEEP[500:]], chunked=True)
    assert_json_error(deep, 400, "nested deeper than 64 levels", where="chunked deep JSON")
    credentials = json.dumps({"username": "ann", "password": "not hers"}).encode()
    attempt = raw_post(
        system.processes.url, login.path, login.headers, [credentials[:10], credentials[10:]], chunked=True
    )
    assert_json_error(attempt, 400, "unknown username or wrong password", where="chunked login")
    assert_no_crash_in(system.processes.log())
