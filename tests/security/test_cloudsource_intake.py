"""Attacks through the Cloud Source intake (issue 12): Pub/Sub pushes without Google's OIDC token or with one that is
not the push subscription's (no token, another audience, another service account, unverified email, expired, not
Google's issuer, signed by a key Google does not publish, ``alg: none``, HS256 keyed with Google's public key, made-up
key ids), replayed messages, hostile repository names, refs and revisions, and forged pushes on the queue.

Against the API in process (the test client), the consumers without NATS (``settle``, ``deliver``) and the fake
Google, a real HTTP server with its own discovery document, keys and git. A refused request is 4xx with a JSON
``{code, message}`` and leaves nothing on the queue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from builds.models import Build
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import Verdict, deliver
from integrations.cloudsource.testing import (  # noqa: F401 - fixture
    AUDIENCE,
    SERVICE_ACCOUNT,
    FakeGoogle,
    google,
    notification_body,
    ref_update,
)
from runs.testing import job_runner  # noqa: F401 - fixture
from triggers.consumers import GitPushConsumer
from triggers.testing import settle

pytestmark = pytest.mark.django_db
URL = "/api/integrations/cloudsource/events"
MANIFEST = "stages:\n  build:\n    image: alpine:3.20\n    commands: [echo built]\n"


def post(body: bytes, authorization: str | None) -> Any:
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    return APIClient().post(URL, data=body, content_type="application/json", **headers)


def _segment(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any], **header: Any) -> str:
    return f"{_segment({'alg': 'none', 'typ': 'JWT', **header})}.{_segment(claims)}."


def _hs256(claims: dict[str, Any], secret: bytes, **header: Any) -> str:
    """A token signed HS256 with ``secret`` (written out here: PyJWT refuses to key HMAC with a public key)."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', **header})}.{_segment(claims)}"
    return f"{signing_input}.{_segment(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def test_tokens_that_are_not_the_push_subscriptions_are_refused_and_nothing_is_published(
    google: FakeGoogle,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = notification_body("api", ref_update("refs/heads/main", "a" * 40))
    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        google.keys[-1][1]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    valid = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "email": SERVICE_ACCOUNT,
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
    }
    attacks = {
        "no header": None,
        "no token": "Bearer ",
        "not a bearer token": f"Basic {google.token()}",
        "not a JWT": "Bearer not-a-token",
        "another audience": f"Bearer {google.token(aud='https://evil.example/')}",
        "no audience": f"Bearer {google.token(aud=None)}",
        "another service account": f"Bearer {google.token(email='someone@evil.iam.gserviceaccount.com')}",
        "an unverified email": f"Bearer {google.token(email_verified=False)}",
        "no email": f"Bearer {google.token(email=None)}",
        "expired": f"Bearer {google.token(iat=now - 7200, exp=now - 3600)}",
        "not Google's issuer": f"Bearer {google.token(iss='https://evil.example')}",
        "signed by a key Google does not publish (its key id)": f"Bearer {google.token(key=stranger)}",
        "a made-up key id": f"Bearer {google.token(key=stranger, headers={'kid': 'made-up'})}",
        "alg none": f"Bearer {_unsigned(valid)}",
        "alg none with Google's key id": f"Bearer {_unsigned(valid, kid=google.keys[-1][0])}",
        "HS256 keyed with Google's public key": f"Bearer {_hs256(valid, public_pem, kid=google.keys[-1][0])}",
    }
    with caplog.at_level(logging.DEBUG):
        for name, authorization in attacks.items():
            response = post(body, authorization)
            assert response.status_code == 401, (name, response.content)
            assert set(response.json()) == {"code", "message"}, name
    assert not OutboxMessage.objects.exists()
    for authorization in attacks.values():
        token = (authorization or "").partition(" ")[2]
        assert not token or token not in caplog.text


def test_a_valid_token_for_another_body_still_passes_only_with_a_valid_body(google: FakeGoogle) -> None:  # noqa: F811
    """The token authenticates the sender, not the body (Pub/Sub signs no body): what the body says is checked."""
    response = post(b'{"message": "x"}', f"Bearer {google.token()}")

    assert response.status_code == 400
    assert not OutboxMessage.objects.exists()


def test_without_audience_or_service_account_every_push_is_refused(google: FakeGoogle, settings: Any) -> None:  # noqa: F811
    body = notification_body("api", ref_update("refs/heads/main", "a" * 40))
    for setting in ("CLOUDSOURCE_AUDIENCE", "CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL"):
        original = getattr(settings, setting)
        setattr(settings, setting, "")
        response = post(body, f"Bearer {google.token()}")
        assert response.status_code == 401
        assert "ESTAFETTE_CLOUDSOURCE_AUDIENCE" in response.json()["message"]
        setattr(settings, setting, original)
    assert google.discovery_hits == 0


def test_made_up_key_ids_do_not_make_us_fetch_googles_keys_again_and_again(google: FakeGoogle) -> None:  # noqa: F811
    body = notification_body("api", {}, refUpdateEvent=None)
    assert post(body, f"Bearer {google.token()}").status_code == 202
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    for index in range(5):
        token = google.token(key=stranger, headers={"kid": f"made-up-{index}"})
        assert post(body, f"Bearer {token}").status_code == 401

    assert google.jwks_hits <= 2  # the first fetch, and at most one more within the cool-down


def test_a_replayed_message_makes_no_second_build(google: FakeGoogle, job_runner: Any) -> None:  # noqa: F811
    repository = google.add_repository("api")
    revision = repository.commit({".estafette.yaml": MANIFEST})
    body = notification_body("api", ref_update("refs/heads/main", revision), message_id="4242")

    first = post(body, f"Bearer {google.token()}")
    settle()
    again = post(body, f"Bearer {google.token()}")
    another_id = post(
        notification_body("api", ref_update("refs/heads/main", revision), message_id="4343"),
        f"Bearer {google.token()}",
    )
    settle()

    assert first.json() == again.json()
    assert another_id.status_code == 202
    assert Build.objects.count() == 1


@pytest.mark.parametrize(
    ("repo", "updates", "extra"),
    [
        ("../api", ref_update("refs/heads/main", "a" * 40), {}),
        ("api/../../etc", ref_update("refs/heads/main", "a" * 40), {}),
        ("api", ref_update("refs/heads/--upload-pack=touch /tmp/pwned", "a" * 40), {}),
        ("api", ref_update("refs/heads/a/../../b", "a" * 40), {}),
        ("api", ref_update("refs/heads/main\n", "a" * 40), {}),
        ("api", ref_update("refs/heads/main", "HEAD~1"), {}),
        ("api", ref_update("refs/heads/main", "a" * 40 + "\n"), {}),
        ("api", ref_update("refs/heads/main", "a" * 40, update_type="EXPLODE"), {}),
        ("api", {"refs/heads/main": "not an object"}, {}),
        ("api", ref_update("refs/heads/main", "a" * 40), {"name": "projects/evil/../x/repos/api"}),
        ("api", ref_update("refs/heads/main", "a" * 40), {"refUpdateEvent": "not an object"}),
    ],
)
def test_hostile_notifications_are_refused_before_anything_is_published(
    google: FakeGoogle,  # noqa: F811
    repo: str,
    updates: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    response = post(notification_body(repo, updates, **extra), f"Bearer {google.token()}")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"code", "message"}
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    "forged",
    [
        {"repository": "https://evil.example/p/estafette-tests/r/api"},
        {"pipeline": "127.0.0.1/estafette-tests/other"},
        {"pipeline": "evil.example/estafette-tests/api"},
        {"repository": "ext::sh -c touch% /tmp/pwned"},
        {"revision": "HEAD"},
        {"branch": "--output=/tmp/pwned"},
        {"forge": "nonexistent"},
    ],
)
def test_forged_cloud_source_pushes_on_the_queue_are_dead_letters(
    google: FakeGoogle,  # noqa: F811
    forged: dict[str, Any],
) -> None:
    event = {
        "event": "push",
        "forge": "cloudsource",
        "repository": f"{google.url}/p/estafette-tests/r/api",
        "pipeline": "127.0.0.1/estafette-tests/api",
        "branch": "main",
        "revision": "a" * 40,
    } | forged

    assert deliver(GitPushConsumer(), event, event_id="forged-1").verdict is Verdict.TERMINATE
    assert not Build.objects.exists()
