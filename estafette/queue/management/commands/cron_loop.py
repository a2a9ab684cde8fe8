"""``manage.py cron_loop``: the local stand-in for the cron CronJob — a tick every minute until stopped, through the
outbox (``estafette.queue.cron``): the relay publishes it, also after a nats-server outage."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from estafette.lib.metrics_server import start_metrics_server
from estafette.queue.cron import run_cron_loop


class Command(BaseCommand):
    help = "Queue a cron event (outbox) at the start of every minute until SIGTERM/SIGINT."

    def handle(self, *args: Any, **options: Any) -> None:
        start_metrics_server()  # one per process, whichever worker starts it first
        sent = asyncio.run(self._run())
        self.stdout.write(f"cron loop stopped after {sent} tick(s)")

    async def _run(self) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        self.stdout.write("cron loop: queueing a tick (outbox) at the start of every minute")
        self.stdout.flush()
        return await run_cron_loop(stop)
