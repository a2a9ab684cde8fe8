"""``manage.py sweep_audit [--every SECONDS]``: delete audit entries older than ``ESTAFETTE_AUDIT_RETENTION_DAYS``,
once, or once every SECONDS until SIGTERM/SIGINT (a worker process of its own; under ``make run`` the ``worker``
runs it as a task, ``consume --with audit``; the Helm chart runs single passes from a CronJob)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from estafette.access.audit import audit_sweep, audit_sweeper_task
from estafette.queue.process import run_process


class Command(BaseCommand):
    help = (
        "Delete audit entries older than ESTAFETTE_AUDIT_RETENTION_DAYS: one pass, or one every --every seconds "
        "until SIGTERM/SIGINT."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--every",
            type=float,
            nargs="?",
            const=float(settings.AUDIT_SWEEP_INTERVAL_SECONDS),
            help=f"keep sweeping, every SECONDS (default {settings.AUDIT_SWEEP_INTERVAL_SECONDS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = options["every"]
        if every is None:
            deleted = audit_sweep()
            self.stdout.write(f"sweep_audit: deleted {deleted} entries older than {settings.AUDIT_RETENTION_DAYS} days")
            return
        if every <= 0:
            raise CommandError("--every takes a number of seconds above 0, e.g. --every 3600")
        run_process({"audit": audit_sweeper_task(every)})
