"""Services for builds imported from another Estafette installation (``manage.py import_estafette``).

Imported builds keep the source's ids, versions and counters; a build's counter (behind ``{{auto}}``, which a rebuild
and the next build's ``maxCounter`` read) is recovered from its version with its own manifest, as for a rebuild.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from builds.models import Build
from estafette.lib.bulk import UpsertCounts, continue_id_sequences, upsert_by_pk
from estafette.lib.db import atomic_with_retry
from pipelines.imports import pipeline_counter_at_least
from runs.manifests import ParsedManifest, parse_manifest

# What an import sets of a build, and compares when it runs again.
IMPORTED_BUILD_FIELDS = (
    "pipeline_id",
    "repo_branch",
    "repo_revision",
    "build_version",
    "counter",
    "status",
    "labels",
    "release_targets",
    "triggers",
    "commits",
    "triggered_by_events",
    "manifest",
    "manifest_valid",
    "inserted_at",
    "started_at",
    "updated_at",
    "cpu_max_usage",
    "memory_max_usage",
)


@functools.lru_cache(maxsize=512)
def _parsed(manifest: str, pipeline_full_name: str) -> ParsedManifest:
    # Builds of a pipeline mostly share a manifest: each distinct one is parsed once.
    return parse_manifest(manifest, pipeline_full_name=pipeline_full_name)


def build_import_counter(*, manifest: str, build_version: str, pipeline_full_name: str) -> tuple[int | None, bool]:
    """The counter an imported build's version was made from (None when its manifest cannot say) and whether its
    manifest is valid here."""
    parsed = _parsed(manifest, pipeline_full_name)
    return parsed.counter_of(build_version), parsed.valid


@atomic_with_retry
def builds_import(*, builds: Sequence[Build]) -> UpsertCounts:
    """Insert or update builds by id, and raise their pipelines' counters to the highest counter among them."""
    counts = upsert_by_pk(Build, builds, fields=IMPORTED_BUILD_FIELDS)
    continue_id_sequences(Build)
    highest: dict[int, int] = {}
    for build in builds:
        if build.counter is not None:
            highest[build.pipeline_id] = max(highest.get(build.pipeline_id, 0), build.counter)
    for pipeline_id, counter in highest.items():
        pipeline_counter_at_least(pipeline_id=pipeline_id, counter=counter)
    return counts
