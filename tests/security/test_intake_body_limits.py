"""Attacks on the intakes' body limits (issue 12): each forge's intake takes bodies as large as its forge sends (GitHub:
25 MiB; Bitbucket: 256 KiB, its documented webhook payload limit), every other route ``ESTAFETTE_MAX_REQUEST_BYTES``.

A body over its route's limit — declared by ``Content-Length`` or sent chunked — is refused with 413 and a JSON
``{"code", "message"}`` naming the limit before it is read and before its signature is looked at; nothing is published.
A real forge's large delivery under the forge's limit still gets through (the generic limit would have refused it),
and all the way: its events fit NATS's max_payload (1 MiB by default), so a 5 MiB push is relayed, not wedged in the
outbox, and makes its build (the trigger event carries a bounded summary of the body: ``hosted.trigger_payload``).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from builds.models import Build
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.jetstream import QueueSettings
from estafette.queue.models import DeadLetter, OutboxMessage
from estafette.queue.outbox import relay_pending
from estafette.queue.testing import deliver, subject_matches
from integrations.git.testing import WEBHOOK_SECRET as GIT_SECRET
from integrations.git.testing import signed_headers
from integrations.github.testing import delivery_headers, fake_github_app
from integrations.hosted import MAX_TRIGGER_PAYLOAD_BYTES
from runs.testing import job_runner  # noqa: F401 - fixture
from tests.tooling.nats import stream_messages
from triggers.testing import app_consumers, settle

pytestmark = pytest.mark.django_db
GITHUB = "/api/integrations/github/events"
GIT = "/api/integrations/git/events"
MIB = 1024 * 1024


def _refused_for_size(response: Any, limit: int) -> None:
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message"}
    assert f"({limit} bytes)" in body["message"]


def test_a_github_delivery_larger_than_the_generic_limit_is_taken(settings: Any) -> None:
    # given a signed ping delivery of 2 MiB (GitHub sends up to 25 MB: a push of many large commits)
    settings.GITHUB_WEBHOOK_SECRET = "s3cret"
    body = json.dumps({"zen": "x" * (2 * MIB), "hook_id": 1}).encode()
    assert len(body) > settings.MAX_REQUEST_BYTES

    response = APIClient().post(
        GITHUB, data=body, content_type="application/json", **delivery_headers("ping", body, secret="s3cret")
    )

    assert response.status_code == 202, response.content
    assert OutboxMessage.objects.count() == 1


def test_a_github_delivery_over_its_limit_is_refused_before_it_is_read_or_its_signature_checked(
    settings: Any,
) -> None:
    settings.GITHUB_WEBHOOK_SECRET = "s3cret"
    limit = settings.GITHUB_MAX_DELIVERY_BYTES
    assert limit == 25 * MIB
    # a body that only claims to be 1 GiB: nothing could be read before the 413 (the stream holds two bytes)
    claimed = APIClient().post(GITHUB, data=b"{}", content_type="application/json", CONTENT_LENGTH=str(1024**3))
    # a chunked body that goes on past the limit: reading stops there
    chunked = APIClient().generic(
        "POST",
        GITHUB,
        b"",
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
        **{"wsgi.input": io.BytesIO(b" " * (limit + 1))},
    )
    for response in (claimed, chunked):
        _refused_for_size(response, limit)
    assert not OutboxMessage.objects.exists()


def test_the_generic_git_intake_keeps_the_small_limit(settings: Any) -> None:
    settings.GIT_WEBHOOK_SECRET = GIT_SECRET
    body = b" " * (settings.MAX_REQUEST_BYTES + 1)

    response = APIClient().post(GIT, data=body, content_type="application/json", **signed_headers(body, GIT_SECRET))

    _refused_for_size(response, settings.MAX_REQUEST_BYTES)
    assert not OutboxMessage.objects.exists()


def test_each_intakes_limit_is_configurable() -> None:
    # the settings module read afresh, as a server starts, with the variables set
    environment = {
        **os.environ,
        "ESTAFETTE_GITHUB_MAX_DELIVERY_BYTES": str(3 * MIB),
        "ESTAFETTE_BITBUCKET_MAX_EVENT_BYTES": str(512 * 1024),
    }
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(dict(s.REQUEST_BODY_LIMITS)[r'^/api/integrations/github/events$'], "
        "dict(s.REQUEST_BODY_LIMITS)[r'^/api/integrations/bitbucket/'], s.DATA_UPLOAD_MAX_MEMORY_SIZE)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    github, bitbucket, django_cap = (int(value) for value in done.stdout.split())
    assert (github, bitbucket) == (3 * MIB, 512 * 1024)
    assert django_cap >= github


@pytest.mark.nats
@pytest.mark.django_db(transaction=True)  # the relay reads the outbox on a thread of its own: rows must be committed
def test_a_5_mib_signed_push_is_relayed_through_nats_and_makes_one_build(
    tmp_path: Path,
    settings: Any,
    queue_settings: QueueSettings,
    job_runner: FakeJobRunner,  # noqa: F811 - the fixture imported above
) -> None:
    # given a push whose delivery is 5 MiB (GitHub's own shape of a big push: commits listing thousands of files),
    # of a repository with a manifest, signed by the app's secret
    with fake_github_app(tmp_path / "github", settings) as github:
        repository = github.add_repository("Codertocat", "Hello-World", installation=31)
        manifest = "stages:\n  build:\n    image: alpine:3.20\n    commands: [echo built]\n"
        revision = repository.commit({".estafette.yaml": manifest})
        payload = repository.push_delivery(github, revision)
        files = [f"src/module_{index:06d}/generated_file.py" for index in range(5 * MIB // 40)]
        payload["head_commit"]["added"] = payload["commits"][0]["added"] = files
        body = json.dumps(payload).encode()
        assert len(body) > 5 * MIB

        # when it is delivered, and the outbox is relayed to a real nats-server (default max_payload, 1 MiB)
        response = APIClient().post(
            GITHUB, data=body, content_type="application/json", **delivery_headers("push", body, delivery="big-1")
        )
        assert response.status_code == 202, response.content
        relay_pending(queue_settings)

        # then the outbox drained into the stream: nothing waits, nothing was set aside
        assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
        assert not DeadLetter.objects.exists()
        messages = stream_messages(queue_settings)
        assert sorted(message["id"] for message in messages) == ["github-big-1", "github-push-big-1"]
        # the github trigger event says the payload was cut, and keeps what a trigger or a job looks at
        trigger = next(message["data"] for message in messages if message["id"] == "github-big-1")
        assert (trigger["event"], trigger["delivery"]) == ("push", "big-1")
        assert trigger["repository"].endswith("/Codertocat/Hello-World")
        assert len(trigger["payload"].encode()) <= MAX_TRIGGER_PAYLOAD_BYTES
        summary = json.loads(trigger["payload"])
        assert (summary["truncated"], summary["bytes"]) == (True, len(body))
        assert (summary["ref"], summary["after"]) == ("refs/heads/master", revision)
        assert summary["repository"]["full_name"] == "Codertocat/Hello-World"

        # and the events, as the stream holds them, make one build of the pushed revision
        consumers = app_consumers()
        for message in messages:
            data = json.dumps(message["data"]).encode()
            for consumer in consumers:
                if subject_matches(consumer.subject, message["subject"]):
                    deliver(consumer, data, event_id=message["id"], subject=message["subject"])
        settle()
    build = Build.objects.get()
    assert (build.repo_branch, build.repo_revision) == ("master", revision)
