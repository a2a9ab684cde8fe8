"""``manage.py cron_loop``: the local stand-in for the cron CronJob — a tick every minute until stopped, through the
outbox (``estafette.queue.cron``): the relay publishes it, also after a nats-server outage. ``make run`` runs the
loop inside its worker process instead (``consume --with cron``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from estafette.queue.process import cron_task, run_process


class Command(BaseCommand):
    help = "Queue a cron event (outbox) at the start of every minute until SIGTERM/SIGINT."
    # No system checks at start: they load every URL and view (~20 MB held by a process that serves no request).
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        run_process({"cron": cron_task()})
