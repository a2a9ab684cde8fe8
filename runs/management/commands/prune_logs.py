"""``manage.py prune_logs --older-than 90d``: delete the logs of runs older than a given age."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Sum
from django.utils import timezone

from estafette.lib.db import atomic_with_retry
from estafette.lib.progress import ProgressBar
from runs.models import LogChunk, LogRecord, LogSearchLine, LogStep

AGE = re.compile(r"^(\d+)([hdw])$")
UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_age(raw: str) -> timedelta:
    """``12h``, ``90d`` or ``8w``; raises ``CommandError`` saying how to write it otherwise."""
    match = AGE.match(raw.strip())
    if match is None or int(match.group(1)) == 0:
        raise CommandError(f"--older-than takes a positive age such as 12h, 90d or 8w, got {raw!r}")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@atomic_with_retry
def delete_records(record_ids: list[int]) -> int:
    """Delete records with their steps and chunks in one transaction; returns the lines removed."""
    lines = LogChunk.objects.filter(record_id__in=record_ids).aggregate(total=Sum("line_count"))["total"] or 0
    # Children first: chunks and the log search's lines reference steps without a database constraint, steps
    # reference records. Deleting the lines unindexes them (each database's index follows its table).
    LogSearchLine.objects.filter(record_id__in=record_ids).delete()
    LogChunk.objects.filter(record_id__in=record_ids).delete()
    LogStep.objects.filter(record_id__in=record_ids).delete()
    LogRecord.objects.filter(pk__in=record_ids).delete()
    return int(lines)


class Command(BaseCommand):
    help = "Delete build, release and bot logs older than --older-than (e.g. 90d). Runs themselves are kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="age such as 12h, 90d or 8w")
        parser.add_argument("--batch-size", type=int, default=500, help="log records deleted per transaction")
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    def handle(self, *args: Any, **options: Any) -> None:
        age = parse_age(options["older_than"])
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be 1 or more")
        cutoff = timezone.now() - age
        old = LogRecord.objects.filter(inserted_at__lt=cutoff)
        total = old.count()
        if options["dry_run"]:
            self.stdout.write(
                f"would prune {total} log records older than {options['older_than']} "
                f"(before {cutoff:%Y-%m-%d %H:%M} UTC)"
            )
            return
        progress = ProgressBar(total, label="pruning logs", stream=self.stderr)
        records = lines = 0
        while True:
            batch = list(old.order_by("inserted_at", "pk").values_list("pk", flat=True)[: options["batch_size"]])
            if not batch:
                break
            lines += delete_records(batch)
            records += len(batch)
            progress.advance(len(batch))
        progress.close()
        self.stdout.write(
            f"pruned {records} log records ({lines} lines) older than {options['older_than']} "
            f"in {progress.elapsed:.1f}s"
        )
