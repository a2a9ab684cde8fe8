"""``manage.py import_estafette <url>``: import an Estafette database (PostgreSQL or CockroachDB) into this one."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from migrate_from_estafette.services import BATCH_SIZE, LOG_BATCH_SIZE, estafette_import
from migrate_from_estafette.source import EstafetteSource, SourceError


class _Bar:
    """The import's progress as one rich bar per table."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def start(self, table: str, total: int) -> None:
        self.task = self.progress.add_task(table, total=total)

    def advance(self, rows: int) -> None:
        self.progress.advance(self.task, rows)


class Command(BaseCommand):
    help = (
        "Import an Estafette database (its pipelines, builds, releases, bot runs, their logs and build counters), "
        "keeping ids, versions and secrets. Read-only on the source; run it again to bring the import up to date."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="postgresql://user:password@host:port/database of Estafette (CockroachDB too)")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="rows read and written at a time")
        parser.add_argument("--log-batch-size", type=int, default=LOG_BATCH_SIZE, help="log rows at a time")

    def handle(self, *args: Any, url: str, batch_size: int, log_batch_size: int, **options: Any) -> None:
        started = time.monotonic()
        source = EstafetteSource(url)
        try:
            source.open()
            columns = (
                TextColumn("{task.description:<20}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, disable=options["verbosity"] == 0) as progress:
                report = estafette_import(
                    source=source, progress=_Bar(progress), batch_size=batch_size, log_batch_size=log_batch_size
                )
        except SourceError as error:
            raise CommandError(str(error)) from None
        except DatabaseError as error:
            raise CommandError(
                f"writing to this installation's database failed: {str(error).strip().splitlines()[0]}; what was "
                "imported before is kept: once the database answers again (check ESTAFETTE_DATABASE_URL, its disk and "
                "its connections), run the same command again to carry on"
            ) from None
        except KeyboardInterrupt:
            raise CommandError(
                "interrupted: what was imported is kept; run the same command again to carry on where it stopped"
            ) from None
        finally:
            source.close()
        for table, counts in report.tables.items():
            self.stdout.write(
                f"{table}: {counts.created} new, {counts.updated} changed, {counts.unchanged} already here"
                + (f", {counts.skipped} skipped" if counts.skipped else "")
            )
        for note in report.notes:
            self.stdout.write(self.style.WARNING(note))
        new = sum(counts.created + counts.updated for counts in report.tables.values())
        here = sum(counts.unchanged for counts in report.tables.values())
        if here and new:
            self.stdout.write(
                f"carried on from an earlier run: {here} rows were already here and were left as they are"
            )
        elif here:
            self.stdout.write("nothing new since the last run: everything was already here")
        self.stdout.write(self.style.SUCCESS(f"imported in {time.monotonic() - started:.1f}s"))
