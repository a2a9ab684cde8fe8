#!/usr/bin/env python3
"""Time of ``manage.py import_estafette`` for 100 k builds with 1 M log lines (issue 15).

    .venv/bin/python bench/import_estafette.py                     # 100k builds, 10 lines each, both on PostgreSQL
    .venv/bin/python bench/import_estafette.py --builds 10000       # a quicker look
    .venv/bin/python bench/import_estafette.py --database-url postgresql://…   # import into an existing, empty one

Starts a throw-away PostgreSQL (tests/tooling), creates Estafette's schema in one database and fills it with generated
rows (``migrate_from_estafette.testing.FakeEstafette``: 5 pipelines, a release every 5th build, a bot run every 20th,
one log per build and release), migrates a second database (ours), then times the import through the service the
command runs, and a second run (nothing new: every row compared). Prints rows per second and the total time, and the
load average at the start and end: the machine is shared, so the figures are only as quiet as it was.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import use_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", type=int, default=100_000)
    parser.add_argument("--lines-per-log", type=int, default=10)
    parser.add_argument("--pipelines", type=int, default=5)
    parser.add_argument("--database-url", help="import into this (empty) database instead; tables are created")
    args = parser.parse_args()

    server = use_database(database_url=args.database_url, postgres=True, default_url=None)
    if server is None:  # --database-url: the source still needs a server of its own
        from tests.tooling.postgres import PostgresServer

        server = PostgresServer().start()
    try:
        server.psql("CREATE DATABASE estafette_source TEMPLATE template0")
        os.environ.setdefault("ESTAFETTE_SECRET_KEY", "bench-secret-key-not-for-production")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
        import django

        django.setup()
        from django.core.management import call_command

        from migrate_from_estafette.services import estafette_import
        from migrate_from_estafette.source import EstafetteSource
        from migrate_from_estafette.testing import FakeEstafette

        fake = FakeEstafette(
            server.url("estafette_source"),
            pipelines=args.pipelines,
            builds=args.builds,
            lines_per_log=args.lines_per_log,
        )
        started = time.monotonic()
        fake.create_schema()
        fake.fill()
        print(
            f"source: {args.builds} builds with {args.builds * args.lines_per_log} log lines generated in "
            f"{time.monotonic() - started:.0f}s",
            flush=True,
        )
        call_command("migrate", verbosity=0)

        print(f"load average at the start: {os.getloadavg()}", flush=True)
        source = EstafetteSource(fake.url).open()
        try:
            for label in ("first import", "second run (nothing new)"):
                started = time.monotonic()
                report = estafette_import(source=source)
                elapsed = time.monotonic() - started
                rows = sum(counts.total for counts in report.tables.values())
                print(f"{label}: {rows} rows in {elapsed:.1f}s = {rows / elapsed:.0f} rows/s", flush=True)
                for table, counts in report.tables.items():
                    print(
                        f"  {table}: {counts.created} new, {counts.updated} changed, {counts.unchanged} here, "
                        f"{counts.skipped} skipped"
                    )
                lines = args.builds * args.lines_per_log
                if label == "first import":
                    print(f"  build log lines: {lines} = {lines / elapsed:.0f} lines/s over the whole import")
        finally:
            source.close()
        print(f"load average at the end: {os.getloadavg()}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
