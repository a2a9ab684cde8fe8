"""A JSON Schema (draft 2020-12) of ``.estafette.yaml`` for editors with a YAML language server.

It is as strict as Estafette where Estafette is strict (the top level, ``builder``, ``version`` and the
top-level triggers reject unknown keys) and as lenient where it is lenient (stages and services keep
unknown keys as extension properties; releases, templates and bots ignore them). Scalars Estafette
reads as text may be written as numbers or booleans, as YAML allows.
"""

from __future__ import annotations

from typing import Any

from builder.manifest.triggers import CRON_DESCRIPTORS

_OPTIONAL_TEXT = {"type": ["string", "number", "boolean", "null"]}
_FLAG = {"type": ["boolean", "null"]}
_TEXTS = {"type": ["array", "null"], "items": _OPTIONAL_TEXT}
_TEXT_MAP = {"type": ["object", "null"], "additionalProperties": _OPTIONAL_TEXT}
_WHEN = (
    "An expression (govaluate syntax) over status, branch, action, trigger and server; default status == 'succeeded'."
)


def _text(description: str) -> dict[str, Any]:
    return {**_OPTIONAL_TEXT, "description": description}


def _object(properties: dict[str, Any], *, strict: bool, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": ["object", "null"], "properties": properties}
    if strict:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def _ordered_map(item: str, description: str) -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "description": description,
        "additionalProperties": {"$ref": f"#/$defs/{item}"},
    }


def _builder(*, strict: bool) -> dict[str, Any]:
    return _object(
        {
            "track": _text("Builder image track, e.g. stable, beta or dev (default: the first track of the OS)."),
            "os": {
                "enum": ["linux", "windows", None],
                "description": "Operating system of the builder (default linux).",
            },
            "medium": {"enum": ["", "memory", None], "description": "memory puts the work directories on tmpfs."},
            "type": {"enum": ["docker", "kubernetes", None], "description": "How stages run (default docker)."},
        },
        strict=strict,
        description="Which builder runs the stages.",
    )


def _version() -> dict[str, Any]:
    semver = _object(
        {
            "major": {"type": ["integer", "null"]},
            "minor": {"type": ["integer", "null"]},
            "patch": _text("Patch template; {{auto}} is the build counter (default {{auto}})."),
            "labelTemplate": _text("Label template; {{branch}} by default, tidied into a DNS label."),
            "releaseBranch": {
                "description": "Branch regex(es) that build versions without label (default master and main).",
                "anyOf": [_OPTIONAL_TEXT, _TEXTS],
            },
        },
        strict=True,
    )
    custom = _object(
        {"labelTemplate": _text("Version template with {{auto}}, {{branch}}, {{revision}} (default {{revision}}).")},
        strict=True,
    )
    return _object({"semver": semver, "custom": custom}, strict=True, description="How build versions are made.")


def _filter(properties: dict[str, str], *, strict: bool, description: str) -> dict[str, Any]:
    return _object({key: _text(text) for key, text in properties.items()}, strict=strict, description=description)


def _events_filter(*, strict: bool, provider: str) -> dict[str, Any]:
    return _object(
        {
            "events": {**_TEXTS, "description": f"{provider} webhook event names that fire the trigger."},
            "repository": _text("Repository (source/owner/name) or self (default)."),
        },
        strict=strict,
        description=f"Fires on {provider} webhook events.",
    )


def _trigger(*, strict: bool) -> dict[str, Any]:
    branch = "Branch regex; =~ / !~ prefixes allowed (default master|main)."
    return _object(
        {
            "name": _text("Names the trigger; its last succeeded event is available to every job."),
            "pipeline": _filter(
                {
                    "event": "started or finished (default)",
                    "status": "succeeded (default) or failed",
                    "name": "Pipeline source/owner/name or self",
                    "branch": branch,
                },
                strict=strict,
                description="Fires when a build of a pipeline starts or finishes.",
            ),
            "release": _filter(
                {
                    "event": "started or finished (default)",
                    "status": "succeeded (default) or failed",
                    "name": "Pipeline source/owner/name or self",
                    "target": "Release target regex",
                },
                strict=strict,
                description="Fires when a release of a pipeline starts or finishes.",
            ),
            "git": _filter(
                {"event": "push (default)", "repository": "Repository source/owner/name", "branch": branch},
                strict=strict,
                description="Fires on pushes to another repository.",
            ),
            "docker": _filter(
                {"event": "e.g. push", "image": "Image regex", "tag": "Tag regex"},
                strict=strict,
                description="Fires when a matching image is pushed.",
            ),
            "cron": _filter(
                {
                    "schedule": "<minute> <hour> <day of month> <month> <day of week> (UTC), or "
                    + ", ".join(sorted(CRON_DESCRIPTORS))
                },
                strict=strict,
                description="Fires on a schedule.",
            ),
            "pubsub": _filter(
                {"project": "Google Cloud project regex", "topic": "Pub/Sub topic regex"},
                strict=strict,
                description="Fires on Pub/Sub messages.",
            ),
            "github": _events_filter(strict=strict, provider="GitHub"),
            "bitbucket": _events_filter(strict=strict, provider="Bitbucket"),
            "builds": _filter(
                {"branch": "Branch whose latest build is rebuilt (default master)"},
                strict=strict,
                description="Build action (top-level triggers).",
            ),
            "releases": _filter(
                {
                    "target": "Always this release",
                    "action": "Release action",
                    "version": "latest (default), same, current or a version",
                },
                strict=strict,
                description="Release action (release triggers).",
            ),
            "runs": _filter(
                {"bot": "Always this bot", "branch": "Branch to run against (default master)"},
                strict=strict,
                description="Bot action (bot triggers).",
            ),
        },
        strict=strict,
        description="One event filter plus the action to take when it fires.",
    )


def _stage() -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "description": "A stage; keys not listed here are passed to extensions as ESTAFETTE_EXTENSION_* variables.",
        "properties": {
            "image": _text("Container image, e.g. golang:1.21 or extensions/docker:stable."),
            "shell": _text("Shell for commands (default /bin/sh, powershell on windows)."),
            "workDir": _text("Work directory (default /estafette-work, C:/estafette-work on windows)."),
            "commands": {**_TEXTS, "description": "Commands to run; without them the image's entrypoint runs."},
            "runCommandsInForeground": _FLAG,
            "when": _text(_WHEN),
            "env": {**_TEXT_MAP, "description": "Environment variables of this stage."},
            "autoInjected": _FLAG,
            "parallelStages": _ordered_map("stage", "Stages that run at the same time (one level deep)."),
            "services": {"type": ["array", "null"], "items": {"$ref": "#/$defs/service"}},
        },
    }


def _readiness() -> dict[str, Any]:
    return _object(
        {
            "httpGet": _object(
                {
                    "path": _text("Path to GET."),
                    "port": {"type": ["integer", "null"]},
                    "host": _text("Host (default the service name)."),
                    "scheme": _text("http (default) or https"),
                },
                strict=False,
            ),
            "exec": _object({"command": _TEXTS}, strict=False),
            "timeoutSeconds": {"type": ["integer", "null"], "description": "Default 60."},
            "path": _text("Legacy: path to GET."),
            "port": {"type": ["integer", "null"], "description": "Legacy: port (default 80)."},
            "protocol": _text("Legacy: http (default) or https."),
            "hostname": _text("Legacy: host (default the service name)."),
        },
        strict=False,
    )


def _service() -> dict[str, Any]:
    return {
        "type": ["object", "null"],
        "description": "A service container reachable from the stages by its name.",
        "properties": {
            "name": _text("Container and DNS name."),
            "image": _text("Container image."),
            "shell": _text("Shell for commands."),
            "commands": _TEXTS,
            "runCommandsInForeground": _FLAG,
            "multiStage": {
                **_FLAG,
                "description": "Keep running for later stages (default: true if the stage has no image).",
            },
            "when": _text(_WHEN),
            "env": _TEXT_MAP,
            "readiness": {"$ref": "#/$defs/readiness"},
            "readinessProbe": {"$ref": "#/$defs/readiness"},
        },
    }


def _release_like(*, with_template: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": _text("Overrides the key as the name."),
        "builder": {"$ref": "#/$defs/lenientBuilder"},
        "clone": {**_FLAG, "description": "Clone the repository first (default false)."},
        "actions": {
            "type": ["array", "null"],
            "items": _object({"name": _text("Action name"), "hideBadge": _FLAG}, strict=False),
        },
        "triggers": {"type": ["array", "null"], "items": {"$ref": "#/$defs/lenientTrigger"}},
        "stages": _ordered_map("stage", "Stages of the release, in order."),
    }
    if with_template:
        properties["template"] = _text("Name of a release template to start from.")
    return _object(properties, strict=False)


def manifest_schema() -> dict[str, Any]:
    """The schema as a JSON-ready dict."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Estafette CI manifest (.estafette.yaml)",
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {
            "archived": {**_FLAG, "description": "Hide the pipeline and ignore its triggers."},
            "builder": {"$ref": "#/$defs/builder"},
            "labels": {**_TEXT_MAP, "description": "Free-form labels (ESTAFETTE_LABEL_*)."},
            "version": _version(),
            "env": {**_TEXT_MAP, "description": "Environment variables for every stage and service."},
            "triggers": {"type": ["array", "null"], "items": {"$ref": "#/$defs/trigger"}},
            "stages": _ordered_map("stage", "The stages of a build, in order."),
            "pipelines": _ordered_map("stage", "Deprecated name of stages."),
            "releases": _ordered_map("release", "Release targets, in order."),
            "releaseTemplates": _ordered_map("releaseTemplate", "Reusable release definitions."),
            "bots": _ordered_map("bot", "Jobs that only run on their triggers."),
        },
        "$defs": {
            "builder": _builder(strict=True),
            "lenientBuilder": _builder(strict=False),
            "trigger": _trigger(strict=True),
            "lenientTrigger": _trigger(strict=False),
            "stage": _stage(),
            "service": _service(),
            "readiness": _readiness(),
            "release": _release_like(with_template=True),
            "releaseTemplate": _release_like(with_template=False),
            "bot": _object(
                {
                    "events": _TEXTS,
                    "builder": {"$ref": "#/$defs/lenientBuilder"},
                    "clone": _FLAG,
                    "triggers": {"type": ["array", "null"], "items": {"$ref": "#/$defs/lenientTrigger"}},
                    "stages": _ordered_map("stage", "Stages of the bot, in order."),
                },
                strict=False,
            ),
        },
    }
