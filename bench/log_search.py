#!/usr/bin/env python3
"""Latency of the log search (``GET /api/logs/search``) over many stored lines, and what indexing costs a write.

    .venv/bin/python bench/log_search.py                          # 1M lines, SQLite (FTS5)
    .venv/bin/python bench/log_search.py --postgres               # 1M lines on a throw-away PostgreSQL
    .venv/bin/python bench/log_search.py --postgres --lines 10000000
    .venv/bin/python bench/log_search.py --database-url postgresql://…   # an existing, empty database

Seeds pipelines, failed and succeeded builds, one log record with five steps per build, and ``--lines`` log lines
spread over them: log-like text from a small vocabulary plus a hash per line (as real logs have), so the index holds
many unique words. A rare term is planted in ``--rare`` lines. The lines go in with one INSERT … SELECT per batch (on
PostgreSQL ``generate_series``, on SQLite a recursive CTE), through the same table and index the API writes (the
triggers on SQLite, the generated ``tsvector`` and its GIN index on PostgreSQL) — except that on PostgreSQL the GIN
index is dropped while seeding and built once afterwards, which is what a bulk load does; the time it takes is
printed. Then it requests each query ``--requests`` times in-process through Django's test client (middleware,
authentication, DRF, serializers, database) and prints p50 and p95, and stores ``--appends`` builder batches of 1000
lines through ``runs.services.log_append`` to show the write rate with the index. Target (issue 16): p95 ≤ 100 ms for
a rare term at 10M lines on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import use_database  # noqa: E402

RARE = "zebracornfault"
WORDS = [
    "compiling",
    "downloading",
    "installing",
    "running",
    "test",
    "passed",
    "failed",
    "warning",
    "error",
    "info",
    "debug",
    "connection",
    "refused",
    "timeout",
    "retry",
    "module",
    "package",
    "step",
    "stage",
    "build",
    "docker",
    "image",
    "layer",
    "pulling",
    "pushing",
    "cache",
    "hit",
    "miss",
    "resolving",
    "dependency",
    "version",
    "checking",
    "lint",
    "format",
    "coverage",
    "report",
    "uploaded",
    "artifact",
    "deployed",
    "service",
    "health",
    "ready",
]
PIPELINES = 100
LINES_PER_BUILD = 1000
STEPS = ("git-clone", "build", "test", "lint", "push")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rare", type=int, default=20, help="lines containing the rare term")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL (tests/tooling)")
    parser.add_argument("--database-url", help="use this (empty) database instead; tables are created")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per query")
    parser.add_argument("--appends", type=int, default=20, help="builder batches of 1000 lines stored to time writes")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="leave the database (and server) running")
    return parser.parse_args()


def configure(args: argparse.Namespace) -> Any:
    data_dir = tempfile.mkdtemp(prefix="estafette-bench-")
    os.environ["ESTAFETTE_DATA_DIR"] = data_dir
    Path(data_dir, "static").mkdir()
    os.environ.setdefault("ESTAFETTE_SECRET_KEY", "bench-secret-key")
    os.environ["ESTAFETTE_LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "estafette.settings"
    return use_database(
        database_url=args.database_url, postgres=args.postgres, default_url=f"sqlite:///{data_dir}/bench.db"
    )


def seed_runs(line_count: int) -> list[tuple[int, int, int, list[int]]]:
    """Pipelines, builds, one record per build with its steps: [(pipeline id, build id, record id, step ids)]."""
    from builds.models import Build
    from builds.testing import MANIFEST
    from pipelines.models import Pipeline
    from runs.models import LogRecord, LogStep

    now = datetime.now(UTC)
    pipelines = Pipeline.objects.bulk_create(
        [Pipeline(repo_source="github.com", repo_owner=f"org-{n % 10}", repo_name=f"svc-{n:03d}") for n in range(100)]
    )
    build_count = max(1, line_count // LINES_PER_BUILD)
    builds = Build.objects.bulk_create(
        [
            Build(
                pipeline=pipelines[n % PIPELINES],
                repo_branch="main" if n % 3 else "feature/x",
                repo_revision=f"{n:040x}",
                build_version=f"1.0.{n}",
                counter=n,
                status="failed" if n % 10 == 0 else "succeeded",
                manifest=MANIFEST,
                inserted_at=now - timedelta(minutes=build_count - n),
            )
            for n in range(build_count)
        ],
        batch_size=1000,
    )
    records = LogRecord.objects.bulk_create(
        [LogRecord(pipeline_id=b.pipeline_id, run_kind="build", run_id=b.pk) for b in builds], batch_size=1000
    )
    steps = LogStep.objects.bulk_create(
        [LogStep(record=r, name=name, position=p) for r in records for p, name in enumerate(STEPS)], batch_size=2000
    )
    step_ids: dict[int, list[int]] = {}
    for step in steps:
        step_ids.setdefault(step.record_id, []).append(step.pk)
    return [(b.pipeline_id, b.pk, r.pk, step_ids[r.pk]) for b, r in zip(builds, records, strict=True)]


def seed_lines(runs: list[tuple[int, int, int, list[int]]], line_count: int, rare: int) -> float:
    """The lines, build by build in one INSERT … SELECT each; returns the seconds taken (with the index build)."""
    from django.db import connection, transaction

    from estafette.lib.progress import ProgressBar

    words = ",".join(f"'{word}'" for word in WORDS)
    rare_every = max(1, line_count // rare)
    started = time.perf_counter()
    postgres = connection.vendor != "sqlite"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS runs_logline_search")
    progress = ProgressBar(line_count, label="seeding log lines", stream=sys.stderr)
    per_run = line_count // len(runs)
    for index, (pipeline_id, build_id, record_id, steps) in enumerate(runs):
        first = index * per_run
        # Line g's words: two vocabulary words, a number, a hash; every rare_every-th line has the rare term.
        if postgres:
            sql = f"""
                INSERT INTO runs_logline (record_id, step_id, pipeline_id, run_kind, run_id, line, text, inserted_at)
                SELECT {record_id}, (ARRAY[{",".join(map(str, steps))}])[1 + (g / 200) % 5], {pipeline_id}, 'build',
                       {build_id}, g - {first} + 1,
                       (ARRAY[{words}])[1 + (g * 7) % {len(WORDS)}] || ' '
                       || (ARRAY[{words}])[1 + (g * 13) % {len(WORDS)}]
                       || ' ' || (g % 977)::text || ' sha ' || md5(g::text)
                       || CASE WHEN g % {rare_every} = 0 THEN ' {RARE}' ELSE '' END,
                       now()
                FROM generate_series({first}, {first + per_run - 1}) AS g"""
        else:
            sql = f"""
                WITH RECURSIVE s(g) AS (SELECT {first} UNION ALL SELECT g + 1 FROM s WHERE g < {first + per_run - 1}),
                     w(i, word) AS (VALUES {",".join(f"({i}, '{word}')" for i, word in enumerate(WORDS))})
                INSERT INTO runs_logline (record_id, step_id, pipeline_id, run_kind, run_id, line, text, inserted_at)
                SELECT {record_id}, {steps[0]} + (g / 200) % 5, {pipeline_id}, 'build', {build_id}, g - {first} + 1,
                       (SELECT word FROM w WHERE i = (g * 7) % {len(WORDS)}) || ' '
                       || (SELECT word FROM w WHERE i = (g * 13) % {len(WORDS)}) || ' ' || (g % 977)
                       || ' sha ' || hex(randomblob(16))
                       || CASE WHEN g % {rare_every} = 0 THEN ' {RARE}' ELSE '' END,
                       datetime('now')
                FROM s"""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
        progress.advance(per_run)
    progress.close()
    if postgres:
        index_started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute("CREATE INDEX runs_logline_search ON runs_logline USING GIN (search_vector)")
            cursor.execute("VACUUM ANALYZE runs_logline")
        print(f"GIN index built in {time.perf_counter() - index_started:.1f}s", file=sys.stderr)
    return time.perf_counter() - started


def measure(client: Any, q: str, requests: int) -> dict[str, float]:
    client.get("/api/logs/search", {"q": q})  # warm
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/api/logs/search", {"q": q})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
    hits = len(response.json()["items"])
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "hits_on_page": hits,
    }


def time_appends(runs: list[tuple[int, int, int, list[int]]], batches: int, *, indexed: bool) -> float:
    """Lines a second through ``log_append`` (the builder endpoint's store): with the search's rows and index kept
    current, or (``indexed=False``, the baseline) with their insert switched off for the measurement."""
    from runs.models import LogRecord, LogSearchLine

    record = LogRecord.objects.get(pk=runs[-1][2])
    manager = LogSearchLine.objects
    original = manager.bulk_create
    if not indexed:
        manager.bulk_create = lambda *args, **kwargs: []  # type: ignore[method-assign]
    try:
        return _appends(record, batches, first_seq=2_000_000 if indexed else 3_000_000)
    finally:
        manager.bulk_create = original  # type: ignore[method-assign]


def _appends(record: Any, batches: int, *, first_seq: int) -> float:
    from runs.services import log_append
    from runs.testing import output_line

    started = time.perf_counter()
    for seq in range(first_seq, first_seq + batches):
        lines = [
            output_line("build", f"appended {WORDS[n % len(WORDS)]} line {n} of batch {seq}", n) for n in range(1000)
        ]
        log_append(record=record, seq=seq, lines=lines)
    return batches * 1000 / (time.perf_counter() - started)


def main() -> None:
    args = parse_args()
    server = configure(args)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from estafette.testing import make_user

        call_command("migrate", verbosity=0)
        runs = seed_runs(args.lines)
        seeded = seed_lines(runs, args.lines, args.rare)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM runs_logline")
            stored = cursor.fetchone()[0]
        print(f"{connection.vendor}: {stored} lines in {len(runs)} builds seeded in {seeded:.1f}s", file=sys.stderr)
        client = Client()
        client.force_login(make_user("bench", staff=True))
        queries = {
            "rare term": RARE,
            "rare term + status:failed": f"{RARE} status:failed",
            "rare term + pipeline: + branch:": f"{RARE} pipeline:svc-007 branch:main",
            "phrase (absent)": '"connection refused"',
            "common word": "compiling",
        }
        figures: dict[str, Any] = {"vendor": connection.vendor, "lines": stored, "builds": len(runs)}
        for name, q in queries.items():
            figures[name] = measure(client, q, args.requests)
            print(f"{name:36} p50 {figures[name]['p50_ms']:7.1f} ms  p95 {figures[name]['p95_ms']:7.1f} ms", flush=True)
        figures["append_lines_per_second"] = round(time_appends(runs, args.appends, indexed=True))
        figures["append_lines_per_second_unindexed"] = round(time_appends(runs, args.appends, indexed=False))
        print(
            f"log_append: {figures['append_lines_per_second']} lines/s with the search index, "
            f"{figures['append_lines_per_second_unindexed']} lines/s without"
        )
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        if server is not None and not args.keep:
            server.stop()


if __name__ == "__main__":
    main()
