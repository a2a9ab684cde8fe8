"""What every intake publishes: its events (``IntakeEvent``) and ``submit``, which publishes them after commit, in one
transaction (the outbox: a lost event is unacceptable here), each under its natural id so that a redelivered request
is the same event.

The view every intake's POST subclasses is ``integrations.intake_view.IntakeView``, kept apart from this module
because the worker process submits events too (a git push read by ``integrations.git.intake``) but serves no
request: it imports no DRF (``estafette/tests/test_idle_imports.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from estafette.lib.db import retry_on_serialization_failure
from estafette.queue import publish_on_commit


@dataclass(frozen=True)
class IntakeEvent:
    """One event an intake publishes: its subject (a trigger kind's, ``triggers.kinds``), its payload (a JSON object)
    and its id, a natural key of what it reports (JetStream drops a redelivered copy with the same id)."""

    subject: str
    payload: Mapping[str, Any]
    id: str


@retry_on_serialization_failure
def submit(events: Sequence[IntakeEvent]) -> list[str]:
    """Publish ``events`` once this transaction commits, all or none; returns their ids, in order."""
    with transaction.atomic():
        for event in events:
            publish_on_commit(event.subject, event.payload, dedup_key=event.id)
    return [event.id for event in events]
