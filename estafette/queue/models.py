"""Tables the queue owns: the outbox, the record of handled events, and dead letters."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class OutboxMessage(models.Model):
    """An event waiting to be published to JetStream (or already published, until pruned).

    Written by ``publish_on_commit`` in the caller's transaction, so the event exists exactly when
    the state change that caused it was committed. The relay claims rows (``claimed_by`` /
    ``claimed_until`` as a lease), publishes them with ``Nats-Msg-Id = dedup_key`` and sets
    ``sent_at``. A relay that dies after publishing leaves its claim to expire; the next relay
    publishes again and JetStream drops the duplicate inside its duplicate window.
    """

    subject = models.CharField(max_length=255)
    # Stored as text, not JSON: the bytes on the wire are exactly the bytes written here (jsonb on
    # PostgreSQL and CockroachDB would reorder keys and reformat numbers).
    payload = models.TextField()
    dedup_key = models.CharField(max_length=200, db_index=True)
    # The request the event came from (estafette.lib.request_ids), published as a header for its consumers.
    request_id = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["id"], name="queue_outbox_unsent", condition=Q(sent_at__isnull=True)),
            models.Index(fields=["sent_at"], name="queue_outbox_sent_at"),
        ]

    def __str__(self) -> str:
        state = "sent" if self.sent_at else "pending"
        return f"{self.subject} {self.dedup_key} ({state})"


class HandledEvent(models.Model):
    """One event one consumer has handled, for consumers declared ``idempotent = True``.

    The row is inserted in the same transaction as the handler's own writes, so the pair commits
    or rolls back together: a redelivered event finds its row and is acknowledged without running
    the handler again. Rows older than the stream's max age are pruned (such events cannot come back).
    """

    consumer = models.CharField(max_length=100)
    event_id = models.CharField(max_length=200)
    handled_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="queue_handled_event_once")]

    def __str__(self) -> str:
        return f"{self.consumer}: {self.event_id}"


class DeadLetter(models.Model):
    """An event a consumer gave up on: undecodable, refused as permanent, or past its max deliveries.

    The message is terminated in JetStream (it is not delivered again); this row keeps what is
    needed to look into it and, once the cause is fixed, to publish it again.
    """

    consumer = models.CharField(max_length=100)
    subject = models.CharField(max_length=255)
    event_id = models.CharField(max_length=200, blank=True, default="")
    stream_sequence = models.BigIntegerField(null=True, blank=True)
    deliveries = models.PositiveIntegerField(default=0)
    payload = models.TextField(blank=True, default="")
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.consumer} {self.subject} {self.event_id}: {self.reason[:80]}"
