#!/usr/bin/env python3
"""Latency of the list endpoints on a seeded database, next to a trivial DRF endpoint.

    .venv/bin/python bench/api_lists.py                      # 1k pipelines / 100k builds, SQLite
    .venv/bin/python bench/api_lists.py --postgres           # the same on a throw-away PostgreSQL
    .venv/bin/python bench/api_lists.py --large              # 10k / 1M on a throw-away PostgreSQL
    .venv/bin/python bench/api_lists.py --database-url postgresql://…   # an existing, empty database

    # seed once, then measure again (after a code change) without seeding: --keep, then --reuse
    .venv/bin/python bench/api_lists.py --large --keep --json large.json
    .venv/bin/python bench/api_lists.py --database-url postgresql://… --reuse --rounds 5
    # the 2x target: a default-size run's figures next to a large run's
    .venv/bin/python bench/api_lists.py --postgres --rounds 5 --json default.json
    .venv/bin/python bench/api_lists.py --large --rounds 5 --compare default.json

Seeds pipelines, builds (with a release for every tenth build) with bulk_create, refreshes every
pipeline's read model through the real service, then requests each endpoint in-process through
Django's test client (full middleware, authentication, DRF, serializers, database) and prints p50 and
p95 per endpoint and the ratio of its p95 to the trivial endpoint's. ``--json FILE`` keeps the figures.
``--rounds N`` measures every endpoint N times, round-robin (so a burst of load on a shared machine hits
one round, not one endpoint), and prints the median over the rounds. ``--compare FILE`` adds each
p95's ratio to the same endpoint's p95 in an earlier ``--json`` file (a run at the default size).
Target (issue 2): at 10k/1M, p95 ≤ 50 ms per page and no worse than 2x the 100k figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import use_database  # noqa: E402

STATUSES = ["succeeded"] * 90 + ["failed"] * 7 + ["running"] * 2 + ["pending"]
BRANCHES = ["master"] * 6 + ["develop", "feature/login", "feature/search", "fix/typo"]
TEAMS = [f"team-{n}" for n in range(20)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--builds", type=int, default=100_000)
    parser.add_argument("--large", action="store_true", help="10k pipelines / 1M builds on a throw-away PostgreSQL")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL (tests/tooling)")
    parser.add_argument("--database-url", help="use this (empty) database instead; tables are created")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="leave the seeded database (and server) running")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --database-url: measure the data a --keep run left there instead of seeding (migrates first)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="measure every endpoint this many times; medians")
    parser.add_argument("--compare", type=Path, help="a --json file of another run: print each p95's ratio to it")
    args = parser.parse_args()
    if args.reuse and not args.database_url:
        parser.error("--reuse needs --database-url (the URL a --keep run printed)")
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    if args.large:
        args.pipelines, args.builds, args.postgres = 10_000, 1_000_000, True
    return args


def configure(args: argparse.Namespace) -> Any:
    """Point the settings at the benchmark database before Django loads them; returns a server to stop."""
    data_dir = tempfile.mkdtemp(prefix="estafette-bench-")
    os.environ["ESTAFETTE_DATA_DIR"] = data_dir
    Path(data_dir, "static").mkdir()  # whitenoise warns about a missing static root otherwise
    os.environ.setdefault("ESTAFETTE_SECRET_KEY", "bench-secret-key")
    os.environ["ESTAFETTE_ANONYMOUS_READ"] = "true"
    os.environ["ESTAFETTE_LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "estafette.settings"
    server = use_database(
        database_url=args.database_url, postgres=args.postgres, default_url=f"sqlite:///{data_dir}/bench.db"
    )
    return server


def install_trivial_endpoint() -> None:
    """The baseline: a DRF view that touches nothing, routed beside the real API."""
    from django.conf import settings
    from django.urls import clear_url_caches, include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class PingApi(APIView):
        def get(self, request: Any) -> Response:
            return Response({"pong": True})

    urls = types.ModuleType("bench_urls")
    urls.urlpatterns = [path("bench/ping", PingApi.as_view()), path("", include("estafette.urls"))]
    sys.modules["bench_urls"] = urls
    settings.ROOT_URLCONF = "bench_urls"
    clear_url_caches()


def seed(pipeline_count: int, build_count: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from builds.models import Build
    from builds.testing import MANIFEST
    from estafette.lib.progress import ProgressBar
    from pipelines.models import Pipeline
    from pipelines.services import pipeline_refresh_read_model
    from releases.models import Release
    from runs.manifests import parse_manifest

    rng = random.Random(42)
    now = datetime.now(UTC)
    parsed = parse_manifest(MANIFEST, pipeline_full_name="github.com/acme/api")
    pipelines = Pipeline.objects.bulk_create(
        [
            Pipeline(repo_source="github.com", repo_owner=f"org-{n % 50}", repo_name=f"service-{n:05d}")
            for n in range(pipeline_count)
        ],
        batch_size=2000,
    )
    per_pipeline = build_count // pipeline_count
    progress = ProgressBar(build_count, label="seeding builds", stream=sys.stderr)
    batch: list[Build] = []
    releases: list[tuple[int, int]] = []  # (pipeline index, build index) of builds that get a release
    for index, pipeline in enumerate(pipelines):
        labels = [
            {"key": "language", "value": rng.choice(["go", "python", "node"])},
            {"key": "team", "value": TEAMS[index % len(TEAMS)]},
        ]
        for counter in range(1, per_pipeline + 1):
            inserted = now - timedelta(days=365) * (1 - counter / per_pipeline) - timedelta(seconds=index)
            status = rng.choice(STATUSES)
            batch.append(
                Build(
                    pipeline=pipeline,
                    repo_branch=rng.choice(BRANCHES),
                    repo_revision=f"{rng.getrandbits(160):040x}",
                    build_version=f"1.2.{counter}",
                    counter=counter,
                    status=status,
                    labels=labels,
                    release_targets=parsed.release_targets,
                    triggers=parsed.triggers,
                    commits=[{"message": "Change things", "author": {"email": f"dev{counter % 7}@example.com"}}],
                    manifest=MANIFEST,
                    manifest_with_defaults=parsed.with_defaults,
                    inserted_at=inserted,
                    started_at=inserted + timedelta(seconds=4),
                    updated_at=inserted + timedelta(seconds=4 + rng.randint(30, 600)),
                )
            )
            if status == "succeeded" and counter % 10 == 0:
                releases.append((index, len(batch) - 1))
        if len(batch) >= 5000 or index == len(pipelines) - 1:
            with transaction.atomic():
                created = Build.objects.bulk_create(batch, batch_size=1000)
                Release.objects.bulk_create(
                    [
                        Release(
                            pipeline=created[position].pipeline,
                            build=created[position],
                            name=rng.choice(["staging", "production"]),
                            action="deploy" if rng.random() < 0.5 else "",
                            release_version=created[position].build_version,
                            status="succeeded",
                            inserted_at=created[position].updated_at + timedelta(minutes=5),
                            started_at=created[position].updated_at + timedelta(minutes=5, seconds=3),
                            updated_at=created[position].updated_at + timedelta(minutes=9),
                        )
                        for _, position in releases
                    ],
                    batch_size=1000,
                )
            progress.advance(len(batch))
            batch, releases = [], []
    progress.close()
    refresh = ProgressBar(len(pipelines), label="refreshing read models", stream=sys.stderr)
    for pipeline in pipelines:
        pipeline_refresh_read_model(pipeline=pipeline)
        refresh.advance()
    refresh.close()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {"pipelines": pipelines}


def reuse_seeded() -> dict[str, Any]:
    """The pipelines a ``--keep`` run seeded, in the order ``seed`` returned them (so the same sample)."""
    from builds.models import Build
    from pipelines.models import Pipeline

    pipelines = list(Pipeline.objects.order_by("pk").only("pk"))
    if not pipelines:
        raise SystemExit("--reuse: the database holds no pipelines; seed it first with --keep")
    return {"pipelines": pipelines, "builds": Build.objects.count()}


def measure(client: Any, paths: list[str], requests: int) -> list[float]:
    for path in paths[:5]:
        assert client.get(path).status_code == 200, path
    timings = []
    for n in range(requests):
        path = paths[n % len(paths)]
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    args = parse_args()
    server = configure(args)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        install_trivial_endpoint()
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        if args.reuse:
            seeded = reuse_seeded()
            if connection.vendor == "postgresql":
                # A migration may have rewritten tables; plan and scan as after seeding.
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE")
            args.pipelines, args.builds = len(seeded["pipelines"]), seeded["builds"]
            print(f"migrated in {time.perf_counter() - started:.1f}s; reusing the seeded database", file=sys.stderr)
        else:
            seeded = seed(args.pipelines, args.builds)
            seconds = time.perf_counter() - started
            print(
                f"seeded {args.pipelines} pipelines / {args.builds} builds on {connection.vendor} in {seconds:.0f}s",
                file=sys.stderr,
            )
        rng = random.Random(7)
        sample = [p.pk for p in rng.sample(seeded["pipelines"], min(50, len(seeded["pipelines"])))]
        from pipelines.models import Pipeline

        names = [f"{p.repo_source}/{p.repo_owner}/{p.repo_name}" for p in Pipeline.objects.filter(pk__in=sample)]
        pages = max(1, args.pipelines // 20)
        endpoints = {
            "trivial DRF endpoint": ["/bench/ping"],
            "/api/pipelines": [f"/api/pipelines?page[number]={rng.randint(1, pages)}" for _ in range(50)],
            "/api/pipelines?filter[status]=failed": ["/api/pipelines?filter[status]=failed"],
            "/api/pipelines?filter[labels]=team=…": [
                f"/api/pipelines?filter[labels]=team={team}&sort=-last_updated_at" for team in TEAMS
            ],
            # Each term matches the same 100 pipelines (service-00n00 … service-00n99) at every size from 1k up, so
            # the sizes compare the same answer from a larger table; terms past the seeded names (an empty
            # answer, no serialization) would make the small run look faster than it is.
            "/api/pipelines?filter[search]=…": [f"/api/pipelines?filter[search]=service-00{n}" for n in range(10)],
            "/api/pipelines/{p}": [f"/api/pipelines/{name}" for name in names],
            "/api/pipelines/{p}/builds": [f"/api/pipelines/{name}/builds" for name in names],
            "/api/pipelines/{p}/builds?filter[status]=failed": [
                f"/api/pipelines/{name}/builds?filter[status]=failed" for name in names
            ],
            "/api/pipelines/{p}/releases": [f"/api/pipelines/{name}/releases" for name in names],
            "/api/builds": ["/api/builds", "/api/builds?page[number]=2", "/api/builds?page[number]=5"],
            "/api/builds?filter[status]=running": ["/api/builds?filter[status]=running"],
            "/api/builds?filter[since]=1d": ["/api/builds?filter[since]=1d"],
            "/api/releases": ["/api/releases", "/api/releases?page[number]=3"],
            "/api/releases?filter[status]=succeeded": ["/api/releases?filter[status]=succeeded"],
        }
        client = Client()
        rounds: dict[str, list[tuple[float, float]]] = {label: [] for label in endpoints}
        for round_number in range(args.rounds):
            if args.rounds > 1:
                print(f"round {round_number + 1}/{args.rounds}", file=sys.stderr)
            for label, paths in endpoints.items():
                timings = measure(client, paths, args.requests)
                rounds[label].append((statistics.median(timings), percentile(timings, 0.95)))
        results = {
            label: {
                "p50_ms": statistics.median(p50 for p50, _ in figures),
                "p95_ms": statistics.median(p95 for _, p95 in figures),
                "p95_rounds_ms": [p95 for _, p95 in figures],
            }
            for label, figures in rounds.items()
        }
        report(args, results, scale=f"{args.pipelines} pipelines / {args.builds} builds on {connection.vendor}")
    finally:
        if args.keep:
            print(f"kept: ESTAFETTE_DATABASE_URL={os.environ['ESTAFETTE_DATABASE_URL']}", file=sys.stderr)
        elif server is not None:
            from django.db import connections

            connections.close_all()
            server.stop()


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]], *, scale: str) -> None:
    """Print the table (and the ratio to ``--compare``'s figures); write ``--json``."""
    baseline = results["trivial DRF endpoint"]["p95_ms"]
    compared = json.loads(args.compare.read_text())["results"] if args.compare else {}
    rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"\nlist endpoints, {scale}, {args.requests} requests each{rounds}, page size 20")
    header = f"{'endpoint':52} {'p50 ms':>8} {'p95 ms':>8} {'p95 / trivial':>14}"
    if args.rounds > 1:
        header += f" {'p95 range ms':>14}"
    if compared:
        header += f" {'p95 / compared':>15}"
    print(header)
    ratios: dict[str, float] = {}
    for label, figures in results.items():
        line = f"{label:52} {figures['p50_ms']:8.1f} {figures['p95_ms']:8.1f} {figures['p95_ms'] / baseline:13.1f}x"
        if args.rounds > 1:
            spread = figures["p95_rounds_ms"]
            line += f" {min(spread):6.1f}-{max(spread):<7.1f}"
        if label in compared and label != "trivial DRF endpoint":
            ratios[label] = figures["p95_ms"] / compared[label]["p95_ms"]
            line += f" {ratios[label]:14.1f}x"
        print(line)
    worst = max(figures["p95_ms"] for label, figures in results.items() if label != "trivial DRF endpoint")
    print(f"\nworst list p95: {worst:.1f} ms (target ≤ 50 ms)")
    if ratios:
        label = max(ratios, key=ratios.__getitem__)
        print(f"worst p95 ratio to {args.compare}: {ratios[label]:.2f}x, {label} (target ≤ 2x)")
    if args.json:
        args.json.write_text(json.dumps({"scale": scale, "results": results}, indent=2))


if __name__ == "__main__":
    main()
