"""``manage.py send_cron_event``: publish one cron tick ``{"time": <UTC now>}`` (idempotent per minute)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from estafette.queue.cron import cron_event, send_cron_event
from estafette.queue.jetstream import QueueSettings


class Command(BaseCommand):
    help = "Publish one cron event to NATS JetStream (run every minute by a Kubernetes CronJob)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--time", help="the tick's time instead of now (RFC 3339, e.g. 2024-05-01T12:03:00Z)")
        parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for NATS (default 5)")

    def handle(self, *args: Any, **options: Any) -> None:
        now = datetime.now(UTC)
        if options["time"]:
            try:
                now = datetime.fromisoformat(options["time"].replace("Z", "+00:00"))
            except ValueError:
                raise CommandError(
                    f"--time must be RFC 3339, e.g. 2024-05-01T12:03:00Z, got {options['time']!r}"
                ) from None
            if now.tzinfo is None:
                raise CommandError("--time needs a time zone, e.g. a trailing Z for UTC")
        try:
            fresh = send_cron_event(QueueSettings.from_django(), now=now, wait_seconds=options["wait"])
        except ConnectionError as error:
            raise CommandError(str(error)) from None
        message_id = cron_event(now)[1]
        self.stdout.write(f"published {message_id}" if fresh else f"{message_id} was already published")
