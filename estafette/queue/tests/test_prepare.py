"""``Consumer.prepare``: slow reads before the handler's transaction, handed to ``handle`` as ``event.prepared``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from estafette.queue.consumer import Consumer, ReceivedEvent
from estafette.queue.testing import Verdict, deliver

pytestmark = pytest.mark.django_db(transaction=True)


class Preparing(Consumer):
    subject = "estafette.events.git"
    durable = "preparing"
    idempotent = True

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.prepared_in_transaction: list[bool] = []
        self.handled: list[Any] = []

    def prepare(self, event: ReceivedEvent) -> Any:
        self.prepared_in_transaction.append(connection.in_atomic_block)
        if self.fail:
            raise OSError("the remote is unreachable")
        return {"read": event.payload["n"]}

    def handle(self, event: ReceivedEvent) -> None:
        self.handled.append(event.prepared)


def test_handle_gets_what_prepare_read_outside_the_transaction() -> None:
    consumer = Preparing()

    outcome = deliver(consumer, {"n": 1}, event_id="e1")

    assert outcome.verdict is Verdict.ACK
    assert consumer.prepared_in_transaction == [False]
    assert consumer.handled == [{"read": 1}]


def test_a_redelivery_of_a_handled_event_prepares_nothing() -> None:
    consumer = Preparing()
    deliver(consumer, {"n": 1}, event_id="e1")

    outcome = deliver(consumer, {"n": 1}, event_id="e1", deliveries=2)

    assert outcome.verdict is Verdict.ACK
    assert len(consumer.prepared_in_transaction) == 1
    assert consumer.handled == [{"read": 1}]


def test_a_failing_prepare_is_retried_like_a_failing_handler() -> None:
    consumer = Preparing(fail=True)

    outcome = deliver(consumer, {"n": 1}, event_id="e1")

    assert outcome.verdict is Verdict.RETRY
    assert consumer.handled == []
