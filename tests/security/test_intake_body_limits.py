"""Attacks on the intakes' body limits (issue 12): each forge's intake takes bodies as large as its forge sends (GitHub:
25 MiB; Bitbucket: 256 KiB, its documented webhook payload limit), every other route ``ESTAFETTE_MAX_REQUEST_BYTES``.

A body over its route's limit — declared by ``Content-Length`` or sent chunked — is refused with 413 and a JSON
``{"code", "message"}`` naming the limit before it is read and before its signature is looked at; nothing is published.
A real forge's large delivery under the forge's limit still gets through (the generic limit would have refused it).
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

from estafette.queue.models import OutboxMessage
from integrations.git.testing import WEBHOOK_SECRET as GIT_SECRET
from integrations.git.testing import signed_headers
from integrations.github.testing import delivery_headers

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
