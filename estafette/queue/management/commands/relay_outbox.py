"""``manage.py relay_outbox``: publish committed outbox rows to JetStream until SIGTERM or Ctrl-C."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from estafette.queue.jetstream import QueueSettings
from estafette.queue.outbox import relay_pending
from estafette.queue.process import relay_task, run_process


class Command(BaseCommand):
    help = "Relay the outbox table to NATS JetStream (run one or more; they share the work safely)."
    # No system checks at start: they load every URL and view (~20 MB held by a process that serves no request).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="publish what is pending now, then exit")
        parser.add_argument("--batch-size", type=int, default=100, help="rows claimed per round (default 100)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            sent = relay_pending(QueueSettings.from_django(), batch_size=options["batch_size"])
            self.stdout.write(f"published {sent} outbox message(s)")
            return
        run_process({"relay": relay_task(batch_size=options["batch_size"])})
