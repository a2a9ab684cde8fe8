"""Consumers the queue tests run, in-process or in a ``manage.py consume --import`` subprocess.

``EchoConsumer`` is the idempotent test handler: for each event it writes one outbox row
(``estafette.events.test.echo``, dedup key ``echo-<event id>``) in the same transaction as its
``HandledEvent`` record, so counting those rows counts the events' effects. The payload steers it:
``{"pause": "in-transaction" | "after-commit" | "before-handling", "signal_dir": DIR}`` makes it write
``DIR/<event id>.paused`` and sleep (on the first delivery only, or on ``pause_delivery``), so a test
can kill or stop the process at that point.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.db import transaction

from estafette.queue.consumer import Consumer, ReceivedEvent, consumer, unregister
from estafette.queue.outbox import publish_on_commit

ECHO_SUBJECT = "estafette.events.test.echo"
PAUSE_SECONDS = 3600.0


def _pause(event: ReceivedEvent, where: str) -> None:
    if event.payload.get("pause") != where or event.deliveries != int(event.payload.get("pause_delivery", 1)):
        return
    signal_dir = Path(str(event.payload["signal_dir"]))
    (signal_dir / f"{event.id}.paused").write_text(str(event.deliveries))
    seconds = float(event.payload.get("pause_seconds", PAUSE_SECONDS))
    time.sleep(seconds)


class EchoConsumer(Consumer):
    idempotent = True
    retry_delays = (0.2,)

    def handle(self, event: ReceivedEvent) -> None:
        _pause(event, "before-handling")
        publish_on_commit(ECHO_SUBJECT, {"of": event.id, "delivery": event.deliveries}, dedup_key=f"echo-{event.id}")
        transaction.on_commit(lambda: _pause(event, "after-commit"))
        _pause(event, "in-transaction")


TEST_CONSUMERS: dict[str, tuple[str, type[Consumer]]] = {
    "test-echo": ("estafette.events.test.ping", EchoConsumer),
}


def register_test_consumers() -> None:
    for durable, (subject, cls) in TEST_CONSUMERS.items():
        consumer(subject, durable=durable)(cls)


def unregister_test_consumers() -> None:
    for durable in TEST_CONSUMERS:
        unregister(durable)


register_test_consumers()  # for `manage.py consume --import estafette.queue.tests.consumers_for_tests`
