"""Job dispatch: assemble the builder configuration of a pending build, release or bot run, and start its job.

The configuration (``builder.contracts.BuilderConfig``, ESTAFETTE.md §3.6) carries the git
coordinates, the version, the manifest with defaults, the stages to run (a ``git-clone`` stage is
injected first for builds, and for releases and bots with ``clone: true``, §1.16), the trigger
events (fired and named, §1.10), where to report (job token and callback URLs) and the credentials
and trusted images the stages may use (§3.6 filtering). Before it leaves the API every secret
envelope in it is re-encrypted under a fresh per-job key (§6): the job gets that key, never the
installation key.

Dispatch is idempotent: only a ``pending`` run gets a job, and job names are deterministic, so a
redelivered ``*.created`` event finds the job started (runners leave an existing job alone).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builder.contracts import (
    BotRecord,
    BuilderConfig,
    BuildRecord,
    CiServerConfig,
    Credential,
    GitConfig,
    ReleaseRecord,
    TrustedImage,
    VersionConfig,
)
from builder.manifest import Builder, Manifest, Stage
from builder.manifest.services import DEFAULT_WHEN
from builder.manifest.stages import stage_with_defaults
from builder.manifest.version import compute_version
from builds.manifests import parse_manifest
from builds.models import Build, RunKind, RunStatus
from estafette.jobs import JobRunner, JobSpec, get_job_runner, job_name
from estafette.lib.crypt import reencrypt_for_job
from estafette.lib.jobtokens import issue_job_token
from pipelines.models import Pipeline
from pipelines.triggers import MissingNamedEvent, trigger_named_events
from releases.models import BotRun, Release

try:
    from builds.callbacks import callback_urls
except ImportError:  # until builds/callbacks.py (the builder endpoints) is merged: the same URL scheme

    def callback_urls(*, kind: str, run_id: int, base_url: str) -> tuple[str, str]:
        root = f"{base_url.rstrip('/')}/api/builder/v1/{kind}/{run_id}"
        return f"{root}/status", f"{root}/logs"


logger = logging.getLogger(__name__)

Kind = Literal["build", "release", "bot"]
GIT_CLONE_STAGE = "git-clone"
VALIDATE_TRIGGERS_STEP = "validate-triggers"
REGISTRY_CREDENTIAL_TYPES = ("container-registry", "container-registry-pull")
CREDENTIAL_FILTER_KEYS = ("name", "type", "allowedPipelines", "allowedTrustedImages", "allowedBranches")


@dataclass(frozen=True)
class RunToDispatch:
    """A run with what its job is made of: the build it runs from and that build's manifest."""

    kind: Kind
    run: Build | Release | BotRun
    build: Build
    pipeline: Pipeline
    manifest: Manifest


# -- the service ----------------------------------------------------------------------------------


def job_dispatch(*, kind: Kind, run_id: int, runner: JobRunner | None = None) -> str | None:
    """Start the job of a pending run; returns the job's name, or None when there is nothing to start.

    Nothing is started for a run that is gone or no longer ``pending`` (its job started before, or it
    was canceled). A run whose named trigger has no event to describe (ESTAFETTE.md §1.10) is
    canceled, with a ``validate-triggers`` log step saying why. Idempotent; raises ``JobRunnerError``
    when the runner fails (the caller retries).
    """
    target = _load(kind, run_id)
    if target is None:
        return None
    try:
        named = trigger_named_events(
            manifest=target.manifest,
            pipeline_full_name=target.pipeline.full_name,
            fired=target.run.triggered_by_events,
        )
    except MissingNamedEvent as error:
        _cancel_for_missing_event(target, str(error))
        return None
    config = builder_config(target, named_events=named)
    config_json, job_key = reencrypt_for_job(json.dumps(config.to_dict()))
    spec = JobSpec.for_run(
        job_type=kind,
        repo_owner=target.pipeline.repo_owner,
        repo_name=target.pipeline.repo_name,
        run_id=run_id,
        config=json.loads(config_json),
        secret_key=job_key,
        operating_system="windows" if _builder(target).os == "windows" else "linux",
    )
    name = (runner or get_job_runner()).start(spec)
    logger.info("%s %s of %s: job %s started", kind, run_id, target.pipeline.full_name, name)
    return name


def _load(kind: Kind, run_id: int) -> RunToDispatch | None:
    run: Build | Release | BotRun | None
    if kind == "build":
        run = Build.objects.select_related("pipeline").filter(pk=run_id).first()
        build = run
    elif kind == "release":
        run = Release.objects.select_related("pipeline", "build").filter(pk=run_id).first()
        build = run.build if run is not None else None
    else:
        run = BotRun.objects.select_related("pipeline", "build").filter(pk=run_id).first()
        build = run.build if run is not None else None
    if run is None or build is None:
        logger.warning("%s %s is gone; no job", kind, run_id)
        return None
    if run.status != RunStatus.PENDING:
        logger.info("%s %s is %s, not pending; no job", kind, run_id, run.status)
        return None
    pipeline = run.pipeline
    manifest = parse_manifest(build.manifest, pipeline_full_name=pipeline.full_name).manifest
    if manifest is None:
        logger.warning("%s %s: the manifest of build %s is invalid; no job", kind, run_id, build.pk)
        return None
    return RunToDispatch(kind=kind, run=run, build=build, pipeline=pipeline, manifest=manifest)


# -- the configuration ----------------------------------------------------------------------------


def builder_config(target: RunToDispatch, *, named_events: Sequence[Mapping[str, Any]] = ()) -> BuilderConfig:
    """The job's ``BuilderConfig``, secrets still under the installation key (``job_dispatch`` re-keys them)."""
    kind, run, build, pipeline = target.kind, target.run, target.build, target.pipeline
    builder = _builder(target)
    stages = _stages(target, builder)
    status_url, logs_url = callback_urls(kind=kind, run_id=run.pk, base_url=settings.SERVICE_URL)
    used_images = set(_image_paths(stages))
    trusted = [image for image in settings.TRUSTED_IMAGES if _trusted_image_applies(image, used_images, pipeline)]
    return BuilderConfig(
        job_type=kind,
        git=GitConfig(
            repo_source=pipeline.repo_source,
            repo_owner=pipeline.repo_owner,
            repo_name=pipeline.repo_name,
            repo_branch=build.repo_branch,
            repo_revision=build.repo_revision,
            repo_url=pipeline.repo_url or None,
        ),
        version=_version(target),
        ci_server=CiServerConfig(
            base_url=settings.BASE_URL,
            status_url=status_url,
            logs_url=logs_url,
            job_token=issue_job_token(kind=kind, run_id=run.pk),
        ),
        manifest=target.manifest.to_dict(),
        stages=tuple(stage.to_dict() for stage in stages),
        trigger_events=(*run.triggered_by_events, *named_events),
        credentials=tuple(_credentials(trusted, pipeline=pipeline, branch=build.repo_branch)),
        trusted_images=tuple(_trusted_image(image) for image in trusted),
        build=BuildRecord(id=str(run.pk)) if isinstance(run, Build) else None,
        release=(
            ReleaseRecord(id=str(run.pk), name=run.name, action=run.action, triggered_by=_manual_user(run))
            if isinstance(run, Release)
            else None
        ),
        bot=BotRecord(id=str(run.pk), name=run.name) if isinstance(run, BotRun) else None,
        job_name=job_name(job_type=kind, repo_owner=pipeline.repo_owner, repo_name=pipeline.repo_name, run_id=run.pk),
        track=builder.track or "stable",
    )


def _builder(target: RunToDispatch) -> Builder:
    """The builder of what runs: a release or bot may have its own (defaults fill it from the top level)."""
    section = _section(target)
    return (section.builder if section is not None else None) or target.manifest.builder


def _section(target: RunToDispatch) -> Any:
    if isinstance(target.run, Release):
        return next((release for release in target.manifest.releases if release.name == target.run.name), None)
    if isinstance(target.run, BotRun):
        return next((bot for bot in target.manifest.bots if bot.name == target.run.name), None)
    return None


def _stages(target: RunToDispatch, builder: Builder) -> list[Stage]:
    """Build stages; the release target's or the bot's (none for an unknown one, as Estafette) — with
    the ``git-clone`` stage first for builds and for releases/bots that ask for ``clone: true``."""
    if isinstance(target.run, Build):
        stages, clone = list(target.manifest.stages), True
    else:
        section = _section(target)
        if section is None:
            logger.warning("%s %s: the manifest has no %r; no stages", target.kind, target.run.pk, target.run.name)
            return []
        stages, clone = list(section.stages), bool(section.clone)
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
    build = target.build
    counter = int(build.counter or 0)
    computed = compute_version(
        target.manifest.version, counter=counter, branch=build.repo_branch, revision=build.repo_revision
    )
    version = target.run.release_version if isinstance(target.run, Release) else build.build_version
    latest = Build.objects.filter(pipeline=target.pipeline).order_by("-inserted_at", "-id")
    latest_counter = latest.values_list("counter", flat=True).first() or 0
    branch_counter = latest.filter(repo_branch=build.repo_branch).values_list("counter", flat=True).first() or 0
    return VersionConfig(
        version=version,
        current_counter=counter,
        max_counter=max(counter, int(latest_counter)),
        max_counter_current_branch=max(counter, int(branch_counter)),
        major=computed.major,
        minor=computed.minor,
        patch=computed.patch,
        label=computed.label or None,
    )


def _manual_user(release: Release) -> str:
    for event in release.triggered_by_events:
        user = (event.get("manual") or {}).get("userID")
        if user:
            return str(user)
    return ""


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
    """An allow-list regular expression, anchored at both ends; empty allows everything."""
    text = str(pattern or "").strip()
    return not text or re.fullmatch(text, value) is not None


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


# -- a named trigger without its event -------------------------------------------------------------


@transaction.atomic
def _cancel_for_missing_event(target: RunToDispatch, reason: str) -> None:
    """Estafette leaves such a run pending for ever; here it is canceled with the reason in its log."""
    from builds.services import build_cancel, log_append, log_record_create
    from releases.services import bot_cancel, release_cancel

    run = target.run
    now = timezone.now()
    record = log_record_create(pipeline=target.pipeline, run_kind=RunKind(target.kind), run_id=run.pk, now=now)
    timestamp = now.isoformat().replace("+00:00", "Z")
    text = f"{reason}; the {target.kind} cannot start"
    line = {"line": 1, "timestamp": timestamp, "streamType": "stderr", "text": text}
    log_append(
        record=record,
        seq=1,
        lines=[
            {"step": VALIDATE_TRIGGERS_STEP, "logLine": line},
            {"step": VALIDATE_TRIGGERS_STEP, "status": "FAILED", "exitCode": 1, "duration": 0},
        ],
        now=now,
    )
    if isinstance(run, Build):
        build_cancel(build=run, now=now)
    elif isinstance(run, Release):
        release_cancel(release=run, now=now)
    else:
        bot_cancel(bot_run=run, now=now)
    logger.warning("%s %s of %s canceled: %s", target.kind, run.pk, target.pipeline.full_name, reason)
