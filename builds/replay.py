"""What a developer needs to replay a build on their machine (``python -m builder replay``): the builder
configuration its job got and the ``ESTAFETTE_*`` variables its stages got, minus everything secret.

The configuration is made by the same function as the job's (``runs.jobconfig.builder_config``), so a replay runs
what the server ran. What would let the caller act as the job or use the installation's credentials is left out:
the job token and callback URLs, the credentials (with a forge's clone token) and the trusted images that name them.
Secret envelopes in the manifest stay encrypted under the installation key — the server never decrypts them for a
replay; the builder replaces each with a value the developer gives.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from builder.contracts import CiServerConfig
from builder.envvars import builder_env
from builds.models import Build
from estafette.lib.errors import BadRequest
from runs.jobconfig import RunToDispatch, builder_config
from runs.manifests import parse_manifest
from runs.registry import MissingJobEvent, job_events, run_kind


def build_replay(build: Build) -> dict[str, Any]:
    """``{"config": <BuilderConfig JSON without secrets>, "env": {ESTAFETTE_*: value}}`` of ``build``."""
    kind = run_kind(Build.kind)
    pipeline = build.pipeline
    job = kind.job(build)
    manifest = parse_manifest(job.manifest, pipeline_full_name=pipeline.full_name).manifest
    if manifest is None:
        raise BadRequest(f"build {build.pk} ran from an invalid manifest; there is nothing to replay")
    target = RunToDispatch(kind=kind, run=build, job=job, pipeline=pipeline, manifest=manifest)
    try:
        named = job_events(
            manifest=manifest,
            pipeline_full_name=pipeline.full_name,
            fired=build.triggered_by_events,
        )
    except MissingJobEvent:
        named = []  # the job never started (it was canceled); the fired events are all there is
    config = builder_config(target, named_events=named, with_credentials=False)
    config = replace(
        config,
        ci_server=CiServerConfig(base_url=config.ci_server.base_url, status_url="", logs_url="", job_token=""),
        request_id="",
    )
    started = build.started_at or build.inserted_at
    labels = config.manifest.get("labels") or {}
    env = builder_env(
        config,
        started_at=started.isoformat().replace("+00:00", "Z"),
        labels=labels if isinstance(labels, dict) else {},
    )
    return {"config": config.to_dict(), "env": env}
