"""``POST /api/integrations/pubsub/events``: token first, then the Pub/Sub push format; published once per message."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from estafette.queue.models import OutboxMessage

pytestmark = pytest.mark.django_db
URL = "/api/integrations/pubsub/events"
MESSAGE = {
    "message": {"attributes": {"env": "prod"}, "data": "aGk=", "messageId": "1001", "publishTime": "2024-05-01T12:00Z"},
    "subscription": "projects/acme/subscriptions/builds~estafette-ci-pubsub-trigger",
}


@pytest.fixture(autouse=True)
def token(settings) -> None:
    settings.PUBSUB_TOKEN = "the-token"


def post(body: object, *, query: str = "?token=the-token", **headers: str):
    return APIClient().post(URL + query, data=json.dumps(body), content_type="application/json", **headers)


def test_it_publishes_the_message_for_its_topic_once() -> None:
    first = post(MESSAGE)
    again = post(MESSAGE, query="", HTTP_AUTHORIZATION="Bearer the-token")

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    rows = OutboxMessage.objects.filter(subject="estafette.events.pubsub")
    assert {row.dedup_key for row in rows} == {first.json()["id"]}
    assert json.loads(rows[0].payload) == {
        "project": "acme",
        "topic": "builds",
        "message": {
            "attributes": {"env": "prod"},
            "data": "aGk=",
            "messageId": "1001",
            "publishTime": "2024-05-01T12:00Z",
        },
    }


@pytest.mark.parametrize(
    ("query", "headers"), [("", {}), ("?token=wrong", {}), ("", {"HTTP_AUTHORIZATION": "Bearer x"})]
)
def test_a_missing_or_wrong_token_is_refused(query: str, headers: dict) -> None:
    response = post(MESSAGE, query=query, **headers)
    assert response.status_code == 401
    assert "token" in response.json()["message"]
    assert not OutboxMessage.objects.exists()


def test_without_a_configured_token_pushes_are_refused_saying_what_to_set(settings) -> None:
    settings.PUBSUB_TOKEN = ""
    response = post(MESSAGE, query="?token=")
    assert response.status_code == 401
    assert "set ESTAFETTE_PUBSUB_TOKEN" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**MESSAGE, "subscription": "builds"}, "projects/<project>/subscriptions/<name>"),
        ({"subscription": MESSAGE["subscription"]}, "message is required"),
        ({**MESSAGE, "message": {"data": "x"}}, "messageId is required"),
        ({**MESSAGE, "message": {"messageId": "1", "attributes": {"a": 1}}}, "attributes must map names to strings"),
        ([1], "JSON object"),
    ],
)
def test_a_malformed_message_is_a_400_with_the_reason(body: object, reason: str) -> None:
    response = post(body)
    assert response.status_code == 400
    assert reason in response.json()["message"]
