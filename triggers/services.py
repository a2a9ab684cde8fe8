"""Trigger firing (ESTAFETTE.md §1.10): which triggers an event fires, and what each one then does.

Two steps, each its own consumer:

1. ``triggers_match`` — for one event (a push, a pipeline or release starting or finishing, a cron
   tick, a Pub/Sub message, an image push) find the non-archived pipelines whose read model has a
   trigger that fires (candidates come from the trigger index; ``Trigger.fires`` decides) and
   publish one ``estafette.events.trigger.fired`` per (event, pipeline, trigger), with an id derived
   from the three, so a redelivered event fires nothing twice.
2. ``trigger_fire`` — take that trigger's action: ``builds`` (a new build of the revision of the
   branch's latest build, with a fresh version), ``releases`` (version latest/same/current/literal
   to the release target, with the released build's manifest, branch and revision) or ``runs`` (a
   bot run). The event is recorded on the new run as its ``triggered_by_events`` (``triggerEvents`` in the API).

``trigger_named_events`` adds, for a job, the last succeeded build/release that each *named*
pipeline/release trigger refers to, so ``ESTAFETTE_TRIGGER_<NAME>_*`` exist however the job started; the run
engine asks for them through the hook ``TriggersConfig.ready`` registers (``runs.registry.job_events``).

How an event arrives (its subject, its decoding, its index keys) is its kind's entry in ``triggers.kinds``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from django.db import transaction

from builder.manifest import Manifest, Trigger
from builder.manifest.events import Event
from builder.manifest.regex import filter_match
from builds.events import pipeline_event
from builds.models import Build
from builds.services import build_create
from estafette.access.audit import audit_record
from estafette.access.models import ActorKind
from estafette.lib.db import atomic_with_retry
from estafette.lib.errors import DomainError, NotFound
from estafette.queue import publish_on_commit, subjects
from pipelines.models import FacetKind, Pipeline, PipelineFacet
from releases.events import release_event
from releases.models import BotRun, Release
from releases.services import bot_create, release_create
from runs.events import manual_event
from runs.models import RunStatus
from runs.registry import MissingJobEvent, run_kind
from triggers.index import event_keys
from triggers.reports import run_url
from triggers.requests import ReleaseRequest, request_reply

logger = logging.getLogger(__name__)

RECENT_RUNS_SCANNED = 50  # succeeded builds/releases looked at for a named trigger's event
# One trigger of one pipeline matched one event: the action to take (``trigger_fire``).
TRIGGER_FIRED = subjects.event_subject("trigger", "fired")


# -- events ---------------------------------------------------------------------------------------


def pushed_pipeline(event: Event) -> str | None:
    """For a push, the pushed pipeline's name: its own build comes from the push, not from a git trigger."""
    return event.git.repository.casefold() if event.git is not None else None


# -- matching -------------------------------------------------------------------------------------


def fire_id(event_id: str, pipeline_id: int, trigger: Mapping[str, Any]) -> str:
    """The id of one trigger of one pipeline firing for one event (the idempotency key of its action)."""
    natural = f"{event_id}\n{pipeline_id}\n{sorted(trigger.items())!r}"
    return f"fire-{hashlib.sha256(natural.encode()).hexdigest()[:40]}"


def triggers_match(*, event: Event, event_id: str) -> list[dict[str, Any]]:
    """Publish (after commit) a ``trigger.fired`` message per trigger ``event`` fires; return their payloads.

    Candidates are the non-archived pipelines whose latest build's triggers (``self`` resolved) are
    indexed under one of the event's keys; a push does not fire the pushed pipeline's own git
    triggers. Idempotent per ``event_id``: the same messages, with the same ids, every time. An event
    that fires nothing writes nothing.
    """
    fired = [
        (
            fire_id(event_id, pipeline.pk, data),
            {
                "eventId": event_id,
                "pipelineId": str(pipeline.pk),
                "pipeline": pipeline.full_name,
                "trigger": dict(data),
                "event": replace(event, name=trigger.name, fired=True).to_dict(),
            },
        )
        for pipeline, data, trigger in _firing(event)
    ]
    if fired:
        with transaction.atomic():
            for message_id, message in fired:
                publish_on_commit(TRIGGER_FIRED, message, dedup_key=message_id)
        logger.info("event %s fires %d trigger(s)", event_id, len(fired))
    return [message for _, message in fired]


# What matching reads of a candidate pipeline: its identity (``full_name``) and its read model's triggers, not the
# rest of its wide read-model row.
_MATCHED_FIELDS = ("id", "repo_source", "repo_owner", "repo_name", "triggers")
COMPILED_TRIGGER_LISTS = 256  # distinct trigger lists kept compiled per process (a few KB each)


def _firing(event: Event) -> Iterator[tuple[Pipeline, Mapping[str, Any], Trigger]]:
    """(pipeline, trigger JSON, trigger) for each trigger of a candidate pipeline that fires."""
    pipeline_ids = list(
        PipelineFacet.objects.filter(kind=FacetKind.TRIGGER, value__in=event_keys(event))
        .values_list("pipeline_id", flat=True)
        .distinct()
    )
    if not pipeline_ids:
        # Most events (every build's push, start and finish) fire nothing: the one indexed lookup above says so.
        # An empty ``pk__in`` below would run no query but still cost two thirds of this function (issue 17).
        return
    excluded = pushed_pipeline(event)
    candidates = Pipeline.objects.filter(pk__in=pipeline_ids, archived=False).only(*_MATCHED_FIELDS).order_by("pk")
    for pipeline in candidates:
        if excluded is not None and pipeline.full_name.casefold() == excluded:
            continue
        for data, trigger in _compiled_triggers(pipeline.triggers):
            if trigger.fires(event):
                yield pipeline, data, trigger


def _compiled_triggers(triggers: Sequence[Mapping[str, Any]]) -> tuple[tuple[Mapping[str, Any], Trigger], ...]:
    """Each trigger of a read model with its ``Trigger``, built once per distinct list in this process.

    Keyed by the list's own JSON text, so a pipeline whose triggers changed (a new build's manifest, a rename
    resolving ``self`` anew) is matched with its new ones at once, in every process, with nothing to invalidate;
    an upstream pipeline's every build then does not rebuild the same ``Trigger`` objects for each of its listeners.
    """
    # Key order kept as stored: ``fire_id`` hashes the objects' repr, nested ones included.
    return _compiled_trigger_list(json.dumps(triggers, separators=(",", ":")))


@lru_cache(maxsize=COMPILED_TRIGGER_LISTS)
def _compiled_trigger_list(text: str) -> tuple[tuple[Mapping[str, Any], Trigger], ...]:
    # The JSON objects are handed out with each trigger (they key the fired message, which copies them): read-only
    # at the top, so a caller cannot change what the next match sees by mistake. ``Trigger`` itself is frozen.
    return tuple((MappingProxyType(data), Trigger.from_dict(data)) for data in json.loads(text))


# -- actions --------------------------------------------------------------------------------------


def trigger_fire(*, message: Mapping[str, Any], now: datetime | None = None) -> Build | Release | BotRun | None:
    """Take the action of one fired trigger (a ``triggers_match`` message); the new run, or None.

    None, with a log line saying why, when there is nothing to do: the pipeline is gone or archived,
    the branch never built, the version or release target does not exist. Those do not get better
    by retrying. Run it once per message id (the consumer is idempotent).
    """
    pipeline = Pipeline.objects.filter(pk=int(message["pipelineId"])).first()
    if pipeline is None or pipeline.archived:
        logger.info("trigger of %s not fired: the pipeline is gone or archived", message.get("pipeline"))
        return None
    trigger = Trigger.from_dict(message["trigger"])
    event: dict[str, Any] = dict(message["event"])
    try:
        if trigger.builds is not None:
            return audit_run_started(_fire_build(pipeline, trigger, event, now=now), event=event)
        if trigger.releases is not None:
            return audit_run_started(_fire_release(pipeline, trigger, event, now=now), event=event)
        if trigger.runs is not None:
            bot = bot_create(pipeline=pipeline, name=trigger.runs.bot, triggered_by_events=[event], now=now)
            return audit_run_started(bot, event=event)
    except DomainError as error:
        logger.warning("trigger of %s not fired: %s", pipeline.full_name, error.message)
        return None
    logger.warning("trigger of %s has no action (builds, releases or runs); nothing to do", pipeline.full_name)
    return None


@atomic_with_retry
def release_request_fulfil(*, request: ReleaseRequest, now: datetime | None = None) -> Release:
    """Release what a person asked for outside the API (``triggers.requests``), authorized where they asked: the
    release records their ``manual`` event and the audit trail names them, and the person is told (``request.reply``,
    once this commits). Raises what ``release_create`` raises (``NotFound``, ``Conflict``, ``BadRequest``), and
    ``NotFound`` for a pipeline that does not exist, after telling the person why."""
    asked = f"{request.version} of {request.pipeline} to {request.target}"
    try:
        source, owner, name = request.pipeline.split("/")
        pipeline = Pipeline.objects.filter(repo_source=source, repo_owner=owner, repo_name=name).first()
        if pipeline is None:
            raise NotFound(f"pipeline {request.pipeline} not found")
        release = release_create(
            pipeline=pipeline,
            name=request.target,
            action=request.action,
            release_version=request.version,
            triggered_by_events=[manual_event(request.user)],
            now=now,
        )
    except DomainError as error:
        request_reply(request.reply, f"The release of {asked} was not made: {error.message}")
        raise
    url = run_url(run_kind(release.kind), release)
    transaction.on_commit(lambda: request_reply(request.reply, f"The release of {asked} is on its way: {url}"))
    audit_record(
        actor_kind=ActorKind.USER,
        actor=request.user,
        action="ci.releases.create",
        object_type="pipeline-release",
        object_id=f"{pipeline.full_name}/{release.pk}",
    )
    return release


def audit_run_started(run: Any, *, event: Mapping[str, Any]) -> Any:
    """Record in the audit trail that a trigger started ``run`` (the API records what people and clients do)."""
    if run is not None:
        fired_by = next((key for key in event if key not in ("fired", "name")), "trigger")
        audit_record(
            actor_kind=ActorKind.TRIGGER,
            actor=f"trigger:{fired_by}",
            action=f"ci.{run.kind}s.create",
            object_type=f"pipeline-{run.kind}",
            object_id=f"{run.pipeline.full_name}/{run.pk}",
        )
    return run


def _fire_build(pipeline: Pipeline, trigger: Trigger, event: dict[str, Any], *, now: datetime | None) -> Build | None:
    """Build the revision of the branch's latest build again, with a new version (Estafette's builds action)."""
    assert trigger.builds is not None
    branch = trigger.builds.branch
    latest = _latest_build_of_branch(pipeline, branch)
    if latest is None and branch == "master":
        latest = _latest_build_of_branch(pipeline, "main")  # the default branch may be main
    if latest is None:
        logger.warning("trigger of %s not fired: branch %s has no build to rebuild", pipeline.full_name, branch)
        return None
    return build_create(
        pipeline=pipeline,
        repo_branch=latest.repo_branch,
        repo_revision=latest.repo_revision,
        manifest_text=latest.manifest,
        commits=latest.commits,
        triggered_by_events=[event],
        now=now,
    )


def _latest_build_of_branch(pipeline: Pipeline, branch: str) -> Build | None:
    return Build.objects.filter(pipeline=pipeline, repo_branch=branch).order_by("-inserted_at", "-id").first()


def _fire_release(
    pipeline: Pipeline, trigger: Trigger, event: dict[str, Any], *, now: datetime | None
) -> Release | None:
    assert trigger.releases is not None
    action = trigger.releases
    version = _release_version(pipeline, action.version or "latest", action.target, action.action, event)
    if not version:
        logger.warning(
            "trigger of %s not fired: no version %r to release to %s",
            *(pipeline.full_name, action.version, action.target),
        )
        return None
    return release_create(
        pipeline=pipeline,
        name=action.target,
        action=action.action,
        release_version=version,
        triggered_by_events=[event],
        now=now,
    )


def _release_version(pipeline: Pipeline, wanted: str, target: str, action: str, event: Mapping[str, Any]) -> str:
    """``latest``: the pipeline's newest succeeded build; ``same``: the version of the event; ``current``:
    the version last released successfully to the target and action; anything else: itself."""
    if wanted == "latest":
        build = (
            Build.objects.filter(pipeline=pipeline, status=RunStatus.SUCCEEDED).order_by("-inserted_at", "-id").first()
        )
        return build.build_version if build is not None else ""
    if wanted == "same":
        pipeline_part, release_part = event.get("pipeline") or {}, event.get("release") or {}
        return str(pipeline_part.get("buildVersion") or release_part.get("releaseVersion") or "")
    if wanted == "current":
        release = (
            Release.objects.filter(pipeline=pipeline, name=target, action=action, status=RunStatus.SUCCEEDED)
            .order_by("-inserted_at", "-id")
            .first()
        )
        return release.release_version if release is not None else ""
    return wanted


# -- named triggers -------------------------------------------------------------------------------


class MissingNamedEvent(MissingJobEvent):
    """A named trigger refers to a pipeline without a succeeded build (or release) to describe."""


def trigger_named_events(
    *, manifest: Manifest, pipeline_full_name: str, fired: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The extra (not fired) events of a job: per named ``pipeline``/``release`` trigger with event
    ``finished``, the last succeeded build (on a branch the trigger allows) or release (to its target)
    of the pipeline it names. A name already among ``fired`` is not repeated.

    Raises ``MissingNamedEvent`` when there is none: Estafette then does not start the job.
    """
    taken = {str(event.get("name")) for event in fired if event.get("name")}
    events: list[dict[str, Any]] = []
    for trigger in manifest.all_triggers(pipeline_full_name):
        if not trigger.name or trigger.name in taken:
            continue
        if trigger.pipeline is not None and trigger.pipeline.event == "finished":
            build = _last_succeeded_build(trigger.pipeline.name, trigger.pipeline.branch)
            if build is None:
                raise MissingNamedEvent(
                    f"trigger {trigger.name!r} needs a succeeded build of {trigger.pipeline.name} "
                    f"on a branch matching {trigger.pipeline.branch!r}, and there is none"
                )
            events.append(replace(pipeline_event(build, event="finished"), name=trigger.name).to_dict())
        elif trigger.release is not None and trigger.release.event == "finished":
            release = _last_succeeded_release(trigger.release.name, trigger.release.target)
            if release is None:
                raise MissingNamedEvent(
                    f"trigger {trigger.name!r} needs a succeeded release of {trigger.release.name} "
                    f"to {trigger.release.target!r}, and there is none"
                )
            events.append(replace(release_event(release, event="finished"), name=trigger.name).to_dict())
        else:
            continue
        taken.add(trigger.name)
    return events


def _pipeline_named(full_name: str) -> Pipeline | None:
    source, _, rest = full_name.partition("/")
    owner, _, name = rest.partition("/")
    return Pipeline.objects.filter(repo_source__iexact=source, repo_owner__iexact=owner, repo_name__iexact=name).first()


def _last_succeeded_build(pipeline_name: str, branch_filter: str) -> Build | None:
    pipeline = _pipeline_named(pipeline_name)
    if pipeline is None:
        return None
    builds = Build.objects.select_related("pipeline").filter(pipeline=pipeline, status=RunStatus.SUCCEEDED)
    for build in builds.order_by("-inserted_at", "-id")[:RECENT_RUNS_SCANNED]:
        if filter_match(branch_filter, build.repo_branch):
            return build
    return None


def _last_succeeded_release(pipeline_name: str, target_filter: str) -> Release | None:
    pipeline = _pipeline_named(pipeline_name)
    if pipeline is None:
        return None
    releases = Release.objects.select_related("pipeline").filter(pipeline=pipeline, status=RunStatus.SUCCEEDED)
    for release in releases.order_by("-inserted_at", "-id")[:RECENT_RUNS_SCANNED]:
        if filter_match(target_filter, release.name):
            return release
    return None


def job_events_of_named_triggers(
    manifest: Manifest, pipeline_full_name: str, fired: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``trigger_named_events`` as the run engine's job-events hook (``runs.registry.register_job_events``)."""
    return trigger_named_events(manifest=manifest, pipeline_full_name=pipeline_full_name, fired=fired)
