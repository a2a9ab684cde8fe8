"""Helpers for testing consumers without NATS: hand a payload to a consumer as one delivery would.

    outcome = deliver(GitEventConsumer(), {"repository": ..., "branch": "main"}, event_id="push-1")
    assert outcome.verdict is Verdict.ACK

The consumer runs exactly as under ``manage.py consume`` (decode, 40001 retry, idempotency record,
dead letters), only the transport is left out; test it once more through a real nats-server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from estafette.queue.consumer import Consumer, Outcome, RawDelivery, Verdict

__all__ = ["Verdict", "deliver"]


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
