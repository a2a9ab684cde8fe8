"""The live-tail poller's housekeeping, without a database: abandoned tails are forgotten, failures back off."""

import logging
import time

import pytest

from runs.tail import Subscription, TailHub
from tests.tooling.waiting import wait_until


class RecordingHub(TailHub):
    """A hub whose poll notes when it ran and fails while ``failing`` is set (the database is not involved)."""

    def __init__(self, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.polled_at: list[float] = []
        self.failing = False

    def poll_once(self, subscriptions: list[Subscription]) -> None:
        self.polled_at.append(time.monotonic())
        if self.failing:
            raise RuntimeError("database unavailable")


def test_it_forgets_a_tail_whose_stream_stopped_polling_and_keeps_one_that_polls() -> None:
    # given
    hub = RecordingHub(tick=0.01, abandoned_after=0.3)
    abandoned = hub.subscribe(kind="build", run_id=1)
    alive = hub.subscribe(kind="build", run_id=2)
    try:
        # when: only one stream keeps polling its subscription
        deadline = time.monotonic() + 0.8
        while time.monotonic() < deadline:
            alive.poll(0)
            time.sleep(0.05)

        # then
        assert hub.open_tails == 1
        assert abandoned.last_polled < alive.last_polled
        hub.unsubscribe(alive)
        wait_until(lambda: hub._thread is None, timeout=5, what="the poller to end with no tail left")
    finally:
        hub.stop()


def test_it_backs_off_while_polls_fail_logs_the_failure_once_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    # given
    hub = RecordingHub(tick=0.01)
    hub.failing = True
    subscription = hub.subscribe(kind="build", run_id=1)
    try:
        with caplog.at_level(logging.INFO, logger="runs.tail"):
            # when
            wait_until(lambda: len(hub.polled_at) >= 6, timeout=10, what="six failed polls")
            subscription.poll(0)
            hub.failing = False
            failed_polls = len(hub.polled_at)
            wait_until(lambda: len(hub.polled_at) >= failed_polls + 2, timeout=10, what="polls after recovery")

        # then: the pauses grew, one traceback for the whole streak, one line when it recovered
        pauses = [later - earlier for earlier, later in zip(hub.polled_at[:5], hub.polled_at[1:6], strict=True)]
        assert pauses[-1] > 4 * pauses[0]
        messages = [record.getMessage() for record in caplog.records]
        assert sum("poller failed" in message for message in messages) == 1
        assert any("recovered after" in message for message in messages)
    finally:
        hub.stop()


def test_stop_ends_the_poller_and_forgets_every_tail() -> None:
    # given
    hub = RecordingHub(tick=0.01)
    hub.subscribe(kind="build", run_id=1)
    thread = hub._thread
    assert thread is not None

    # when
    hub.stop()

    # then
    assert not thread.is_alive()
    assert hub.open_tails == 0
