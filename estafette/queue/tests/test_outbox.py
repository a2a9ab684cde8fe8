"""The outbox: written in the caller's transaction, relayed exactly once even when the relay dies."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from estafette.queue.jetstream import QueueSettings
from estafette.queue.models import HandledEvent, OutboxMessage
from estafette.queue.outbox import (
    claim_batch,
    mark_sent,
    prune,
    publish_on_commit,
    register_claimant,
    relay_pending,
)
from tests.tooling.nats import NatsServer, stream_messages, subprocess_env
from tests.tooling.waiting import wait_until

pytestmark = pytest.mark.nats


@pytest.mark.django_db
def test_it_writes_nothing_when_the_callers_transaction_rolls_back() -> None:
    # given / when
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_on_commit("estafette.events.git", {"repository": "r"})
        raise RuntimeError("the caller's change failed")

    # then
    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_it_refuses_subjects_outside_the_stream_and_payloads_that_are_not_objects() -> None:
    with pytest.raises(ValueError, match=r"event subjects look like estafette\.events\.<kind>"):
        publish_on_commit("git.push", {})
    with pytest.raises(ValueError, match=r"estafette\.events\.<kind>"):
        publish_on_commit("estafette.events.*", {})
    with pytest.raises(ValueError, match="JSON object, got list"):
        publish_on_commit("estafette.events.git", [1, 2])  # type: ignore[arg-type]
    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_it_publishes_committed_rows_once_with_their_dedup_key_as_message_id(queue_settings: QueueSettings) -> None:
    # given
    with transaction.atomic():
        publish_on_commit("estafette.events.git", {"revision": "a1"}, dedup_key="push-1")
        publish_on_commit("estafette.events.cron", {"time": "2024-05-01T12:00:00Z"})

    # when
    first = relay_pending(queue_settings)
    second = relay_pending(queue_settings)

    # then
    assert (first, second) == (2, 0)
    messages = stream_messages(queue_settings)
    assert [(m["subject"], m["data"]) for m in messages] == [
        ("estafette.events.git", {"revision": "a1"}),
        ("estafette.events.cron", {"time": "2024-05-01T12:00:00Z"}),
    ]
    assert messages[0]["id"] == "push-1"
    assert messages[1]["id"].startswith("outbox-")
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_it_does_not_double_an_event_that_a_dead_relay_had_published_but_not_marked(
    queue_settings: QueueSettings,
) -> None:
    # given: a relay claimed and published the row, then died before marking it sent
    publish_on_commit("estafette.events.git", {"revision": "b2"}, dedup_key="push-2")
    relay_pending(queue_settings)
    OutboxMessage.objects.update(sent_at=None, claimed_by="dead-relay", claimed_until=timezone.now() - timedelta(1))

    # when: its lease has run out and another relay takes the row
    republished = relay_pending(queue_settings)

    # then
    assert republished == 1
    assert [m["id"] for m in stream_messages(queue_settings)] == ["push-2"]
    assert OutboxMessage.objects.get().sent_at is not None


@pytest.mark.django_db(transaction=True)
def test_it_leaves_rows_claimed_by_a_live_relay_alone() -> None:
    # given
    publish_on_commit("estafette.events.git", {"n": 1})
    publish_on_commit("estafette.events.git", {"n": 2})

    # when
    mine = claim_batch(token="relay-a", limit=1, lease_seconds=30)
    theirs = claim_batch(token="relay-b", limit=10, lease_seconds=30)
    nothing_left = claim_batch(token="relay-c", limit=10, lease_seconds=30)

    # then
    assert [m.payload for m in mine] == ['{"n":1}']
    assert [m.payload for m in theirs] == ['{"n":2}']
    assert nothing_left == []
    assert mark_sent(token="relay-c", ids=[mine[0].id]) == 0  # not its claim
    assert mark_sent(token="relay-a", ids=[mine[0].id]) == 1


@pytest.mark.django_db(transaction=True)
def test_racing_relays_claim_disjoint_rows() -> None:
    # given
    for n in range(60):
        publish_on_commit("estafette.events.git", {"n": n})
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(3)

    def relay(token: str) -> None:
        from django.db import connection

        barrier.wait()
        ids: list[int] = []
        while batch := claim_batch(token=token, limit=5, lease_seconds=30):
            ids += [m.id for m in batch]
        claimed[token] = ids
        connection.close()

    # when
    threads = [threading.Thread(target=relay, args=(f"relay-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # then: every row claimed exactly once
    everything = [row_id for ids in claimed.values() for row_id in ids]
    assert len(claimed) == 3
    assert sorted(everything) == sorted(OutboxMessage.objects.values_list("id", flat=True))
    assert len(set(everything)) == 60


@pytest.mark.django_db(transaction=True)
def test_it_prunes_sent_rows_and_handled_events_past_their_retention() -> None:
    # given
    old = publish_on_commit("estafette.events.git", {"n": "old"})
    recent = publish_on_commit("estafette.events.git", {"n": "recent"})
    unsent = publish_on_commit("estafette.events.git", {"n": "unsent"})
    OutboxMessage.objects.filter(id=old.id).update(sent_at=timezone.now() - timedelta(days=2))
    OutboxMessage.objects.filter(id=recent.id).update(sent_at=timezone.now())
    HandledEvent.objects.create(consumer="c", event_id="old")
    HandledEvent.objects.update(handled_at=timezone.now() - timedelta(days=30))
    HandledEvent.objects.create(consumer="c", event_id="new")

    # when
    deleted = prune(outbox_retention_seconds=86400, handled_retention_seconds=7 * 86400)

    # then
    assert deleted == 2
    assert set(OutboxMessage.objects.values_list("id", flat=True)) == {recent.id, unsent.id}
    assert list(HandledEvent.objects.values_list("event_id", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_no_event_is_lost_or_doubled_when_the_relay_is_killed_between_publish_and_mark(
    queue_settings: QueueSettings, tmp_path: Path
) -> None:
    """SIGKILL a relay process after it published a batch and before it marked it; a new relay finishes the job."""
    # given: 12 committed events, and a relay process that stops right after publishing its first batch
    for n in range(12):
        publish_on_commit("estafette.events.git", {"n": n}, dedup_key=f"push-{n}")
    signal_file = tmp_path / "published"
    relay = subprocess.Popen(
        [sys.executable, "-m", "estafette.queue.tests.crashing_relay", str(signal_file), "5"],
        cwd=settings.BASE_DIR,
        env=subprocess_env(queue_settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: signal_file.exists() or relay.poll() is not None, timeout=60, what="the first batch")
        assert relay.poll() is None, relay.stdout.read().decode() if relay.stdout else ""

        # when: it dies mid-way
        relay.send_signal(signal.SIGKILL)
        relay.wait(10)
    finally:
        if relay.poll() is None:
            relay.kill()
    assert len(stream_messages(queue_settings)) == 5
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 12
    # ... and a new relay runs once the dead one's lease has run out
    wait_until(
        lambda: not OutboxMessage.objects.filter(claimed_until__gt=timezone.now()).exists(),
        timeout=10,
        what="the dead relay's lease to expire",
    )
    relay_pending(queue_settings)

    # then: each event is in the stream exactly once, and every row is marked sent
    ids = [m["id"] for m in stream_messages(queue_settings)]
    assert sorted(ids) == sorted(f"push-{n}" for n in range(12))
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_nothing_committed_is_lost_while_nats_is_down(queue_settings: QueueSettings, nats_server: NatsServer) -> None:
    """Commit while the server is down; the relay keeps the rows and publishes them once it is back."""
    from estafette.queue.outbox import OutboxRelay
    from tests.tooling.nats import BackgroundLoop

    # given: a running relay, and the server going away
    relay = OutboxRelay(queue_settings, batch_size=10)
    running = BackgroundLoop(relay.run, name="relay").start()
    try:
        publish_on_commit("estafette.events.git", {"n": "before"}, dedup_key="before")
        wait_until(lambda: relay.published == 1, what="the first event to be published")
        nats_server.kill()

        # when: events are committed while it is down, then it comes back
        for n in range(5):
            publish_on_commit("estafette.events.git", {"n": n}, dedup_key=f"down-{n}")
        nats_server.start()

        # then
        wait_until(
            lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(),
            timeout=30,
            what="the relay to catch up",
        )
    finally:
        running.stop()
    ids = sorted(m["id"] for m in stream_messages(queue_settings))
    assert ids == sorted(["before", *(f"down-{n}" for n in range(5))])


@pytest.mark.django_db(transaction=True)
def test_an_in_process_relay_publishes_right_after_commit(queue_settings: QueueSettings) -> None:
    from estafette.queue.outbox import start_relay_in_process, stop_relay_in_process

    # given: an in-process relay (it polls only every 5 s, so only the commit can wake it sooner)
    relay = start_relay_in_process(queue_settings)
    try:
        assert start_relay_in_process(queue_settings) is relay
        wait_until(relay.accepting, timeout=10, what="the relay to connect")  # connected and idle

        # when
        committed_at = time.monotonic()
        with transaction.atomic():
            publish_on_commit("estafette.events.git", {"n": 1}, dedup_key="fast-1")

        # then
        wait_until(lambda: relay.published == 1, timeout=4, what="the commit to wake the relay")
        assert time.monotonic() - committed_at < 2
    finally:
        stop_relay_in_process()
    assert [m["id"] for m in stream_messages(queue_settings)] == ["fast-1"]


class HandingClaimant:
    """Stands in for this process's relay: notes what is handed to it."""

    token = "in-process-relay"
    lease_seconds = 30.0

    def __init__(self) -> None:
        self.handed: list[OutboxMessage] = []

    def accepting(self) -> bool:
        return True

    def hand(self, message: OutboxMessage) -> None:
        self.handed.append(message)


@pytest.mark.django_db(transaction=True)
def test_a_process_with_its_own_relay_writes_rows_claimed_by_it_and_hands_them_over_on_commit() -> None:
    # given this process's relay
    claimant = HandingClaimant()
    unregister = register_claimant(claimant)
    try:
        # when one transaction commits and another rolls back
        with transaction.atomic():
            publish_on_commit("estafette.events.git", {"n": 1}, dedup_key="kept")
            assert claimant.handed == []  # not before the commit
        with pytest.raises(RuntimeError), transaction.atomic():
            publish_on_commit("estafette.events.git", {"n": 2}, dedup_key="rolled-back")
            raise RuntimeError("rollback")
    finally:
        unregister()

    # then the committed row was handed over, claimed by that relay: no other relay takes it while the lease lasts
    assert [message.dedup_key for message in claimant.handed] == ["kept"]
    row = OutboxMessage.objects.get()
    assert (row.claimed_by, row.attempts) == ("in-process-relay", 1)
    assert row.claimed_until is not None and row.claimed_until > timezone.now() + timedelta(seconds=20)
    assert claim_batch(token="another-relay", limit=10, lease_seconds=30) == []
    # and once it is unregistered, rows are written unclaimed again
    publish_on_commit("estafette.events.git", {"n": 3}, dedup_key="later")
    assert OutboxMessage.objects.get(dedup_key="later").claimed_by == ""


@pytest.mark.django_db(transaction=True)
def test_an_idle_relay_polls_less_often_and_still_publishes_a_row_nobody_handed_to_it(
    queue_settings: QueueSettings,
) -> None:
    from dataclasses import replace

    from estafette.queue.outbox import OutboxRelay

    class CountingRelay(OutboxRelay):
        polls = 0

        async def relay_once(self, js: object) -> int:
            self.polls += 1
            return await super().relay_once(js)

    # given a relay polling every 20 ms, and an empty outbox for 2 s
    relay = CountingRelay(replace(queue_settings, outbox_poll_interval_seconds=0.02))
    stop = relay.start_in_thread()
    try:
        time.sleep(2.0)

        # then it backed off: at a fixed 20 ms it would have polled about 100 times
        assert relay.polls < 20

        # when another process's row (not handed over, unclaimed) appears
        written_at = time.monotonic()
        OutboxMessage.objects.create(subject="estafette.events.cron", payload='{"n": 1}', dedup_key="foreign-1")

        # then the next poll, at most a second later, publishes it
        wait_until(lambda: relay.published == 1, timeout=5, what="the relay to find the row")
        assert time.monotonic() - written_at < 1.5
    finally:
        stop()
    assert [m["id"] for m in stream_messages(queue_settings)] == ["foreign-1"]


@pytest.mark.django_db(transaction=True)
def test_a_row_larger_than_the_servers_max_payload_goes_to_a_dead_letter_and_the_rows_behind_it_flow(
    queue_settings: QueueSettings, caplog: pytest.LogCaptureFixture
) -> None:
    from estafette.queue.models import DeadLetter
    from estafette.queue.outbox import OUTBOX_RELAY

    # given a row over nats-server's default max_payload (1 MiB) between two that fit; batches of one row, so the
    # oversized row is a whole batch (before, it was given back and retried first, forever, holding back the rest)
    huge = {"payload": "x" * (1024 * 1024 + 1)}
    with transaction.atomic():
        publish_on_commit("estafette.events.cron", {"n": 1}, dedup_key="before")
        publish_on_commit("estafette.events.github", huge, dedup_key="github-huge")
        publish_on_commit("estafette.events.cron", {"n": 2}, dedup_key="after")

    # when
    with caplog.at_level("ERROR", logger="estafette.queue.outbox"):
        relayed = relay_pending(queue_settings, batch_size=1)

    # then the two that fit are in the stream in order, the huge one is a dead letter with its payload, none waits
    assert relayed == 3  # handled: two published, one dead-lettered
    assert [m["id"] for m in stream_messages(queue_settings)] == ["before", "after"]
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    letter = DeadLetter.objects.get()
    assert (letter.consumer, letter.event_id) == (OUTBOX_RELAY, "github-huge")
    assert letter.subject == "estafette.events.github"
    assert letter.payload == json.dumps(huge, separators=(",", ":"))
    assert "max_payload" in letter.reason
    logged = [record.getMessage() for record in caplog.records]
    assert any("github-huge" in line and "dead letter" in line for line in logged)
    # and a second pass has nothing left to do
    assert relay_pending(queue_settings) == 0


@pytest.mark.django_db(transaction=True)
def test_an_in_process_relay_sets_an_oversized_row_aside_and_publishes_the_ones_committed_with_it(
    queue_settings: QueueSettings,
) -> None:
    from estafette.queue.models import DeadLetter
    from estafette.queue.outbox import start_relay_in_process, stop_relay_in_process

    # given an in-process relay, handed rows as they commit
    relay = start_relay_in_process(queue_settings)
    try:
        wait_until(relay.accepting, timeout=10, what="the relay to connect")

        # when one transaction writes a row over the server's max_payload between two that fit
        with transaction.atomic():
            publish_on_commit("estafette.events.cron", {"n": 1}, dedup_key="handed-before")
            publish_on_commit("estafette.events.github", {"payload": "x" * (2 * 1024 * 1024)}, dedup_key="handed-huge")
            publish_on_commit("estafette.events.cron", {"n": 2}, dedup_key="handed-after")

        # then the two that fit are published, the huge one is a dead letter, and nothing waits in the outbox
        wait_until(lambda: relay.published == 2, timeout=10, what="the rows around the oversized one")
    finally:
        stop_relay_in_process()
    assert [m["id"] for m in stream_messages(queue_settings)] == ["handed-before", "handed-after"]
    assert list(DeadLetter.objects.values_list("event_id", flat=True)) == ["handed-huge"]
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
