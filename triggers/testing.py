"""Helpers for tests of intake, triggers and dispatch: the event chain run without NATS (``settle``), through the
same consumers ``manage.py consume`` runs."""

from __future__ import annotations

from estafette.queue.consumer import Consumer, registered_consumers
from estafette.queue.testing import Outcome, deliver_outbox

# The apps' consumers (not the queue's own test consumers): pushes, trigger matching and firing, job dispatch.
APP_CONSUMERS = ("pipelines-git-push", "triggers-", "jobs-dispatch")


def app_consumers() -> list[Consumer]:
    """One of each consumer of the apps."""
    return [cls() for name, cls in registered_consumers().items() if name.startswith(APP_CONSUMERS)]


def settle() -> list[tuple[str, str, Outcome]]:
    """Run every event the test's changes published through the consumers, until nothing new appears."""
    return deliver_outbox(app_consumers())
