"""``manage.py consume`` as a process: graceful SIGTERM, and SIGKILL in the middle of an event."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from builder.testing import reserve_port
from estafette.queue.jetstream import QueueSettings
from estafette.queue.models import HandledEvent, OutboxMessage
from estafette.queue.tests.consumers_for_tests import ECHO_SUBJECT
from estafette.queue.tests.test_consuming import consumer_state, publish
from tests.tooling.nats import subprocess_env
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

TEST_CONSUMERS = "estafette.queue.tests.consumers_for_tests"


class ConsumeProcess:
    def __init__(self, queue: QueueSettings, log: Path) -> None:
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "consume", "test-echo", "--import", TEST_CONSUMERS],
                cwd=settings.BASE_DIR,
                env=subprocess_env(queue),
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_consuming(self) -> None:
        wait_until(lambda: "test-echo: consuming" in self.output() or self.process.poll() is not None, timeout=60)
        assert self.process.poll() is None, self.output()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[ConsumeProcess]]:
    started: list[ConsumeProcess] = []
    yield started
    for process in started:
        process.stop()


def start_consumer(queue: QueueSettings, tmp_path: Path, processes: list[ConsumeProcess]) -> ConsumeProcess:
    process = ConsumeProcess(queue, tmp_path / f"consume-{len(processes)}.log")
    processes.append(process)
    process.wait_consuming()
    return process


def send_ping(queue: QueueSettings, event_id: str, **payload: object) -> None:
    # Straight to NATS, not through the outbox: on SQLite a handler paused inside its transaction holds
    # the database's write lock, which the relay would wait for.
    publish(queue, "estafette.events.test.ping", payload, message_id=event_id)


def echoes() -> list[dict[str, object]]:
    return [json.loads(p) for p in OutboxMessage.objects.filter(subject=ECHO_SUBJECT).values_list("payload", flat=True)]


def test_it_finishes_the_event_in_hand_and_exits_0_on_sigterm(
    queue_settings: QueueSettings, tmp_path: Path, processes: list[ConsumeProcess]
) -> None:
    # given: a consumer in the middle of a 1.5 s event
    consumer = start_consumer(queue_settings, tmp_path, processes)
    send_ping(queue_settings, "ping-1", pause="in-transaction", pause_seconds=1.5, signal_dir=str(tmp_path))
    wait_until((tmp_path / "ping-1.paused").exists, what="the handler to start")

    # when
    consumer.process.send_signal(signal.SIGTERM)
    send_ping(queue_settings, "ping-2")  # arrives while it is stopping
    returncode = consumer.process.wait(30)

    # then: the first event was handled and acked, the second was left for the next consumer
    assert returncode == 0, consumer.output()
    assert echoes() == [{"of": "ping-1", "delivery": 1}]
    assert consumer_state(queue_settings, "test-echo") == {
        "ack_pending": 0,
        "pending": 1,
        "redelivered": 0,
        "deliveries": 1,
    }
    assert "received SIGTERM: finishing the events in hand" in consumer.output()


@pytest.mark.parametrize(
    ("killed", "effect_from_delivery"),
    [
        ("in-transaction", 2),  # its writes rolled back; the redelivery does the work
        ("after-commit", 1),  # its writes committed but the ack never went out; the redelivery only acks
    ],
)
def test_an_event_whose_consumer_is_killed_mid_message_is_handled_exactly_once(
    queue_settings: QueueSettings,
    tmp_path: Path,
    processes: list[ConsumeProcess],
    killed: str,
    effect_from_delivery: int,
) -> None:
    # given: a consumer paused in the middle of an event
    first = start_consumer(queue_settings, tmp_path, processes)
    send_ping(queue_settings, "ping-1", pause=killed, signal_dir=str(tmp_path))
    wait_until((tmp_path / "ping-1.paused").exists, what="the handler to pause")

    # when: it is killed, and another consumer takes over
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    start_consumer(queue_settings, tmp_path, processes)

    # then
    wait_until(
        lambda: consumer_state(queue_settings, "test-echo")["ack_pending"] == 0,
        timeout=30,
        what="the redelivery to be acked",
    )
    assert consumer_state(queue_settings, "test-echo") == {
        "ack_pending": 0,
        "pending": 0,
        "redelivered": 0,
        "deliveries": 2,
    }
    assert echoes() == [{"of": "ping-1", "delivery": effect_from_delivery}]
    assert list(HandledEvent.objects.values_list("consumer", "event_id")) == [("test-echo", "ping-1")]


def test_it_names_the_registered_consumers_when_asked_for_an_unknown_one() -> None:
    with pytest.raises(CommandError, match="unknown consumer nope; registered: "):
        call_command("consume", "nope")
    with pytest.raises(CommandError, match="name the consumers to run, or use --all"):
        call_command("consume")
    with pytest.raises(CommandError, match=r"cannot import no\.such\.module"):
        call_command("consume", "--all", "--import", "no.such.module")


# Not cron_loop: it never waits for NATS, its ticks go through the outbox (test_cron.py, and the test below).
@pytest.mark.parametrize(
    "command", [["consume", "--all"], ["relay_outbox"], ["consume", "--all", "--with", "relay,cron,sweeper"]]
)
def test_a_worker_waiting_for_nats_stops_at_once_on_sigterm(
    queue_settings: QueueSettings, tmp_path: Path, command: list[str]
) -> None:
    # given: a worker started before its NATS server (nothing listens there)
    from dataclasses import replace

    nowhere = replace(queue_settings, url=f"nats://127.0.0.1:{reserve_port()}")
    log = tmp_path / "worker.log"
    with open(log, "wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", *command],
            cwd=settings.BASE_DIR,
            env=subprocess_env(nowhere),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "Connect call failed" in log.read_text(), timeout=60, what="the worker to wait for NATS")

        # when
        worker.send_signal(signal.SIGTERM)

        # then
        assert worker.wait(10) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()


def test_the_cron_loop_runs_without_nats_and_stops_at_once_on_sigterm(
    queue_settings: QueueSettings, tmp_path: Path
) -> None:
    # given the cron loop started with no NATS server where it points (it queues its ticks in the outbox)
    from dataclasses import replace

    nowhere = replace(queue_settings, url=f"nats://127.0.0.1:{reserve_port()}")
    log = tmp_path / "cron.log"
    with open(log, "wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "cron_loop"],
            cwd=settings.BASE_DIR,
            env=subprocess_env(nowhere),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "cron loop: queueing" in log.read_text(), timeout=60, what="the cron loop to start")
        # when
        worker.send_signal(signal.SIGTERM)
        # then
        assert worker.wait(10) == 0, log.read_text()
        assert "Connect call failed" not in log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
