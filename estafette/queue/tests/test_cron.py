"""The cron sender: one tick per minute, idempotent within the minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.management import CommandError, call_command

from builder.testing import reserve_port
from estafette.queue.cron import cron_event, cron_tick_enqueue, seconds_until_next_minute, send_cron_event
from estafette.queue.jetstream import QueueSettings
from estafette.queue.models import OutboxMessage
from estafette.queue.outbox import relay_pending
from tests.tooling.nats import NatsServer, stream_messages


def test_it_sends_the_utc_time_and_names_the_message_after_the_minute() -> None:
    # given
    in_amsterdam = datetime(2024, 5, 1, 14, 3, 27, 123456, tzinfo=timezone(timedelta(hours=2)))

    # when
    payload, message_id = cron_event(in_amsterdam)

    # then
    assert payload == {"time": "2024-05-01T12:03:27Z"}
    assert message_id == "cron-2024-05-01T12:03Z"


def test_it_waits_for_the_start_of_the_next_minute() -> None:
    assert seconds_until_next_minute(datetime(2024, 5, 1, 12, 3, 45, tzinfo=UTC)) == 15
    assert seconds_until_next_minute(datetime(2024, 5, 1, 12, 3, 0, tzinfo=UTC)) == 60


@pytest.mark.nats
def test_it_publishes_one_tick_per_minute_however_often_it_runs(queue_settings: QueueSettings) -> None:
    # given
    noon = datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)

    # when
    sent = [
        send_cron_event(queue_settings, now=noon),
        send_cron_event(queue_settings, now=noon + timedelta(seconds=40)),  # a retried CronJob, same minute
        send_cron_event(queue_settings, now=noon + timedelta(minutes=1)),
    ]

    # then
    assert sent == [True, False, True]
    assert [(m["subject"], m["id"], m["data"]) for m in stream_messages(queue_settings)] == [
        ("estafette.events.cron", "cron-2024-05-01T12:00Z", {"time": "2024-05-01T12:00:05Z"}),
        ("estafette.events.cron", "cron-2024-05-01T12:01Z", {"time": "2024-05-01T12:01:05Z"}),
    ]


@pytest.mark.nats
def test_the_command_publishes_a_tick_and_refuses_a_time_without_zone(
    queue_settings: QueueSettings, settings, capsys
) -> None:
    # given
    settings.NATS_URL, settings.NATS_USER, settings.NATS_PASSWORD = (
        queue_settings.url,
        queue_settings.user,
        queue_settings.password,
    )

    # when
    call_command("send_cron_event", "--time", "2024-05-01T12:03:00Z")

    # then
    assert capsys.readouterr().out.strip() == "published cron-2024-05-01T12:03Z"
    with pytest.raises(CommandError, match="--time needs a time zone"):
        call_command("send_cron_event", "--time", "2024-05-01T12:03:00")
    with pytest.raises(CommandError, match="--time must be RFC 3339"):
        call_command("send_cron_event", "--time", "noon")


def test_the_command_says_what_to_do_when_nats_is_unreachable(settings) -> None:
    # given: nothing listens on this port
    settings.NATS_URL = f"nats://127.0.0.1:{reserve_port()}"

    # when / then
    with pytest.raises(
        CommandError, match=r"cannot reach NATS at .* start it \(make run does\) or set ESTAFETTE_NATS_URL"
    ):
        call_command("send_cron_event", "--wait", "0.3")


@pytest.mark.nats
@pytest.mark.django_db(transaction=True)
def test_a_tick_taken_while_nats_is_down_is_published_when_it_comes_back(
    nats_server: NatsServer, queue_settings: QueueSettings
) -> None:
    # given nats-server down
    nats_server.stop()
    noon = datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)

    # when the cron loop takes its tick meanwhile (as `manage.py cron_loop` does each minute)
    cron_tick_enqueue(noon)

    # then it waits in the outbox
    (waiting,) = OutboxMessage.objects.filter(sent_at__isnull=True)
    assert (waiting.subject, waiting.dedup_key) == ("estafette.events.cron", "cron-2024-05-01T12:00Z")

    # and when nats-server is back, the relay publishes it: the minute's tick, late, not lost
    nats_server.start()
    assert relay_pending(queue_settings) == 1
    assert [(m["subject"], m["id"], m["data"]) for m in stream_messages(queue_settings)] == [
        ("estafette.events.cron", "cron-2024-05-01T12:00Z", {"time": "2024-05-01T12:00:05Z"}),
    ]
