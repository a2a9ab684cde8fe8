"""The consumer base class without NATS: what each delivery turns into (ack, retry, terminate)."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from django.db import OperationalError

from estafette.queue.consumer import (
    Consumer,
    Outcome,
    PermanentError,
    RawDelivery,
    ReceivedEvent,
    Verdict,
    consumer,
    registered_consumers,
    unregister,
)
from estafette.queue.models import DeadLetter, HandledEvent


def delivery(payload: object = None, *, data: bytes | None = None, deliveries: int = 1, event_id: str = "ev-1"):
    return RawDelivery(
        subject="estafette.events.git",
        data=data if data is not None else json.dumps(payload).encode(),
        event_id=event_id,
        deliveries=deliveries,
        stream_sequence=7,
        published_at=None,
    )


class Recording(Consumer):
    durable = "recording"
    subject = "estafette.events.git"
    seen: ClassVar[list[ReceivedEvent]]
    failures: ClassVar[list[Exception]]

    def __init__(self, *failures: Exception) -> None:
        self.seen = []
        self.failures = list(failures)

    def handle(self, event: ReceivedEvent) -> None:
        self.seen.append(event)
        if self.failures:
            raise self.failures.pop(0)


class SerializationFailure(OperationalError):
    pgcode = "40001"


@pytest.mark.django_db
def test_it_hands_the_decoded_event_to_the_handler_and_acks() -> None:
    # given
    recording = Recording()

    # when
    outcome = recording.process(delivery({"branch": "main"}), max_deliver=3)

    # then
    assert outcome == Outcome(Verdict.ACK)
    assert recording.seen == [
        ReceivedEvent(id="ev-1", subject="estafette.events.git", payload={"branch": "main"}, stream_sequence=7)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe not utf-8", "undecodable event: not UTF-8 JSON (UnicodeDecodeError"),
        (b"{not json", "undecodable event: not UTF-8 JSON (JSONDecodeError"),
        (b"[1, 2]", "undecodable event: the payload is a JSON list, not an object"),
    ],
)
def test_it_terminates_an_undecodable_event_and_records_a_dead_letter(data: bytes, reason: str) -> None:
    # given
    recording = Recording()

    # when
    outcome = recording.process(delivery(data=data), max_deliver=3)

    # then
    assert outcome.verdict is Verdict.TERMINATE
    assert recording.seen == []
    letter = DeadLetter.objects.get()
    assert letter.reason.startswith(reason)
    assert (letter.consumer, letter.event_id, letter.stream_sequence) == ("recording", "ev-1", 7)


@pytest.mark.django_db
def test_it_retries_a_failed_event_later_with_a_growing_delay() -> None:
    # given
    recording = Recording(RuntimeError("database briefly away"), RuntimeError("still away"))
    recording.retry_delays = (1.0, 5.0)

    # when
    first = recording.process(delivery({}, deliveries=1), max_deliver=5)
    second = recording.process(delivery({}, deliveries=2), max_deliver=5)

    # then
    assert (first, second) == (Outcome(Verdict.RETRY, 1.0), Outcome(Verdict.RETRY, 5.0))
    assert recording.retry_delay(9) == 5.0
    assert not DeadLetter.objects.exists()


@pytest.mark.django_db
def test_it_gives_up_on_the_last_delivery_and_records_why() -> None:
    # given
    recording = Recording(RuntimeError("pipeline lookup failed"))

    # when
    outcome = recording.process(delivery({}, deliveries=3), max_deliver=3)

    # then
    assert outcome.verdict is Verdict.TERMINATE
    letter = DeadLetter.objects.get()
    assert letter.reason == "failed 3 times, last: RuntimeError: pipeline lookup failed"
    assert letter.deliveries == 3
    assert json.loads(letter.payload) == {}


@pytest.mark.django_db
def test_it_terminates_a_permanent_error_on_the_first_delivery() -> None:
    # given
    recording = Recording(PermanentError("release target staging does not exist"))

    # when
    outcome = recording.process(delivery({}), max_deliver=5)

    # then
    assert outcome.verdict is Verdict.TERMINATE
    assert DeadLetter.objects.get().reason == "permanent error: release target staging does not exist"


@pytest.mark.django_db(transaction=True)  # the 40001 retry only runs outside a transaction
def test_it_retries_a_handler_that_lost_a_serialization_conflict_within_the_same_delivery() -> None:
    # given
    recording = Recording(SerializationFailure("could not serialize access"))

    # when
    outcome = recording.process(delivery({}), max_deliver=3)

    # then
    assert outcome.verdict is Verdict.ACK
    assert len(recording.seen) == 2


class IdempotentRecording(Recording):
    durable = "idempotent-recording"
    idempotent = True


@pytest.mark.django_db
def test_an_idempotent_consumer_runs_its_handler_once_per_event_id() -> None:
    # given
    recording = IdempotentRecording()

    # when: the same event arrives twice (a redelivery), then another event
    outcomes = [
        recording.process(delivery({}, event_id="ev-1"), max_deliver=3),
        recording.process(delivery({}, event_id="ev-1", deliveries=2), max_deliver=3),
        recording.process(delivery({}, event_id="ev-2"), max_deliver=3),
    ]

    # then
    assert [o.verdict for o in outcomes] == [Verdict.ACK] * 3
    assert [e.id for e in recording.seen] == ["ev-1", "ev-2"]
    assert set(HandledEvent.objects.values_list("consumer", "event_id")) == {
        ("idempotent-recording", "ev-1"),
        ("idempotent-recording", "ev-2"),
    }


class KeyedOnPrepared(IdempotentRecording):
    """Idempotent on what ``prepare`` finds (as the push consumer keys on the resolved commit)."""

    durable = "keyed-on-prepared"

    def prepare(self, event: ReceivedEvent) -> str:
        return str(event.payload["commit"])

    def handled_key(self, event: ReceivedEvent) -> str:
        return f"commit-{event.prepared}"


@pytest.mark.django_db
def test_an_idempotent_consumer_may_key_on_what_it_prepared() -> None:
    # given
    recording = KeyedOnPrepared()

    # when: two events with different ids name the same commit, a third another one
    for event_id, commit in (("ev-1", "abc"), ("ev-2", "abc"), ("ev-3", "def")):
        assert recording.process(delivery({"commit": commit}, event_id=event_id), max_deliver=3).verdict is Verdict.ACK

    # then the handler ran once per commit
    assert [e.id for e in recording.seen] == ["ev-1", "ev-3"]
    assert sorted(HandledEvent.objects.values_list("event_id", flat=True)) == ["commit-abc", "commit-def"]


@pytest.mark.django_db
def test_an_idempotent_consumer_forgets_an_event_whose_handler_failed() -> None:
    # given
    recording = IdempotentRecording(RuntimeError("boom"))

    # when
    failed = recording.process(delivery({}), max_deliver=3)
    retried = recording.process(delivery({}, deliveries=2), max_deliver=3)

    # then: the failed attempt's record rolled back with it, so the retry ran the handler
    assert (failed.verdict, retried.verdict) == (Verdict.RETRY, Verdict.ACK)
    assert len(recording.seen) == 2
    assert HandledEvent.objects.count() == 1


def test_the_registry_refuses_subjects_outside_the_stream_bad_names_and_duplicates() -> None:
    with pytest.raises(ValueError, match="not inside the stream"):
        consumer("git.push", durable="x")
    with pytest.raises(ValueError, match="durable name"):
        consumer("estafette.events.git", durable="has space")

    @consumer("estafette.events.git", durable="registry-test")
    class First(Consumer):
        pass

    try:
        with pytest.raises(ValueError, match="already registered"):

            @consumer("estafette.events.git", durable="registry-test")
            class Second(Consumer):
                pass

        assert registered_consumers()["registry-test"] is First
        assert (First.subject, First.durable) == ("estafette.events.git", "registry-test")
    finally:
        unregister("registry-test")


@pytest.mark.django_db
def test_deliver_runs_a_consumer_as_one_delivery_would() -> None:
    from estafette.queue.testing import deliver

    # given
    recording = IdempotentRecording()

    # when
    outcomes = [deliver(recording, {"n": 1}, event_id="e"), deliver(recording, {"n": 1}, event_id="e", deliveries=2)]

    # then
    assert [o.verdict for o in outcomes] == [Verdict.ACK, Verdict.ACK]
    assert [(e.id, e.subject, e.payload) for e in recording.seen] == [("e", "estafette.events.git", {"n": 1})]
