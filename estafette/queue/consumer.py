"""Consumers: a base class that owns the edges of handling one event, and the registry.

An app declares a consumer in ``<app>/consumers.py``::

    @consumer(subjects.event_subject("git"), durable="pipelines-git-push")
    class GitEventConsumer(Consumer):
        idempotent = True

        def handle(self, event: ReceivedEvent) -> None:
            pipeline_fire_git_triggers(event=GitEvent.from_dict(event.payload), event_id=event.id)

``handle`` is sync, only calls services, and must be idempotent: JetStream delivers at least once.
Everything else is the base class's job, in small steps that return a verdict (``process``): decode
(bad bytes → terminate + dead letter), ``close_old_connections()``, ``handle`` under the 40001
retry, then acknowledge; a failure is retried later (nak with delay) until the last delivery, which
terminates the message and records a dead letter. The asyncio side (fetching, acking) is in
``estafette.queue.worker``; nothing else bridges async and sync.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from django.db import IntegrityError, close_old_connections, connections, transaction
from django.utils.module_loading import autodiscover_modules

from estafette.lib import request_ids
from estafette.lib.db import retry_on_serialization_failure
from estafette.queue import subjects

logger = logging.getLogger(__name__)


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help (the event refers to something that can never exist).

    The event is terminated and recorded as a dead letter on its first delivery. The message must
    not contain secrets: it is stored and logged.
    """


@dataclass(frozen=True)
class ReceivedEvent:
    """One delivery of an event.

    ``id`` is the publisher's ``Nats-Msg-Id`` (the outbox ``dedup_key``), or ``<stream>-<sequence>``
    for a message published without one; use it as the idempotency key. ``deliveries`` counts this
    delivery (1 the first time).
    """

    id: str
    subject: str
    payload: Mapping[str, Any]
    deliveries: int = 1
    stream_sequence: int | None = None
    published_at: datetime | None = None
    prepared: Any = None  # what the consumer's ``prepare`` returned for this delivery


class Verdict(enum.Enum):
    ACK = "ack"
    RETRY = "retry"  # nak with delay: delivered again later
    TERMINATE = "terminate"  # term: never delivered again (a dead letter was recorded)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    delay_seconds: float = 0.0


class Consumer:
    """Base class of every consumer; subclasses set ``subject``/``durable`` through ``@consumer`` and define ``handle``.

    Class options: ``idempotent = True`` runs ``handle`` in one transaction with a ``HandledEvent``
    row keyed on (durable, event id), so a redelivered event is acknowledged without running the
    handler again (its database writes and the record commit together); ``max_deliver`` (default
    ``ESTAFETTE_NATS_MAX_DELIVER``), ``ack_wait_seconds`` (default ``ESTAFETTE_NATS_ACK_WAIT_SECONDS``),
    ``retry_delays`` (nak delay by delivery number, the last one repeating), ``batch_size``.
    """

    subject: ClassVar[str] = ""
    durable: ClassVar[str] = ""
    idempotent: ClassVar[bool] = False
    max_deliver: ClassVar[int | None] = None
    ack_wait_seconds: ClassVar[float | None] = None
    retry_delays: ClassVar[tuple[float, ...]] = (1.0, 5.0, 30.0, 120.0)
    batch_size: ClassVar[int] = 10

    def start(self) -> None:
        """Called once by ``manage.py consume`` before the first fetch: warm up what the first event would
        otherwise wait for. By default nothing."""

    def handle(self, event: ReceivedEvent) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define handle(event)")

    def handled_key(self, event: ReceivedEvent) -> str:
        """The key an ``idempotent`` consumer records a handled event under: the event id. A consumer whose
        natural key is known only after ``prepare`` (e.g. a push's resolved commit) overrides this; it is then
        called with ``event.prepared`` set, and a redelivery runs ``prepare`` again to find the key."""
        return event.id

    def prepare(self, event: ReceivedEvent) -> Any:
        """Slow reads for ``handle`` (git, HTTP), run before its transaction; ``handle`` finds the result
        in ``event.prepared``. Runs on every delivery, must not write to the database, may raise like
        ``handle``. By default nothing is prepared."""
        return None

    # --- the steps, run on the consumer's worker thread --------------------------------------------

    def process(self, raw: RawDelivery, *, max_deliver: int) -> Outcome:
        """Decode and handle one delivery; say what to tell JetStream. Never raises."""
        event, raw = decode(raw)
        if event is None:
            return self._give_up(raw, reason=f"undecodable event: {raw.decode_error}")
        # Every log line of the handling, and what it publishes or starts, carries the request the event came from.
        with request_ids.bound(raw.request_id or event.id):
            return self._process_event(event, raw, max_deliver=max_deliver)

    def _process_event(self, event: ReceivedEvent, raw: RawDelivery, *, max_deliver: int) -> Outcome:
        close_stale_connections()
        try:
            self._handle(event)
        except PermanentError as error:
            return self._give_up(raw, reason=f"permanent error: {error}")
        except Exception as error:  # any handler failure is retried, then dead-lettered
            if event.deliveries >= max_deliver:
                logger.exception(
                    "%s: event %s failed on its last delivery (%d)", self.durable, event.id, event.deliveries
                )
                return self._give_up(
                    raw, reason=f"failed {event.deliveries} times, last: {type(error).__name__}: {error}"
                )
            delay = self.retry_delay(event.deliveries)
            logger.warning(
                "%s: event %s failed (delivery %d of %d), retrying in %.0fs: %s: %s",
                *(self.durable, event.id, event.deliveries, max_deliver, delay, type(error).__name__, error),
            )
            return Outcome(Verdict.RETRY, delay)
        finally:
            close_stale_connections()
        return Outcome(Verdict.ACK)

    def retry_delay(self, deliveries: int) -> float:
        delays = self.retry_delays or (1.0,)
        return delays[min(deliveries, len(delays)) - 1]

    def _handle(self, event: ReceivedEvent) -> None:
        # Outside the transaction: on SQLite its first write takes the database's write lock. A
        # redelivery of a handled event needs nothing prepared (the handler will not run), unless the
        # key it was handled under comes from what is prepared.
        keyed_on_id = type(self).handled_key is Consumer.handled_key
        if type(self).prepare is not Consumer.prepare and not (
            self.idempotent and keyed_on_id and _already_handled(self.durable, event.id)
        ):
            event = replace(event, prepared=self.prepare(event))
        if not self.idempotent:
            retry_on_serialization_failure(self.handle)(event)
            return

        key = self.handled_key(event)

        @retry_on_serialization_failure
        def once() -> None:
            from estafette.queue.models import HandledEvent

            try:
                with transaction.atomic():
                    # Inserted first: a concurrent second delivery blocks on (or conflicts with) this row.
                    HandledEvent.objects.create(consumer=self.durable, event_id=key)
                    self.handle(event)
            except IntegrityError:
                if not _already_handled(self.durable, key):
                    raise
                logger.info("%s: event %s (%s) was handled before; acknowledging it again", self.durable, event.id, key)

        once()

    def _give_up(self, raw: RawDelivery, *, reason: str) -> Outcome:
        """Terminate the message after recording it; if the record cannot be written, retry instead."""
        try:
            record_dead_letter(consumer=self.durable, raw=raw, reason=reason)
        except Exception:  # without the record, giving up would lose the event silently
            logger.exception("%s: cannot record dead letter for %s; retrying it", self.durable, raw.event_id)
            return Outcome(Verdict.RETRY, self.retry_delays[-1] if self.retry_delays else 30.0)
        logger.error("%s: gave up on event %s on %s: %s", self.durable, raw.event_id, raw.subject, reason)
        return Outcome(Verdict.TERMINATE)


def close_stale_connections() -> None:
    """``close_old_connections()``, as Django does around a request: drop connections that broke or aged out.

    Skipped inside an open transaction (a caller's, or a test's): closing would end it under their feet.
    """
    if not any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        close_old_connections()


def _already_handled(durable: str, event_id: str) -> bool:
    from estafette.queue.models import HandledEvent

    return HandledEvent.objects.filter(consumer=durable, event_id=event_id).exists()


@dataclass(frozen=True)
class RawDelivery:
    """What arrived, before decoding; kept for dead letters."""

    subject: str
    data: bytes
    event_id: str
    deliveries: int
    stream_sequence: int | None
    published_at: datetime | None
    decode_error: str = ""
    request_id: str = ""  # the X-Request-ID header: the request the event came from


def decode(raw: RawDelivery) -> tuple[ReceivedEvent | None, RawDelivery]:
    """Parse the JSON object payload; on failure return ``None`` and the reason inside ``raw``."""
    try:
        payload = json.loads(raw.data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return None, _with_error(raw, f"not UTF-8 JSON ({type(error).__name__}: {error})")
    if not isinstance(payload, dict):
        return None, _with_error(raw, f"the payload is a JSON {type(payload).__name__}, not an object")
    event = ReceivedEvent(
        id=raw.event_id,
        subject=raw.subject,
        payload=payload,
        deliveries=raw.deliveries,
        stream_sequence=raw.stream_sequence,
        published_at=raw.published_at,
    )
    return event, raw


def _with_error(raw: RawDelivery, error: str) -> RawDelivery:
    return replace(raw, decode_error=error)


@retry_on_serialization_failure
def record_dead_letter(*, consumer: str, raw: RawDelivery, reason: str) -> None:
    from estafette.queue.models import DeadLetter

    DeadLetter.objects.create(
        consumer=consumer,
        subject=raw.subject,
        event_id=raw.event_id[:200],
        stream_sequence=raw.stream_sequence,
        deliveries=raw.deliveries,
        payload=_storable(raw.data.decode("utf-8", errors="backslashreplace")),
        reason=_storable(reason),
    )


def _storable(text: str) -> str:
    # PostgreSQL and CockroachDB text cannot hold NUL; keep it visible as an escape instead.
    return text.replace("\x00", "\\x00")


# --- the registry -----------------------------------------------------------------------------------

_registry: dict[str, type[Consumer]] = {}

C = TypeVar("C", bound=type[Consumer])


def consumer(subject: str, *, durable: str) -> Callable[[C], C]:
    """Register a ``Consumer`` subclass for ``subject`` (a subject or filter inside the stream) as ``durable``.

    ``durable`` names the JetStream durable consumer and the ``manage.py consume NAME`` argument; it is
    unique. Raises ``ValueError`` for a subject outside the stream, a bad name or a duplicate.
    """
    if not subjects.is_event_filter(subject):
        raise ValueError(f"consumer subject {subject!r} is not inside the stream ({subjects.PREFIX}.>)")
    if not durable or not all(ch.isalnum() or ch in "-_" for ch in durable) or len(durable) > 100:
        raise ValueError(f"durable name {durable!r} must be 1-100 letters, digits, '-' or '_'")

    def register(cls: C) -> C:
        if not issubclass(cls, Consumer):
            raise TypeError(f"{cls.__name__} must subclass estafette.queue.Consumer")
        existing = _registry.get(durable)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(
                f"durable {durable!r} is already registered by {existing.__module__}.{existing.__qualname__}"
            )
        cls.subject = subject
        cls.durable = durable
        _registry[durable] = cls
        return cls

    return register


def registered_consumers() -> dict[str, type[Consumer]]:
    """All consumers of the installed apps (imports each app's ``consumers`` module), by durable name."""
    autodiscover_modules("consumers")
    return dict(sorted(_registry.items()))


def unregister(durable: str) -> None:
    """Forget a consumer (for tests that register their own)."""
    _registry.pop(durable, None)
