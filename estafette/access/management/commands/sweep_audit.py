"""``manage.py sweep_audit [--every SECONDS]``: delete audit entries older than ``ESTAFETTE_AUDIT_RETENTION_DAYS``,
once, or once every SECONDS until SIGTERM/SIGINT (the Procfile's ``audit`` process; the Helm chart runs single passes
from a CronJob instead)."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from estafette.access.audit import audit_sweep


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
            self._report(audit_sweep())
            return
        if every <= 0:
            raise CommandError("--every takes a number of seconds above 0, e.g. --every 3600")
        self._loop(every)

    def _report(self, deleted: int) -> None:
        self.stdout.write(f"sweep_audit: deleted {deleted} entries older than {settings.AUDIT_RETENTION_DAYS} days")
        self.stdout.flush()

    def _loop(self, every: float) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.stdout.write(f"audit sweeper: a pass every {every:g} s until stopped")
        self.stdout.flush()
        passes = 0
        while not stop.is_set():
            started = time.monotonic()
            close_old_connections()
            try:
                deleted = audit_sweep()
            except Exception as error:  # noqa: BLE001 — a database outage must not end the loop; the next pass retries
                self.stderr.write(f"sweep_audit failed ({type(error).__name__}: {error}); retrying in {every:g} s")
                close_old_connections()
            else:
                passes += 1
                if deleted:
                    self._report(deleted)
            stop.wait(max(0.0, every - (time.monotonic() - started)))
        self.stdout.write(f"audit sweeper stopped after {passes} pass(es)")
