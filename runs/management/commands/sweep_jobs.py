"""``manage.py sweep_jobs [--every SECONDS]``: fail runs whose builder died, end stuck cancels, remove old jobs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from estafette.queue.process import run_process
from runs.sweeper import ApiWatch, jobs_sweep, sweeper_task


class Command(BaseCommand):
    help = (
        "One pass of the job sweeper (runs/sweeper.py), or one every --every seconds until SIGTERM/SIGINT: "
        "runs whose builder died fail with a log line saying why, jobs of finished runs are removed."
    )
    # No system checks at start: they load every URL and view (~20 MB held by a process that serves no request).
    requires_system_checks: list[str] = []

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
        run_process({"sweeper": sweeper_task(every)})
