"""``manage.py consume NAME… | --all [--with TASK,…]``: run event consumers until SIGTERM or Ctrl-C (then exit 0).

``--with relay,cron,sweeper`` runs those tasks in the same process (``estafette.queue.process``): ``make run``'s one
worker process, where four processes of ~95 MB each ran before. The Kubernetes chart runs each on its own instead."""

from __future__ import annotations

import asyncio
import logging
import signal
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from estafette.queue.consumer import registered_consumers
from estafette.queue.jetstream import QueueSettings
from estafette.queue.outbox import start_relay_in_process
from estafette.queue.process import registered_tasks, run_process, tasks_named
from estafette.queue.worker import run_consumers

logger = logging.getLogger("estafette.queue.consume")


class Command(BaseCommand):
    help = "Run registered event consumers against NATS JetStream until SIGTERM/SIGINT."
    # No system checks at start: they load the URL configuration, i.e. every view, DRF and drf-spectacular (~20 MB
    # held for the life of a process that serves no request). ``migrate`` (``make run``, the chart's job) and
    # ``manage.py check`` in CI run them.
    requires_system_checks: list[str] = []  # the worker process imports no DRF: test_idle_imports.py

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", help="durable names of the consumers to run (see --list)")
        parser.add_argument("--all", action="store_true", help="run every registered consumer in this process")
        parser.add_argument("--list", action="store_true", help="print the registered consumers and exit")
        parser.add_argument(
            "--with",
            dest="tasks",
            action="append",
            default=[],
            metavar="TASK[,TASK…]",
            help="also run these worker tasks in this process (registered: relay, cron, sweeper)",
        )
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
            for name in registered_tasks():
                self.stdout.write(f"{name}\t(task: --with {name})")
            return
        task_names = [name.strip() for each in options["tasks"] for name in each.split(",") if name.strip()]
        try:
            tasks = tasks_named(task_names)
        except ValueError as error:
            raise CommandError(str(error)) from None
        selected = _selected(options, registry)
        if not selected:
            # Under supervisord a process that exits is started again and again, so wait for the signal instead.
            logger.info("no consumers are registered yet; idling until stopped")
        else:
            logger.info("starting consumers: %s", ", ".join(selected))
        consumers = [registry[name]() for name in selected]
        for each in consumers:
            each.start()
        queue = QueueSettings.from_django()
        if settings.OUTBOX_RELAY_IN_PROCESS and "relay" not in tasks:
            start_relay_in_process(queue)  # events the handlers commit go out at once (--with relay does it too)
        label = f"consume {' '.join(selected) or '-'}"

        async def consume(stop: asyncio.Event) -> None:
            await run_consumers(consumers, queue, stop=stop, name=label)
            logger.info("consumers stopped")

        run_process({"consumers": consume, **tasks})


def _selected(options: dict[str, Any], registry: dict[str, Any]) -> list[str]:
    """The consumers the options name (``--all`` or names), each one registered."""
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
    return list(registry) if options["all"] else names


def _stop_starting(signum: int, frame: object) -> None:
    raise SystemExit(0)
