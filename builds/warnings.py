"""Best-practice warnings about a pipeline and its builds (ESTAFETTE.md §3.9), as Estafette's web UI shows them above
a pipeline and a build: ``{"status": "warning"|"danger", "message": <markdown>}``.

The rules are Estafette's; the wording is this project's own:

* a stage (of the build or a release, parallel stages included) whose image has no tag or the tag ``latest``;
* a stage using an ``extensions/…:dev`` image, outside Estafette's own pipelines (``github.com/estafette/…``);
* the builder's ``dev`` track, outside Estafette's own pipelines;
* a secret restricted to other pipelines (its build fails), else a global secret any pipeline may open;
* for a pipeline, the median run time of its last 25 succeeded builds: over 2 minutes a warning, over 5 danger.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import timedelta

from builder.manifest import Manifest, Stage
from builder.secrets import is_allowed
from builds import selectors
from builds.models import Build
from estafette.lib.crypt import secret_allow_lists
from pipelines.models import Pipeline
from runs.manifests import parse_manifest
from runs.models import RunStatus

ESTAFETTE_OWN_PIPELINES = "github.com/estafette/"
GLOBAL_ALLOW_LISTS = frozenset({"", ".*"})
MEDIAN_OVER = 25
SLOW = timedelta(minutes=2)
TOO_SLOW = timedelta(minutes=5)

Warning = dict[str, str]


def image_tag(image: str) -> tuple[str, str]:
    """``(repository, tag)`` of an image reference: ``extensions/docker:stable`` → ``("extensions", "stable")``; no
    tag is ``latest``; a digest (``@sha256:…``) counts as pinned. A registry's port is not a tag."""
    if "@" in image:
        path, _, digest = image.partition("@")
        return path.rpartition("/")[0], digest
    path, tag = image, "latest"
    colon, slash = image.rfind(":"), image.rfind("/")
    if colon > slash:
        path, tag = image[:colon], image[colon + 1 :]
    return path.rpartition("/")[0], tag


def _stages(manifest: Manifest) -> Iterator[tuple[str, Stage]]:
    """Every stage that runs an image, named as the warning shows it (a release's as ``<release>/<stage>``)."""
    for stage in manifest.stages:
        for runs in stage.parallel_stages or (stage,):
            yield runs.name, runs
    for release in manifest.releases:
        for stage in release.stages:
            for runs in stage.parallel_stages or (stage,):
                yield f"{release.name}/{runs.name}", runs


def manifest_warnings(manifest: Manifest | None, *, text: str, pipeline: str) -> list[Warning]:
    """The warnings of a manifest (``text`` is its recorded text, for its secrets) in pipeline ``pipeline``."""
    if manifest is None:
        return []
    own = pipeline.startswith(ESTAFETTE_OWN_PIPELINES)
    unpinned, dev = [], []
    for name, stage in _stages(manifest):
        if not stage.image or stage.auto_injected:
            continue
        repository, tag = image_tag(stage.image)
        if tag == "latest":
            unpinned.append(name)
        if tag == "dev" and repository == "extensions" and not own:
            dev.append(name)
    warnings: list[Warning] = []
    if unpinned:
        warnings.append(
            _warning(
                f"Stages `{', '.join(unpinned)}` run an image without a version (no tag, or **latest**): pin each "
                "image to a version, so a build does not change when someone pushes a new image."
            )
        )
    if dev:
        warnings.append(
            _warning(
                f"Stages `{', '.join(dev)}` run an extension's **dev** image: it changes without notice and may be "
                "broken; use a released tag."
            )
        )
    if manifest.builder.track == "dev" and not own:
        warnings.append(
            _warning("The builder runs on its **dev** track, which may be broken at any time; use a released track.")
        )
    warnings.extend(_secret_warnings(text, pipeline=pipeline))
    return warnings


def _secret_warnings(text: str, *, pipeline: str) -> list[Warning]:
    allow_lists = secret_allow_lists(text)
    if any(not is_allowed(allow_list, pipeline) for allow_list in allow_lists):
        return [
            _warning(
                "A secret in this manifest is _restricted_ to other pipelines, so this pipeline cannot open it: "
                "encrypt the value again for this pipeline."
            )
        ]
    if any(allow_list.strip() in GLOBAL_ALLOW_LISTS for allow_list in allow_lists):
        return [
            _warning(
                "A secret in this manifest is _global_: any pipeline may open it. Rotate the value and encrypt it "
                "again restricted to this pipeline (its Secrets tab)."
            )
        ]
    return []


def build_warnings(build: Build) -> list[Warning]:
    """The warnings of one build's manifest."""
    pipeline = build.pipeline.full_name
    parsed = parse_manifest(build.manifest, pipeline_full_name=pipeline) if build.manifest else None
    return manifest_warnings(parsed.manifest if parsed else None, text=build.manifest, pipeline=pipeline)


def pipeline_warnings(pipeline: Pipeline) -> list[Warning]:
    """The warnings of a pipeline: its median build time, then its latest build's manifest."""
    warnings: list[Warning] = []
    recent = selectors.build_recent_summaries(pipeline_id=pipeline.pk, limit=MEDIAN_OVER)
    durations = [
        build["updated_at"] - build["started_at"]
        for build in recent
        if build["status"] == RunStatus.SUCCEEDED and build["started_at"] is not None
    ]
    if durations:
        median = statistics.median_low(durations)
        shown = f"{int(median.total_seconds() // 60)}m{int(median.total_seconds() % 60)}s"
        chart = f"/pipelines/{pipeline.repo_source}/{pipeline.repo_owner}/{pipeline.repo_name}/insights"
        if median > TOO_SLOW:
            warnings.append(
                {
                    "status": "danger",
                    "message": f"Builds take [**{shown}**]({chart}) (the median of the last {MEDIAN_OVER}): make "
                    "them finish within 5 minutes, better 2, with smaller images or lighter stages.",
                }
            )
        elif median > SLOW:
            warnings.append(
                _warning(
                    f"Builds take [**{shown}**]({chart}) (the median of the last {MEDIAN_OVER}): make them finish "
                    "within 2 minutes, with smaller images or lighter stages."
                )
            )
    latest = selectors.build_latest(pipeline_id=pipeline.pk)
    if latest is not None:
        warnings.extend(build_warnings(latest))
    return warnings


def _warning(message: str) -> Warning:
    return {"status": "warning", "message": message}
