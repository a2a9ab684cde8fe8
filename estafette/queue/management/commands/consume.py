"""``manage.py consume NAME… | --all``: run event consumers until SIGTERM or Ctrl-C (then exit 0)."""

from __future__ import annotations

import asyncio
import logging
import signal
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from estafette.lib.metrics_server import start_metrics_server
from estafette.queue.consumer import registered_consumers
from estafette.queue.jetstream import QueueSettings
from estafette.queue.outbox import start_relay_in_process
from estafette.queue.worker import run_consumers

logger = logging.getLogger("estafette.queue.consume")


class Command(BaseCommand):
    help = "Run registered event consumers against NATS JetStream until SIGTERM/SIGINT."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", help="durable names of the consumers to run (see --list)")
        parser.add_argument("--all", action="store_true", help="run every registered consumer in this process")
        parser.add_argument("--list", action="store_true", help="print the registered consumers and exit")
        parser.add_argument(
            "--import",
            dest="modules",
            action="append",
            default=[],
            metavar="MODULE",
            help="import MODULE first, for consumers outside the apps' consumers modules (tests, plug-ins)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Until the workers handle signals themselves (``run_consumers``), SIGTERM ends start-up with 0 as well.
        signal.signal(signal.SIGTERM, _stop_starting)
        for module in options["modules"]:
            try:
                import_module(module)
            except ImportError as error:
                raise CommandError(f"cannot import {module}: {error}") from None
        registry = registered_consumers()
        if options["list"]:
            for name, cls in registry.items():
                self.stdout.write(f"{name}\t{cls.subject}\t{cls.__module__}.{cls.__qualname__}")
            return
        names: list[str] = options["names"]
        if options["all"] and names:
            raise CommandError("give consumer names or --all, not both")
        if not options["all"] and not names:
            known = ", ".join(registry) or "none registered yet"
            raise CommandError(f"name the consumers to run, or use --all (registered: {known})")
        unknown = [name for name in names if name not in registry]
        if unknown:
            known = ", ".join(registry) or "none"
            raise CommandError(f"unknown consumer {', '.join(unknown)}; registered: {known}")
        selected = list(registry) if options["all"] else names
        if not selected:
            # Under supervisord a process that exits is started again and again, so wait for the signal instead.
            logger.info("no consumers are registered yet; idling until stopped")
        else:
            logger.info("starting consumers: %s", ", ".join(selected))
        start_metrics_server()  # the chart's PodMonitor scrapes it (ESTAFETTE_METRICS_PORT)
        consumers = [registry[name]() for name in selected]
        for each in consumers:
            each.start()
        queue = QueueSettings.from_django()
        if settings.OUTBOX_RELAY_IN_PROCESS:
            start_relay_in_process(queue)  # events the handlers commit go out at once
        asyncio.run(run_consumers(consumers, queue, handle_signals=True, name=f"consume {' '.join(selected) or '-'}"))
        logger.info("consumers stopped")


def _stop_starting(signum: int, frame: object) -> None:
    raise SystemExit(0)
