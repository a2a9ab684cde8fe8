#!/usr/bin/env python3
"""Query time of the delivery insights (``GET /api/insights/dora``) over many builds and releases.

    .venv/bin/python bench/dora.py                         # 1k pipelines / 100k builds, SQLite
    .venv/bin/python bench/dora.py --postgres --large      # 10k pipelines / 1M builds on a throw-away PostgreSQL

Seeds with ``bench/api_lists.py``'s seeding (builds over a year, a release to staging or production for every tenth
succeeded build, labels team-N and a language), then requests the report in-process through Django's test client
(middleware, authentication, DRF, the report) for a 30-day and a 1-year window, over every pipeline and for one label,
and prints p50 and p95.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_lists import configure, seed  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--builds", type=int, default=100_000)
    parser.add_argument("--large", action="store_true", help="10k pipelines / 1M builds")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL (tests/tooling)")
    parser.add_argument("--database-url", help="use this (empty) database instead")
    parser.add_argument("--requests", type=int, default=20, help="measured requests per query")
    args = parser.parse_args()
    if args.large:
        args.pipelines, args.builds = 10_000, 1_000_000
    return args


def measure(client: Any, params: dict[str, str], requests: int) -> tuple[float, float, int]:
    client.get("/api/insights/dora", params)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/api/insights/dora", params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
    times.sort()
    deployments = response.json()["overall"]["deploymentFrequency"]["deployments"]
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], deployments


def main() -> None:
    args = parse_args()
    server = configure(args)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from builds.models import Build
        from estafette.testing import make_user
        from releases.models import Release

        call_command("migrate", verbosity=0)
        seed(args.pipelines, args.builds)
        print(
            f"{connection.vendor}: {Build.objects.count()} builds, {Release.objects.count()} releases "
            f"({Release.objects.filter(name='production').count()} to production)",
            file=sys.stderr,
        )
        client = Client()
        client.force_login(make_user("bench", staff=True))
        for name, params in {
            "30 days, every pipeline": {"filter[since]": "30d"},
            "1 year, every pipeline": {"filter[since]": "1y"},
            "1 year, one label (team-3)": {"filter[since]": "1y", "filter[labels]": "team=team-3"},
            "1 year, one pipeline": {"filter[since]": "1y", "filter[pipeline]": "service-00007"},
        }.items():
            p50, p95, deployments = measure(client, params, args.requests)
            print(f"{name:30} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  ({deployments} deployments)", flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
