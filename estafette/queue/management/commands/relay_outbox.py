"""``manage.py relay_outbox``: publish committed outbox rows to JetStream until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from estafette.lib.metrics_server import start_metrics_server
from estafette.queue.jetstream import QueueSettings
from estafette.queue.outbox import OutboxRelay, relay_pending


class Command(BaseCommand):
    help = "Relay the outbox table to NATS JetStream (run one or more; they share the work safely)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="publish what is pending now, then exit")
        parser.add_argument("--batch-size", type=int, default=100, help="rows claimed per round (default 100)")

    def handle(self, *args: Any, **options: Any) -> None:
        queue = QueueSettings.from_django()
        if options["once"]:
            sent = relay_pending(queue, batch_size=options["batch_size"])
            self.stdout.write(f"published {sent} outbox message(s)")
            return
        start_metrics_server()  # the chart's PodMonitor scrapes it (ESTAFETTE_METRICS_PORT)
        asyncio.run(self._run(OutboxRelay(queue, batch_size=options["batch_size"])))

    async def _run(self, relay: OutboxRelay) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await relay.run(stop)
        self.stdout.write(f"relay stopped after publishing {relay.published} message(s)")
