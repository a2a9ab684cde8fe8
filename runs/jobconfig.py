"""The builder configuration of a run of any kind (``builder.contracts.BuilderConfig``, ESTAFETTE.md §3.6).

It carries the git coordinates (with the clone URL of local repositories), the version and its
counters, the manifest with defaults, the stages to run — a ``git-clone`` stage injected first for
builds, and for releases and bots with ``clone: true`` (§1.16) — the trigger events (fired and
named, §1.10), where to report (callback URLs and a job token), and the trusted images and
credentials the stages may use, filtered as Estafette does. Secrets in it are still under the
installation key: ``runs.dispatch`` re-keys them for the job.

What differs by kind — the build a run runs from, its version, its part of the manifest, its record in the
configuration — comes from the run-kind registry (``runs.registry``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from builder.contracts import BuilderConfig, CiServerConfig, Credential, GitConfig, TrustedImage, VersionConfig
from builder.manifest import Builder, Manifest, Stage
from builder.manifest.regex import allows
from builder.manifest.services import DEFAULT_WHEN
from builder.manifest.stages import stage_with_defaults
from builder.manifest.version import compute_version
from estafette.jobs import job_name
from estafette.lib.jobtokens import issue_job_token
from estafette.lib.request_ids import current_request_id
from pipelines.models import Pipeline
from runs.callbacks import callback_end_url, callback_urls
from runs.models import Run
from runs.registry import RunJob, RunKind, RunSection, clone_credentials

logger = logging.getLogger(__name__)

GIT_CLONE_STAGE = "git-clone"
REGISTRY_CREDENTIAL_TYPES = ("container-registry", "container-registry-pull")
CREDENTIAL_FILTER_KEYS = ("name", "type", "allowedPipelines", "allowedTrustedImages", "allowedBranches")


@dataclass(frozen=True)
class RunToDispatch:
    """A run with what its job is made of: what its kind says of it and the manifest it runs from."""

    kind: RunKind
    run: Run
    job: RunJob
    pipeline: Pipeline
    manifest: Manifest

    @property
    def section(self) -> RunSection | None:
        return self.kind.section(self.run, self.manifest)


def builder_config(
    target: RunToDispatch, *, named_events: Sequence[Mapping[str, Any]] = (), with_credentials: bool = True
) -> BuilderConfig:
    """The job's ``BuilderConfig``, secrets still under the installation key (``job_dispatch`` re-keys them).

    ``with_credentials=False`` (a replay, ``builds.replay``): no credentials and no trusted images — nothing secret,
    and no forge is asked for a clone token."""
    kind, run, job, pipeline = target.kind.name, target.run, target.job, target.pipeline
    builder = run_builder(target)
    stages = _stages(target, builder)
    status_url, logs_url = callback_urls(kind=kind, run_id=run.pk, base_url=settings.SERVICE_URL)
    used_images = set(_image_paths(stages))
    trusted = [
        image
        for image in (settings.TRUSTED_IMAGES if with_credentials else ())
        if _trusted_image_applies(image, used_images, pipeline)
    ]
    return BuilderConfig(
        job_type=kind,
        git=GitConfig(
            repo_source=pipeline.repo_source,
            repo_owner=pipeline.repo_owner,
            repo_name=pipeline.repo_name,
            repo_branch=job.repo_branch,
            repo_revision=job.repo_revision,
            repo_url=pipeline.repo_url or None,
        ),
        version=_version(target),
        ci_server=CiServerConfig(
            base_url=settings.BASE_URL,
            status_url=status_url,
            logs_url=logs_url,
            job_token=issue_job_token(kind=kind, run_id=run.pk),
            end_url=callback_end_url(kind=kind, run_id=run.pk, base_url=settings.SERVICE_URL),
        ),
        manifest=target.manifest.to_dict(),
        stages=tuple(stage.to_dict() for stage in stages),
        trigger_events=(*run.triggered_by_events, *named_events),  # type: ignore[attr-defined]
        # A forge's clone token (``runs.registry.clone_credentials``) comes first: the git-clone stage takes the first
        # source token it finds.
        credentials=(
            (*clone_credentials(pipeline), *_credentials(trusted, pipeline=pipeline, branch=job.repo_branch))
            if with_credentials
            else ()
        ),
        trusted_images=tuple(_trusted_image(image) for image in trusted),
        **job.config,
        job_name=job_name(job_type=kind, repo_owner=pipeline.repo_owner, repo_name=pipeline.repo_name, run_id=run.pk),
        track=builder.track or "stable",
        request_id=current_request_id(),
    )


def run_builder(target: RunToDispatch) -> Builder:
    """The builder of what runs: a release or bot may have its own (defaults fill it from the top level)."""
    section = target.section
    return (section.builder if section is not None else None) or target.manifest.builder


def _stages(target: RunToDispatch, builder: Builder) -> list[Stage]:
    """The stages of the run's section (none for a section the manifest lacks, as Estafette) — with the
    ``git-clone`` stage first when the section asks for a clone (builds always; releases/bots with ``clone: true``)."""
    section = target.section
    if section is None:
        logger.warning("%s %s: the manifest has no section for it; no stages", target.kind.name, target.run.pk)
        return []
    stages, clone = list(section.stages), section.clone
    if clone and not any(stage.name == GIT_CLONE_STAGE for stage in stages):
        git_clone = Stage(
            name=GIT_CLONE_STAGE,
            image=f"extensions/git-clone:{builder.track or 'stable'}",
            when=DEFAULT_WHEN,
            auto_injected=True,
        )
        stages.insert(0, stage_with_defaults(git_clone, operating_system=builder.os or "linux"))
    return stages


def _version(target: RunToDispatch) -> VersionConfig:
    job = target.job
    computed = compute_version(
        target.manifest.version, counter=job.counter, branch=job.repo_branch, revision=job.repo_revision
    )
    return VersionConfig(
        version=job.version,
        current_counter=job.counter,
        max_counter=max(job.counter, job.max_counter),
        max_counter_current_branch=max(job.counter, job.max_counter_current_branch),
        major=computed.major,
        minor=computed.minor,
        patch=computed.patch,
        label=computed.label or None,
    )


# -- credentials and trusted images (ESTAFETTE.md §3.6) --------------------------------------------


def _image_path(image: str) -> str:
    """The image without tag or digest (a registry's port is not a tag)."""
    image = image.split("@", 1)[0]
    slash, colon = image.rfind("/"), image.rfind(":")
    return image[:colon] if colon > slash else image


def _image_paths(stages: Iterable[Stage]) -> Iterable[str]:
    for stage in stages:
        if stage.image:
            yield _image_path(stage.image)
        for service in stage.services:
            if service.image:
                yield _image_path(service.image)
        yield from _image_paths(stage.parallel_stages)


def _allows(pattern: Any, value: str) -> bool:
    """An allow-list regular expression, anchored at both ends; empty allows everything (on RE2, linear time)."""
    return allows(str(pattern or ""), value)


def _trusted_image_applies(image: Mapping[str, Any], used: set[str], pipeline: Pipeline) -> bool:
    return image["path"] in used and _allows(image.get("allowedPipelines"), pipeline.full_name)


def _trusted_image(image: Mapping[str, Any]) -> TrustedImage:
    return TrustedImage(
        path=image["path"],
        run_privileged=bool(image.get("runPrivileged")),
        run_docker=bool(image.get("runDocker")),
        allow_commands=bool(image.get("allowCommands")),
        injected_credential_types=tuple(image.get("injectedCredentialTypes") or ()),
        allowed_pipelines=str(image.get("allowedPipelines") or ""),
    )


def _credentials(trusted: Sequence[Mapping[str, Any]], *, pipeline: Pipeline, branch: str) -> Iterable[Credential]:
    """Credentials of the types the job's trusted images ask for, where the credential allows that image,
    pipeline and branch; plus every registry credential the pipeline may use (for pulling images)."""
    for credential in settings.CREDENTIALS:
        if not _allows(credential.get("allowedPipelines"), pipeline.full_name):
            continue
        wanted_by_image = any(
            credential["type"] in (image.get("injectedCredentialTypes") or ())
            and _allows(credential.get("allowedTrustedImages"), image["path"])
            for image in trusted
        )
        wanted = (wanted_by_image and _allows(credential.get("allowedBranches"), branch)) or (
            credential["type"] in REGISTRY_CREDENTIAL_TYPES
        )
        if wanted:
            yield Credential(
                name=credential["name"],
                type=credential["type"],
                additional_properties={
                    key: value for key, value in credential.items() if key not in CREDENTIAL_FILTER_KEYS
                },
            )
