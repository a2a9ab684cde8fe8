"""200 builds created at once for one pipeline get 200 distinct, consecutive counters.

Real threads with their own database connections: on SQLite they queue on the write lock, on
PostgreSQL and the CockroachDB backend (SERIALIZABLE) the losers of each conflict get SQLSTATE 40001
and are retried by ``atomic_with_retry``.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from builds.models import Build
from builds.services import build_create
from builds.testing import MANIFEST, make_pipeline, next_revision
from pipelines.models import Pipeline

CREATIONS = 200


@pytest.mark.django_db(transaction=True)
def test_it_hands_out_distinct_consecutive_counters_to_concurrent_creations() -> None:
    # given
    pipeline = make_pipeline("busy")
    start = threading.Barrier(CREATIONS)

    def create(_: int) -> int:
        try:
            start.wait(timeout=60)
            build = build_create(
                pipeline=Pipeline.objects.get(pk=pipeline.pk),
                repo_branch="master",
                repo_revision=next_revision(),
                manifest_text=MANIFEST,
            )
            return build.pk
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=CREATIONS) as pool:
        build_ids = list(pool.map(create, range(CREATIONS)))

    # then
    counters = sorted(Build.objects.filter(pk__in=build_ids).values_list("counter", flat=True))
    assert counters == list(range(1, CREATIONS + 1))
    versions = set(Build.objects.filter(pipeline=pipeline).values_list("build_version", flat=True))
    assert versions == {f"1.2.{counter}" for counter in range(1, CREATIONS + 1)}
    pipeline.refresh_from_db()
    assert pipeline.build_counter == CREATIONS
    assert pipeline.build_count == CREATIONS
    assert pipeline.latest_build_id == Build.objects.filter(pipeline=pipeline).latest("inserted_at", "id").pk
