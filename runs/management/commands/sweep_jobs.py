"""``manage.py sweep_jobs [--every SECONDS]``: fail runs whose builder died, end stuck cancels, remove old jobs."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections
from django.utils import timezone

from estafette.lib.metrics_server import start_metrics_server
from runs.sweeper import ApiWatch, jobs_sweep


class Command(BaseCommand):
    help = (
        "One pass of the job sweeper (runs/sweeper.py), or one every --every seconds until SIGTERM/SIGINT: "
        "runs whose builder died fail with a log line saying why, jobs of finished runs are removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--every",
            type=float,
            nargs="?",
            const=float(settings.JOB_SWEEP_INTERVAL_SECONDS),
            help=f"keep sweeping, every SECONDS (default {settings.JOB_SWEEP_INTERVAL_SECONDS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = options["every"]
        if every is None:
            now = timezone.now()
            result = jobs_sweep(now=now, api_up_since=ApiWatch.from_settings().probe(now=now))
            self.stdout.write(f"sweep: {result.summary()}")
            for line in result.errors:
                self.stderr.write(f"  {line}")
            return
        if every <= 0:
            raise CommandError("--every takes a number of seconds above 0, e.g. --every 5")
        self._loop(every)

    def _loop(self, every: float) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        start_metrics_server()  # the chart's PodMonitor scrapes it (ESTAFETTE_METRICS_PORT)
        self.stdout.write(f"job sweeper: a pass every {every:g} s until stopped")
        self.stdout.flush()
        passes = 0
        api = ApiWatch.from_settings()
        while not stop.is_set():
            started = time.monotonic()
            close_old_connections()
            try:
                now = timezone.now()
                result = jobs_sweep(now=now, api_up_since=api.probe(now=now))
            except Exception as error:  # noqa: BLE001 — a database outage must not end the loop; the next pass retries
                self.stderr.write(f"sweep failed ({type(error).__name__}: {error}); retrying in {every:g} s")
                close_old_connections()
            else:
                passes += 1
                if result:
                    self.stdout.write(f"sweep: {result.summary()}")
                    self.stdout.flush()
            stop.wait(max(0.0, every - (time.monotonic() - started)))
        self.stdout.write(f"job sweeper stopped after {passes} pass(es)")
