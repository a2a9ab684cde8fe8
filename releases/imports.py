"""Services for releases and bot runs imported from another Estafette installation (``manage.py import_estafette``).

Estafette's releases and bot runs name no build; here each belongs to one (the build whose manifest its stages run
with). An imported release belongs to the latest build of its pipeline with the released version, else to the
latest build before it; a bot run to the latest build of its pipeline before it. A run with no build at all in its
pipeline cannot be placed and is skipped (counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Max

from builds.models import Build
from estafette.lib.bulk import UpsertCounts, continue_id_sequences, upsert_by_pk
from estafette.lib.db import atomic_with_retry
from releases.models import BotRun, Release

_RUN_FIELDS = (
    "pipeline_id",
    "build_id",
    "status",
    "triggered_by_events",
    "inserted_at",
    "started_at",
    "updated_at",
    "cpu_max_usage",
    "memory_max_usage",
)
IMPORTED_RELEASE_FIELDS = (*_RUN_FIELDS, "name", "action", "release_version")
IMPORTED_BOT_RUN_FIELDS = (*_RUN_FIELDS, "name")


def _latest_build_before(pipeline_id: int, when: datetime) -> int | None:
    builds = Build.objects.filter(pipeline_id=pipeline_id)
    earlier = builds.filter(inserted_at__lte=when).order_by("-inserted_at", "-id").values_list("id", flat=True)
    return earlier.first() or builds.order_by("-inserted_at", "-id").values_list("id", flat=True).first()


@atomic_with_retry
def releases_import(*, releases: Sequence[Release]) -> UpsertCounts:
    """Insert or update releases by id, each placed on its build (see the module)."""
    pairs = {(release.pipeline_id, release.release_version) for release in releases}
    of_version = {
        (row["pipeline_id"], row["build_version"]): row["last"]
        for row in Build.objects.filter(
            pipeline_id__in={pipeline_id for pipeline_id, _ in pairs},
            build_version__in={version for _, version in pairs},
        )
        .values("pipeline_id", "build_version")
        .annotate(last=Max("id"))
    }
    placed: list[Release] = []
    skipped = 0
    for release in releases:
        build_id = of_version.get((release.pipeline_id, release.release_version)) or _latest_build_before(
            release.pipeline_id, release.inserted_at
        )
        if build_id is None:
            skipped += 1
            continue
        release.build_id = build_id
        placed.append(release)
    counts = upsert_by_pk(Release, placed, fields=IMPORTED_RELEASE_FIELDS)
    continue_id_sequences(Release)
    counts.skipped += skipped
    return counts


@atomic_with_retry
def bot_runs_import(*, bot_runs: Sequence[BotRun]) -> UpsertCounts:
    """Insert or update bot runs by id, each placed on the latest build of its pipeline before it."""
    placed: list[BotRun] = []
    skipped = 0
    for bot_run in bot_runs:
        build_id = _latest_build_before(bot_run.pipeline_id, bot_run.inserted_at)
        if build_id is None:
            skipped += 1
            continue
        bot_run.build_id = build_id
        placed.append(bot_run)
    counts = upsert_by_pk(BotRun, placed, fields=IMPORTED_BOT_RUN_FIELDS)
    continue_id_sequences(BotRun)
    counts.skipped += skipped
    return counts
