"""The intake base (``integrations.intake``) every integration's view is made of: authenticate, parse, submit."""

from __future__ import annotations

import json

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from estafette.queue.models import OutboxMessage
from integrations.intake import IntakeEvent, submit
from integrations.intake_view import IntakeView

pytestmark = pytest.mark.django_db
SUBJECT = "estafette.events.docker"


class Refused(ValueError):
    pass


class ShoutIntake(IntakeView):
    """A made-up intake: the secret is sent as the ``X-Secret`` header; each word of the body is one event."""

    not_configured = "set the secret"
    not_authenticated = "send the secret"
    invalid = Refused
    many = True
    parsed: list[bytes] = []
    # Called without a route (view.as_view()(request)): the policy table (estafette/policy.py) is keyed by routes,
    # so this test view leaves authorization out; the real intakes' rules are in the authorization matrix.
    permission_classes = ()

    def secret(self) -> str:
        return "s3cret"

    def proves(self, request: Request, secret: str) -> bool:
        return request.headers.get("X-Secret") == secret

    def parse(self, request: Request) -> list[IntakeEvent]:
        self.parsed.append(request.body)
        if not request.body:
            raise Refused("say something")
        return [IntakeEvent(SUBJECT, {"word": word}, f"shout-{word}") for word in request.body.decode().split()]


def post(view: type[IntakeView], body: bytes, **headers: str) -> tuple[int, object]:
    request = APIRequestFactory().post("/intake", data=body, content_type="text/plain", **headers)
    response = view.as_view()(request)
    return response.status_code, response.data


def test_it_parses_nothing_before_the_request_proves_it_knows_the_secret() -> None:
    ShoutIntake.parsed = []

    answer = post(ShoutIntake, b"hello world", HTTP_X_SECRET="wrong")

    assert answer == (401, {"code": "Unauthorized", "message": "send the secret"})
    assert ShoutIntake.parsed == []
    assert not OutboxMessage.objects.exists()


def test_it_refuses_every_request_while_it_has_no_secret() -> None:
    class Unconfigured(ShoutIntake):
        def secret(self) -> str:
            return ""

    assert post(Unconfigured, b"hello", HTTP_X_SECRET="") == (
        401,
        {"code": "Unauthorized", "message": "set the secret"},
    )


def test_it_publishes_what_the_kind_parsed_and_answers_the_ids() -> None:
    answer = post(ShoutIntake, b"hello world", HTTP_X_SECRET="s3cret")

    assert answer == (202, {"ids": ["shout-hello", "shout-world"]})
    rows = OutboxMessage.objects.filter(subject=SUBJECT).order_by("pk")
    assert [(row.dedup_key, json.loads(row.payload)) for row in rows] == [
        ("shout-hello", {"word": "hello"}),
        ("shout-world", {"word": "world"}),
    ]


def test_an_intake_of_one_event_answers_its_id() -> None:
    class OneShout(ShoutIntake):
        many = False

    assert post(OneShout, b"hello", HTTP_X_SECRET="s3cret") == (202, {"id": "shout-hello"})


def test_a_refused_body_is_a_400_with_the_kinds_reason() -> None:
    assert post(ShoutIntake, b"", HTTP_X_SECRET="s3cret") == (400, {"code": "Bad Request", "message": "say something"})


def test_submit_publishes_all_the_events_or_none() -> None:
    events = [IntakeEvent(SUBJECT, {"word": "kept?"}, "first"), IntakeEvent("not.an.event.subject", {}, "second")]

    with pytest.raises(ValueError, match="cannot publish"):
        submit(events)

    assert not OutboxMessage.objects.exists()
