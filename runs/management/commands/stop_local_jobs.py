"""``manage.py stop_local_jobs [--grace SECONDS]``: stop the builder processes the local job runner started.

``make run`` (``scripts/run.sh``) runs it after Ctrl-C, once every server process has stopped: local jobs run in
sessions of their own, so that a consumer restart does not end them, and would otherwise outlive the system.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from estafette.jobs.local import LocalProcessJobRunner

DEFAULT_GRACE_SECONDS = 10.0  # the builder gives stages 8 s between SIGTERM and SIGKILL


class Command(BaseCommand):
    help = (
        "Stop every running local builder job: SIGTERM, then SIGKILL after --grace seconds (or at a second "
        "Ctrl-C). Their runs are failed by the job sweeper once the system runs again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace",
            type=float,
            default=DEFAULT_GRACE_SECONDS,
            help=f"seconds between SIGTERM and SIGKILL (default {DEFAULT_GRACE_SECONDS:g})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        grace: float = options["grace"]
        if grace < 0:
            raise CommandError("--grace takes a number of seconds, 0 or more")
        if settings.JOB_RUNNER != "local":
            self.stdout.write(f"ESTAFETTE_JOB_RUNNER is {settings.JOB_RUNNER}: no local jobs to stop")
            return
        runner = LocalProcessJobRunner(jobs_dir=settings.DATA_DIR / "jobs")
        running = runner.running_jobs()
        if not running:
            return
        self.stdout.write(
            f"stopping {len(running)} running job(s): {', '.join(running)} — SIGTERM now, SIGKILL in {grace:g} s "
            "(press Ctrl-C again to kill them now)"
        )
        self.stdout.flush()
        hurry = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            hurry.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        stopped = runner.stop_all(grace_seconds=grace, hurry=hurry)
        left = runner.running_jobs()
        self.stdout.write(
            f"stopped {len(stopped)} job(s); the job sweeper fails their runs (no heartbeat) when the system runs again"
        )
        if left:
            raise CommandError(f"still running after SIGKILL: {', '.join(left)}; look at them with ps")
