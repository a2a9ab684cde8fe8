"""Triggers: an event filter of one of eight types plus the action to take when it fires.

Where a trigger is written decides its action: top-level triggers rebuild (``builds``), release triggers
release (``releases``) and bot triggers run the bot (``runs``). Two of Estafette's bugs are fixed here on
purpose: github and bitbucket triggers only fire for the events they list, and docker triggers fire for
pushes of a matching image (Estafette's never fire).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from yaml.nodes import Node

from builder.manifest.errors import ErrorCollector, Position
from builder.manifest.events import (
    BitbucketEvent,
    CronEvent,
    DockerEvent,
    Event,
    GitEvent,
    GithubEvent,
    PipelineEvent,
    PubSubEvent,
    ReleaseEvent,
)
from builder.manifest.fields import compact, positions_field
from builder.manifest.loader import Fields, is_null, position_of
from builder.manifest.preferences import ManifestPreferences
from builder.manifest.regex import filter_match

TriggerType = Literal["build", "release", "bot"]

DEFAULT_BRANCHES = "master|main"
SELF = "self"
FILTER_TYPES = ("pipeline", "release", "git", "docker", "cron", "pubsub", "github", "bitbucket")
TRIGGER_KEYS = frozenset({"name", *FILTER_TYPES, "builds", "releases", "runs"})
CRON_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def _same_name(left: str, right: str) -> bool:
    return left.casefold() == right.casefold()


@dataclass(frozen=True)
class PipelineTrigger:
    """Fires when a build of pipeline ``name`` (``source/owner/repo`` or ``self``) starts or finishes."""

    event: str = ""
    status: str = ""
    name: str = ""
    branch: str = ""
    positions: Mapping[str, Position] = positions_field()

    def fires(self, event: PipelineEvent) -> bool:
        if not filter_match(self.event, event.event):
            return False
        if self.event == "finished" and not filter_match(self.status, event.status):
            return False
        if not _same_name(self.name, f"{event.repo_source}/{event.repo_owner}/{event.repo_name}"):
            return False
        return filter_match(self.branch, event.branch)

    def to_dict(self) -> dict[str, Any]:
        return compact({"event": self.event, "status": self.status, "name": self.name, "branch": self.branch})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineTrigger:
        return cls(**{key: data.get(key) or "" for key in ("event", "status", "name", "branch")})


@dataclass(frozen=True)
class ReleaseTrigger:
    """Fires when a release of pipeline ``name`` to ``target`` starts or finishes."""

    event: str = ""
    status: str = ""
    name: str = ""
    target: str = ""
    positions: Mapping[str, Position] = positions_field()

    def fires(self, event: ReleaseEvent) -> bool:
        if not filter_match(self.event, event.event):
            return False
        if self.event == "finished" and not filter_match(self.status, event.status):
            return False
        if not _same_name(self.name, f"{event.repo_source}/{event.repo_owner}/{event.repo_name}"):
            return False
        return filter_match(self.target, event.target)

    def to_dict(self) -> dict[str, Any]:
        return compact({"event": self.event, "status": self.status, "name": self.name, "target": self.target})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseTrigger:
        return cls(**{key: data.get(key) or "" for key in ("event", "status", "name", "target")})


@dataclass(frozen=True)
class GitTrigger:
    """Fires on a push to ``repository`` (``source/owner/repo``) on a matching branch."""

    event: str = ""
    repository: str = ""
    branch: str = ""
    positions: Mapping[str, Position] = positions_field()

    def fires(self, event: GitEvent) -> bool:
        return (
            filter_match(self.event, event.event)
            and _same_name(self.repository, event.repository)
            and filter_match(self.branch, event.branch)
        )

    def to_dict(self) -> dict[str, Any]:
        return compact({"event": self.event, "repository": self.repository, "branch": self.branch})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GitTrigger:
        return cls(**{key: data.get(key) or "" for key in ("event", "repository", "branch")})


@dataclass(frozen=True)
class DockerTrigger:
    """Fires when a matching ``image`` is pushed; ``event`` and ``tag``, when set, must match as well."""

    event: str = ""
    image: str = ""
    tag: str = ""
    positions: Mapping[str, Position] = positions_field()

    def fires(self, event: DockerEvent) -> bool:
        if not self.image or not filter_match(self.image, event.image):
            return False
        if self.event and not filter_match(self.event, event.event):
            return False
        return not self.tag or filter_match(self.tag, event.tag)

    def to_dict(self) -> dict[str, Any]:
        return compact({"event": self.event, "image": self.image, "tag": self.tag})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DockerTrigger:
        return cls(**{key: data.get(key) or "" for key in ("event", "image", "tag")})


@dataclass(frozen=True)
class CronTrigger:
    """Fires in the minutes its five-field cron ``schedule`` (UTC) selects."""

    schedule: str = ""
    positions: Mapping[str, Position] = positions_field()

    def fires(self, event: CronEvent) -> bool:
        if event.time is None or cron_schedule_error(self.schedule) is not None:
            return False
        from croniter import croniter

        moment = event.time.astimezone(UTC) if event.time.tzinfo else event.time
        minute = moment.replace(second=0, microsecond=0, tzinfo=None)
        # the next fire time after the minute before is this minute exactly when the schedule selects it
        next_time = croniter(self.schedule.strip(), minute - timedelta(minutes=1)).get_next(datetime)
        return bool(next_time == minute)

    def to_dict(self) -> dict[str, Any]:
        return compact({"schedule": self.schedule})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CronTrigger:
        return cls(schedule=data.get("schedule") or "")


@dataclass(frozen=True)
class PubSubTrigger:
    """Fires for messages on a Google Cloud Pub/Sub ``topic`` in ``project`` (both anchored regexes)."""

    project: str = ""
    topic: str = ""
    positions: Mapping[str, Position] = positions_field()

    def fires(self, event: PubSubEvent) -> bool:
        return filter_match(self.project, event.project) and filter_match(self.topic, event.topic)

    def to_dict(self) -> dict[str, Any]:
        return compact({"project": self.project, "topic": self.topic})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PubSubTrigger:
        return cls(project=data.get("project") or "", topic=data.get("topic") or "")


@dataclass(frozen=True)
class GithubTrigger:
    """Fires for the listed GitHub webhook ``events`` of ``repository`` (``self`` until resolved)."""

    events: tuple[str, ...] = ()
    repository: str = ""
    positions: Mapping[str, Position] = positions_field()

    def fires(self, event: GithubEvent) -> bool:
        if event.repository and not _same_name(event.repository, self.repository):
            return False
        return event.event in self.events

    def to_dict(self) -> dict[str, Any]:
        return compact({"events": list(self.events), "repository": self.repository})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GithubTrigger:
        return cls(events=tuple(data.get("events") or ()), repository=data.get("repository") or "")


@dataclass(frozen=True)
class BitbucketTrigger:
    """Fires for the listed Bitbucket webhook ``events`` of ``repository`` (``self`` until resolved)."""

    events: tuple[str, ...] = ()
    repository: str = ""
    positions: Mapping[str, Position] = positions_field()

    def fires(self, event: BitbucketEvent) -> bool:
        if event.repository and not _same_name(event.repository, self.repository):
            return False
        return event.event in self.events

    def to_dict(self) -> dict[str, Any]:
        return compact({"events": list(self.events), "repository": self.repository})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BitbucketTrigger:
        return cls(events=tuple(data.get("events") or ()), repository=data.get("repository") or "")


@dataclass(frozen=True)
class TriggerBuildAction:
    """Rebuild the latest build of ``branch``."""

    branch: str = ""
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        return compact({"branch": self.branch})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TriggerBuildAction:
        return cls(branch=data.get("branch") or "")


@dataclass(frozen=True)
class TriggerReleaseAction:
    """Release ``version`` (``latest``, ``same``, ``current`` or a literal) to ``target`` with ``action``."""

    target: str = ""
    action: str = ""
    version: str = ""
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        return compact({"target": self.target, "action": self.action, "version": self.version})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TriggerReleaseAction:
        return cls(target=data.get("target") or "", action=data.get("action") or "", version=data.get("version") or "")


@dataclass(frozen=True)
class TriggerBotAction:
    """Run ``bot`` against ``branch``."""

    bot: str = ""
    branch: str = ""
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        return compact({"bot": self.bot, "branch": self.branch})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TriggerBotAction:
        return cls(bot=data.get("bot") or "", branch=data.get("branch") or "")


Filter = (
    PipelineTrigger
    | ReleaseTrigger
    | GitTrigger
    | DockerTrigger
    | CronTrigger
    | PubSubTrigger
    | GithubTrigger
    | BitbucketTrigger
)


@dataclass(frozen=True)
class Trigger:
    """An optional ``name``, exactly one event filter (when valid) and the action for where it is written."""

    name: str = ""
    pipeline: PipelineTrigger | None = None
    release: ReleaseTrigger | None = None
    git: GitTrigger | None = None
    docker: DockerTrigger | None = None
    cron: CronTrigger | None = None
    pubsub: PubSubTrigger | None = None
    github: GithubTrigger | None = None
    bitbucket: BitbucketTrigger | None = None
    builds: TriggerBuildAction | None = None
    releases: TriggerReleaseAction | None = None
    runs: TriggerBotAction | None = None
    positions: Mapping[str, Position] = positions_field()

    def filters(self) -> list[tuple[str, Filter]]:
        """The event filters that are set, as (type, filter), in Estafette's type order."""
        return [(kind, found) for kind in FILTER_TYPES if (found := getattr(self, kind)) is not None]

    def fires(self, event: Event) -> bool:
        """Whether this trigger fires for ``event``: its filter matches the part of the event of its type.

        Resolve ``self`` first (``Manifest.all_triggers``); an unresolved ``self`` matches no pipeline.
        """
        for kind, event_filter in self.filters():
            part = getattr(event, kind)
            if part is not None and event_filter.fires(part):
                return True
        return False

    def with_self_resolved(self, pipeline_full_name: str) -> Trigger:
        """Replace ``self`` in pipeline/release names and github/bitbucket repositories."""
        changes: dict[str, Any] = {}
        if self.pipeline is not None and self.pipeline.name == SELF:
            changes["pipeline"] = replace(self.pipeline, name=pipeline_full_name)
        if self.release is not None and self.release.name == SELF:
            changes["release"] = replace(self.release, name=pipeline_full_name)
        if self.github is not None and self.github.repository == SELF:
            changes["github"] = replace(self.github, repository=pipeline_full_name)
        if self.bitbucket is not None and self.bitbucket.repository == SELF:
            changes["bitbucket"] = replace(self.bitbucket, repository=pipeline_full_name)
        return replace(self, **changes) if changes else self

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = compact({"name": self.name})
        for key in (*FILTER_TYPES, "builds", "releases", "runs"):
            part = getattr(self, key)
            if part is not None:
                data[key] = part.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trigger:
        parts: dict[str, Any] = {}
        for key, part_type in _PART_TYPES.items():
            if data.get(key) is not None:
                parts[key] = part_type.from_dict(data[key])
        return cls(name=data.get("name") or "", **parts)


_PART_TYPES: dict[str, Any] = {
    "pipeline": PipelineTrigger,
    "release": ReleaseTrigger,
    "git": GitTrigger,
    "docker": DockerTrigger,
    "cron": CronTrigger,
    "pubsub": PubSubTrigger,
    "github": GithubTrigger,
    "bitbucket": BitbucketTrigger,
    "builds": TriggerBuildAction,
    "releases": TriggerReleaseAction,
    "runs": TriggerBotAction,
}
_GO_TYPE_NAMES = {
    "pipeline": "manifest.EstafettePipelineTrigger",
    "release": "manifest.EstafetteReleaseTrigger",
    "git": "manifest.EstafetteGitTrigger",
    "docker": "manifest.EstafetteDockerTrigger",
    "cron": "manifest.EstafetteCronTrigger",
    "pubsub": "manifest.EstafettePubSubTrigger",
    "github": "manifest.EstafetteGithubTrigger",
    "bitbucket": "manifest.EstafetteBitbucketTrigger",
    "builds": "manifest.EstafetteTriggerBuildAction",
    "releases": "manifest.EstafetteTriggerReleaseAction",
    "runs": "manifest.EstafetteTriggerBotAction",
}
_STRING_KEYS = {
    "pipeline": ("event", "status", "name", "branch"),
    "release": ("event", "status", "name", "target"),
    "git": ("event", "repository", "branch"),
    "docker": ("event", "image", "tag"),
    "cron": ("schedule",),
    "pubsub": ("project", "topic"),
    "github": ("repository",),
    "bitbucket": ("repository",),
    "builds": ("branch",),
    "releases": ("target", "action", "version"),
    "runs": ("bot", "branch"),
}
_LIST_KEYS = {"github": ("events",), "bitbucket": ("events",)}


def parse_triggers(nodes: list[Node], errors: ErrorCollector, *, strict: bool) -> tuple[Trigger, ...]:
    return tuple(parse_trigger(node, errors, strict=strict) for node in nodes)


def parse_trigger(node: Node, errors: ErrorCollector, *, strict: bool) -> Trigger:
    """Top-level triggers are read strictly (unknown keys are errors); release and bot triggers are not."""
    owner = position_of(node)
    fields = Fields(node, errors, owner=owner, type_name="manifest.EstafetteTrigger")
    if strict:
        fields.reject_unknown(TRIGGER_KEYS, "manifest.EstafetteTrigger")
    parts: dict[str, Any] = {}
    for key, part_type in _PART_TYPES.items():
        part_node = fields.node(key)
        if key not in fields or is_null(part_node):
            continue
        part_fields = Fields(part_node, errors, owner=owner, type_name=_GO_TYPE_NAMES[key])
        if strict:
            part_fields.reject_unknown(frozenset(_STRING_KEYS[key] + _LIST_KEYS.get(key, ())), _GO_TYPE_NAMES[key])
        values: dict[str, Any] = {name: part_fields.string(name) for name in _STRING_KEYS[key]}
        values.update({name: part_fields.strings(name) or () for name in _LIST_KEYS.get(key, ())})
        positions = part_fields.positions()
        positions[""] = position_of(fields.keys[key])
        parts[key] = part_type(**values, positions=positions)
    return Trigger(name=fields.string("name"), **parts, positions=fields.positions())


def trigger_with_defaults(
    trigger: Trigger, *, preferences: ManifestPreferences, trigger_type: TriggerType, target_name: str
) -> Trigger:
    """Filter defaults, then the action for ``trigger_type``: created if missing, target/bot forced."""
    changes: dict[str, Any] = {}
    if trigger.pipeline is not None:
        changes["pipeline"] = replace(
            trigger.pipeline,
            event=trigger.pipeline.event or "finished",
            status=trigger.pipeline.status or "succeeded",
            branch=trigger.pipeline.branch or DEFAULT_BRANCHES,
        )
    if trigger.release is not None:
        changes["release"] = replace(
            trigger.release, event=trigger.release.event or "finished", status=trigger.release.status or "succeeded"
        )
    if trigger.git is not None:
        changes["git"] = replace(
            trigger.git, event=trigger.git.event or "push", branch=trigger.git.branch or DEFAULT_BRANCHES
        )
    if trigger.github is not None:
        changes["github"] = replace(trigger.github, repository=trigger.github.repository or SELF)
    if trigger.bitbucket is not None:
        changes["bitbucket"] = replace(trigger.bitbucket, repository=trigger.bitbucket.repository or SELF)
    if trigger_type == "build":
        builds = trigger.builds or TriggerBuildAction()
        changes["builds"] = replace(builds, branch=builds.branch or preferences.default_branch)
    elif trigger_type == "release":
        releases = trigger.releases or TriggerReleaseAction()
        same = (trigger.pipeline is not None and trigger.pipeline.name == SELF) or (
            trigger.release is not None and trigger.release.name == SELF
        )
        version = releases.version or ("same" if same else "latest")
        changes["releases"] = replace(releases, target=target_name, version=version)
    else:
        runs = trigger.runs or TriggerBotAction()
        changes["runs"] = replace(runs, bot=target_name, branch=runs.branch or preferences.default_branch)
    return replace(trigger, **changes)


def cron_schedule_error(schedule: str) -> str | None:
    """Why ``schedule`` is not a standard five-field cron expression, or ``None`` if it is one."""
    schedule = schedule.strip()
    if schedule in CRON_DESCRIPTORS:
        return None
    parts = schedule.split()
    if len(parts) != 5:
        return f"Expected exactly 5 fields, found {len(parts)}: {schedule}"
    from croniter import croniter

    try:
        croniter(schedule)
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        return str(exc) or f"cannot parse {schedule}"
    return None
