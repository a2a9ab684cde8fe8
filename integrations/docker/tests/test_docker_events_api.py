"""``POST /api/integrations/docker/events``: a registry's notification envelope, tagged events published once."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from estafette.queue.models import OutboxMessage

pytestmark = pytest.mark.django_db
URL = "/api/integrations/docker/events"
MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
ENVELOPE = {
    "events": [
        {
            "id": "320678d8-ca14-430f-8bb6-4ca139cd83f7",
            "timestamp": "2016-03-09T14:44:26.402973972-08:00",
            "action": "push",
            "target": {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "digest": "sha256:fe",
                "repository": "acme/api",
                "url": "http://registry/v2/acme/api/manifests/sha256:fe",
                "tag": "1.2.3",
            },
            "request": {"id": "r1", "addr": "10.0.0.1:1", "host": "registry:5000", "method": "PUT"},
            "actor": {},
            "source": {"addr": "registry:5000", "instanceID": "i1"},
        },
        {"id": "blob-1", "action": "push", "target": {"repository": "acme/api", "digest": "sha256:aa"}},
    ]
}


@pytest.fixture(autouse=True)
def token(settings) -> None:
    settings.DOCKER_WEBHOOK_TOKEN = "registry-token"


def post(body: object, **headers: str):
    headers.setdefault("HTTP_AUTHORIZATION", "Bearer registry-token")
    return APIClient().post(URL, data=json.dumps(body), content_type=MEDIA_TYPE, **headers)


def test_it_publishes_each_tagged_event_once() -> None:
    first = post(ENVELOPE)
    again = post(ENVELOPE)  # the registry retries until it gets a 2xx

    assert first.status_code == again.status_code == 202
    assert first.json() == {"ids": ["docker-320678d8-ca14-430f-8bb6-4ca139cd83f7"]}
    rows = list(OutboxMessage.objects.filter(subject="estafette.events.docker"))
    assert {row.dedup_key for row in rows} == {"docker-320678d8-ca14-430f-8bb6-4ca139cd83f7"}
    assert json.loads(rows[0].payload) == {"event": "push", "image": "acme/api", "tag": "1.2.3"}


def test_a_missing_or_wrong_token_is_refused(settings) -> None:
    assert post(ENVELOPE, HTTP_AUTHORIZATION="").status_code == 401
    assert post(ENVELOPE, HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    settings.DOCKER_WEBHOOK_TOKEN = ""
    refused = post(ENVELOPE, HTTP_AUTHORIZATION="Bearer ")
    assert refused.status_code == 401
    assert "set ESTAFETTE_DOCKER_WEBHOOK_TOKEN" in refused.json()["message"]
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"nope": []}, 'envelope {"events": [...]}'),
        ({"events": ["x"]}, "events[0] must be an object"),
        ({"events": [{"id": "a", "action": "push", "target": {}}]}, "events[0]: repository is required"),
    ],
)
def test_a_malformed_envelope_is_a_400_with_the_reason(body: object, reason: str) -> None:
    response = post(body)
    assert response.status_code == 400
    assert reason in response.json()["message"]
