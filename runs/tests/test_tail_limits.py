"""Live tails are capped per process and per user (each holds a web worker thread): over a cap a stream is refused at
once with 503/429, ``Retry-After`` and the ``{"code", "message"}`` body, and a closed stream gives its slot back.
(A flood of 300 streams against the real gunicorn: tests/security/test_api_limits_streams.py.)"""

import json
from collections.abc import Iterator

import pytest
from django.test import override_settings

from builds.services import build_finish
from builds.testing import make_build
from estafette.testing import client_for, make_user
from runs.models import RunStatus
from runs.tail import TailSlots, TooManyTails, TooManyTailsOfUser, hub, slots
from runs.tests.test_live_tail import API, EventReader
from tests.tooling.waiting import wait_until


def test_it_counts_slots_per_process_and_per_user_and_takes_each_back_once() -> None:
    # given room for 3 tails, 2 per user
    counter = TailSlots()
    take = lambda user: counter.take(user=user, per_process=3, per_user=2)  # noqa: E731
    # when ann opens two and tries a third
    first, _second = take("ann"), take("ann")
    with pytest.raises(TooManyTailsOfUser):
        take("ann")
    # then an anonymous reader still gets the last slot, and after it nobody does
    take(None)
    with pytest.raises(TooManyTails):
        take("bob")
    # and a slot given back (twice, harmlessly) is free once
    first()
    first()
    assert counter.open == 2
    take("ann")
    with pytest.raises(TooManyTails):
        take(None)


@pytest.fixture(autouse=True)
def tails_closed() -> Iterator[None]:
    yield
    wait_until(lambda: hub.open_tails == 0 and slots.open == 0, timeout=15, what="the test's tails to end")


@pytest.mark.django_db(transaction=True)
def test_over_the_process_cap_a_stream_is_a_503_with_retry_after_until_one_closes(live_server) -> None:  # type: ignore[no-untyped-def]
    # given room for two tails per process, both taken by tails of a running build
    session = client_for(make_user()).cookies["sessionid"].value
    cookie = f"sessionid={session}"
    build = make_build(status=RunStatus.RUNNING)
    path = f"{API}/builds/{build.pk}/logs.stream"
    with override_settings(ANONYMOUS_READ=True, LIVE_TAILS_PER_PROCESS=2):
        open_tails = [EventReader(live_server.url, path), EventReader(live_server.url, path, cookie=cookie)]
        try:
            assert [tail.response.status for tail in open_tails] == [200, 200]
            # when a third is opened
            refused = EventReader(live_server.url, path)
            # then it is refused at once, with a reason and when to retry
            assert refused.response.status == 503
            assert refused.response.getheader("Retry-After") == "5"
            body = json.loads(refused.response.read())
            assert body["code"] == "Service Unavailable"
            assert "live log streams open" in body["message"]
            refused.close()
            # and once the build ends (its tails close), a new tail opens again
            build_finish(build=build, status=RunStatus.SUCCEEDED)
            for tail in open_tails:
                tail.thread.join(10)
            wait_until(lambda: slots.open == 0, timeout=10, what="the slots to be given back")
            again = EventReader(live_server.url, path)
            assert again.response.status == 200
            again.thread.join(10)
            again.close()
        finally:
            for tail in open_tails:
                tail.close()


@pytest.mark.django_db(transaction=True)
def test_over_the_user_cap_a_stream_is_a_429(live_server) -> None:  # type: ignore[no-untyped-def]
    # given a member with one tail open, the most one user may have
    session = client_for(make_user()).cookies["sessionid"].value
    cookie = f"sessionid={session}"
    build = make_build(status=RunStatus.RUNNING)
    path = f"{API}/builds/{build.pk}/logs.stream"
    with override_settings(LIVE_TAILS_PER_USER=1):
        first = EventReader(live_server.url, path, cookie=cookie)
        try:
            assert first.response.status == 200
            # when they open a second
            second = EventReader(live_server.url, path, cookie=cookie)
            # then it is refused for them
            assert second.response.status == 429
            assert second.response.getheader("Retry-After") == "5"
            assert json.loads(second.response.read())["code"] == "Too Many Requests"
            second.close()
        finally:
            build_finish(build=build, status=RunStatus.SUCCEEDED)
            first.thread.join(10)
            first.close()


@pytest.mark.django_db
def test_a_tail_whose_client_is_slow_holds_one_read_not_the_log() -> None:
    # given a running build with far more stored batches than one read takes, and a tail of it
    from runs.registry import run_kind
    from runs.reports import log_record_for_attempt
    from runs.services import log_append
    from runs.tail import READ_LIMIT, TailHub
    from runs.testing import output_line

    build = make_build(status=RunStatus.RUNNING)
    record = log_record_for_attempt(kind=run_kind("build"), run=build, attempt_key="a")
    for seq in range(1, 3 * READ_LIMIT + 1):
        log_append(record=record, seq=seq, lines=[output_line("build", f"line {seq}", seq)])
    poller = TailHub()
    subscription = poller.subscribe(kind="build", run_id=build.pk)
    poller.stop()  # its thread is not needed: the test drives the reads
    # when the hub reads several times while the stream takes nothing (its client reads slowly)
    poller.poll_once([subscription])
    one_read = len(subscription.items)
    for _ in range(5):
        poller.poll_once([subscription])
    # then it holds one read's lines, and reads on once the stream has taken them
    assert 0 < one_read <= READ_LIMIT
    assert len(subscription.items) == one_read
    taken = subscription.poll(0).items
    poller.poll_once([subscription])
    lines = [item["logLine"]["line"] for item in taken + subscription.items]
    assert lines == list(range(1, len(lines) + 1))
    assert len(lines) > one_read
