"""Benchmark: what checking an API token (``Authorization: Token <key>``) costs on every API request.

Measured in one process, without HTTP: ``ApiTokenAuthentication.authenticate`` as a request runs it (SHA-256 of the
key, the lookup by the digest's unique index with the user, the constant-time comparison, the last-use check that
writes at most once a minute), against the lookup alone by a known column value (the query DRF's plaintext
``TokenAuthentication`` made, by key, in the same shape), and against the hashing and comparison alone.

    .venv/bin/python bench/api_token_auth.py [--runs N] [--postgres | --database-url URL]
"""

from __future__ import annotations

import argparse
import hmac
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import use_database


def medians_us(works: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Each work's median in µs; the works take turns, so a load that comes and goes weighs on all of them alike."""
    for work in works.values():
        for _ in range(max(10, runs // 10)):
            work()
    timings: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(runs):
        for name, work in works.items():
            start = time.perf_counter()
            work()
            timings[name].append((time.perf_counter() - start) * 1_000_000)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL server instead of SQLite")
    parser.add_argument("--database-url", help="an existing database to run on")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="estafette-bench-")
    os.environ.update(ESTAFETTE_DATA_DIR=data_dir, ESTAFETTE_LOG_LEVEL="WARNING")
    os.environ.setdefault("ESTAFETTE_SECRET_KEY", "bench-secret-key")
    os.environ["DJANGO_SETTINGS_MODULE"] = "estafette.settings"
    server = use_database(database_url=args.database_url, postgres=args.postgres, default_url=None)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import RequestFactory
        from rest_framework.request import Request

        from estafette.apitokens.authentication import ApiTokenAuthentication
        from estafette.apitokens.models import ApiToken, digest_of
        from estafette.apitokens.services import api_token_create
        from estafette.testing import make_user

        call_command("migrate", verbosity=0)
        user = make_user("bench-robot")
        for _ in range(1000):  # a table with other tokens in it
            api_token_create(user=user)
        _, key = api_token_create(user=user)
        digest = digest_of(key)
        request = Request(RequestFactory().get("/api/me", HTTP_AUTHORIZATION=f"Token {key}"))
        authentication = ApiTokenAuthentication()

        medians = medians_us(
            {
                "full": lambda: authentication.authenticate(request),
                "lookup": lambda: ApiToken.objects.select_related("user").get(digest=digest),
                "hashing": lambda: hmac.compare_digest(digest_of(key), digest),
            },
            args.runs,
        )
        full, lookup, hashing = medians["full"], medians["lookup"], medians["hashing"]
    finally:
        if server is not None:
            server.stop()
    print(f"authenticate (hash + lookup + last-use check): median {full:8.1f} µs")
    print(f"lookup alone (what a plaintext key costs):      median {lookup:8.1f} µs")
    print(f"SHA-256 + compare_digest alone:                 median {hashing:8.1f} µs")
    print(f"authenticate minus the lookup: {full - lookup:+.1f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
