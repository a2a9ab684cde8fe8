"""Helpers for testing consumers without NATS: hand a payload to a consumer as one delivery would.

    outcome = deliver(GitEventConsumer(), {"repository": ..., "branch": "main"}, event_id="push-1")
    assert outcome.verdict is Verdict.ACK

The consumer runs exactly as under ``manage.py consume`` (decode, 40001 retry, idempotency record,
dead letters), only the transport is left out; test it once more through a real nats-server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from estafette.queue.consumer import Consumer, Outcome, RawDelivery, Verdict

__all__ = ["Verdict", "deliver", "deliver_outbox", "subject_matches"]


def deliver(
    consumer: Consumer,
    payload: Mapping[str, Any] | bytes,
    *,
    event_id: str = "test-event-1",
    subject: str | None = None,
    deliveries: int = 1,
    max_deliver: int = 5,
) -> Outcome:
    """Run one delivery of ``payload`` (a JSON object, or raw bytes) through ``consumer``; return its verdict."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    raw = RawDelivery(
        subject=subject or consumer.subject,
        data=data,
        event_id=event_id,
        deliveries=deliveries,
        stream_sequence=None,
        published_at=None,
    )
    return consumer.process(raw, max_deliver=max_deliver)


def subject_matches(filter_subject: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a trailing ``>`` one or more."""
    wanted, got = filter_subject.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(got) > index
        if index >= len(got) or part not in ("*", got[index]):
            return False
    return len(wanted) == len(got)


def deliver_outbox(consumers: Sequence[Consumer], *, max_rounds: int = 20) -> list[tuple[str, str, Outcome]]:
    """Deliver the unsent outbox rows to the consumers whose subjects match, until no new rows appear.

    A stand-in for relay + JetStream in app tests (no NATS): each row is marked sent, then handed to
    every matching consumer once, in row order; rows the handlers write are delivered in the next
    round. Returns ``(durable, event id, outcome)`` per delivery. Test it once more through NATS.
    """
    from django.utils import timezone

    from estafette.queue.models import OutboxMessage

    delivered: list[tuple[str, str, Outcome]] = []
    for _ in range(max_rounds):
        rows = list(OutboxMessage.objects.filter(sent_at__isnull=True).order_by("id"))
        if not rows:
            return delivered
        OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).update(sent_at=timezone.now())
        for row in rows:
            for handler in consumers:
                if subject_matches(handler.subject, row.subject):
                    outcome = deliver(handler, row.payload.encode(), event_id=row.dedup_key, subject=row.subject)
                    delivered.append((handler.durable, row.dedup_key, outcome))
    raise AssertionError(f"the outbox did not settle in {max_rounds} rounds (a trigger loop?)")
