"""Trigger validation: Estafette's rules and messages, every problem reported at its place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from builder.manifest.errors import ErrorCollector
from builder.manifest.fields import where
from builder.manifest.regex import filter_error
from builder.manifest.triggers import (
    BitbucketTrigger,
    CronTrigger,
    GithubTrigger,
    GitTrigger,
    PipelineTrigger,
    PubSubTrigger,
    ReleaseTrigger,
    Trigger,
    TriggerType,
    cron_schedule_error,
)

_ALL_TYPES = "'pipeline', 'release', 'git', 'docker', 'cron', 'pubsub', 'github' or 'bitbucket'"
_FINISHED_STATUSES = ("succeeded", "failed")


def _build_or_release_filter_problems(kind: str, found: PipelineTrigger | ReleaseTrigger) -> list[tuple[str, str]]:
    problems = []
    if found.event not in ("started", "finished"):
        problems.append(("event", f"Set {kind}.event in your trigger to 'started' or 'finished'"))
    if found.event == "finished" and found.status not in _FINISHED_STATUSES:
        problems.append(
            ("status", f"Set {kind}.status in your trigger to 'succeeded' or 'failed' for event 'finished'")
        )
    if not found.name:
        problems.append(
            (
                "",
                f"Set {kind}.name in your trigger to 'self' or a full qualified pipeline name, "
                "i.e. github.com/estafette/estafette-ci-manifest",
            )
        )
    return problems


def _pipeline_problems(found: PipelineTrigger) -> list[tuple[str, str]]:
    return _build_or_release_filter_problems("pipeline", found)


def _release_problems(found: ReleaseTrigger) -> list[tuple[str, str]]:
    problems = _build_or_release_filter_problems("release", found)
    if not found.target:
        problems.append(
            ("", "Set release.target in your trigger to a release target name on the pipeline set by release.name")
        )
    return problems


def _git_problems(found: GitTrigger) -> list[tuple[str, str]]:
    problems = []
    if found.event != "push":
        problems.append(("event", "Set git.event in your trigger to 'push'"))
    if not found.repository:
        problems.append(
            (
                "",
                "Set git.repository in your trigger to a full qualified git repository name, "
                "i.e. github.com/estafette/estafette-ci-manifest",
            )
        )
    return problems


def _cron_problems(found: CronTrigger) -> list[tuple[str, str]]:
    if not found.schedule:
        return [("", "Set cron.schedule in your trigger to '<minute> <hour> <day of month> <month> <day of week>'")]
    error = cron_schedule_error(found.schedule)
    return [("schedule", f"Invalid cron.schedule in your trigger: {error}")] if error else []


def _pubsub_problems(found: PubSubTrigger) -> list[tuple[str, str]]:
    problems = []
    if not found.project:
        problems.append(
            ("", "Set pubsub.project in your trigger to the google cloud project id containing the pubsub topic")
        )
    if not found.topic:
        problems.append(
            ("", "Set pubsub.topic in your trigger to the pubsub topic you want this pipeline to subscribe to")
        )
    return problems


def _github_problems(found: GithubTrigger) -> list[tuple[str, str]]:
    return [] if found.events else [("", "Set array github.events in your trigger to at least one github event")]


def _bitbucket_problems(found: BitbucketTrigger) -> list[tuple[str, str]]:
    if found.events:
        return []
    return [("", "Set array bitbucket.events in your trigger to at least one bitbucket event")]


_FILTER_RULES: dict[str, Callable[[Any], list[tuple[str, str]]]] = {
    "pipeline": _pipeline_problems,
    "release": _release_problems,
    "git": _git_problems,
    "cron": _cron_problems,
    "pubsub": _pubsub_problems,
    "github": _github_problems,
    "bitbucket": _bitbucket_problems,
}


# The filter fields evaluated as regular expressions (``regexMatch``, pubsub's ``^(…)$``); names and repositories
# are compared as text. Estafette lets an invalid pattern through and the trigger silently never fires; here the
# author learns it when the manifest is pushed.
_REGEX_FIELDS: dict[str, tuple[str, ...]] = {
    "pipeline": ("event", "status", "branch"),
    "release": ("event", "status", "target"),
    "git": ("event", "branch"),
    "docker": ("event", "image", "tag"),
    "pubsub": ("project", "topic"),
}


def _regex_problems(kind: str, found: Any) -> list[tuple[str, str]]:
    problems = []
    for key in _REGEX_FIELDS.get(kind, ()):
        error = filter_error(getattr(found, key))
        if error is not None:
            problems.append((key, f"Set {kind}.{key} in your trigger to a valid regular expression (RE2): {error}"))
    return problems


def validate_trigger(trigger: Trigger, errors: ErrorCollector, *, trigger_type: TriggerType, target_name: str) -> None:
    """Estafette's trigger rules, all of them reported: filter fields, one filter only, the right action."""
    owner = trigger.positions.get("")
    filters = trigger.filters()
    if not filters:
        errors.invalid(owner, where(trigger.positions), f"Set at least a {_ALL_TYPES} trigger")
    for kind, found in filters:
        rule = _FILTER_RULES.get(kind)
        for key, message in [*(rule(found) if rule else []), *_regex_problems(kind, found)]:
            errors.invalid(owner, where(found.positions, key), message)
    if len(filters) > 1:
        message = f"Do not specify more than one type of trigger {_ALL_TYPES} per trigger object"
        errors.invalid(owner, where(filters[1][1].positions), message)
    _validate_action(trigger, errors, trigger_type=trigger_type, target_name=target_name)


def _validate_action(trigger: Trigger, errors: ErrorCollector, *, trigger_type: TriggerType, target_name: str) -> None:
    owner = trigger.positions.get("")
    here = where(trigger.positions)
    if trigger_type == "build":
        if trigger.builds is None:
            errors.invalid(owner, here, "For a build trigger set the 'builds' property")
        if trigger.releases is not None:
            errors.invalid(
                owner, where(trigger.positions, "releases"), "For a build trigger do not set the 'releases' property"
            )
    elif trigger_type == "release":
        if trigger.releases is None:
            errors.invalid(owner, here, "For a release trigger set the 'releases' property")
        if trigger.builds is not None:
            errors.invalid(
                owner, where(trigger.positions, "builds"), "For a release trigger do not set the 'builds' property"
            )
        if trigger.releases is not None and trigger.releases.target != target_name:
            message = f"The target in your releases action should have defaulted to '{target_name}'"
            errors.invalid(owner, where(trigger.releases.positions, "target"), message)
    elif trigger.runs is None:
        errors.invalid(owner, here, "For a bot trigger set the 'runs' property")
