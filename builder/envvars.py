"""The environment variables of stage and service containers (Estafette's §5.3 set). Pure functions.

Precedence, last wins: the builder's ``ESTAFETTE_*`` variables → the manifest's top-level ``env`` → the stage's (or
service's) ``env`` → extension variables and the stage/service name and image variables. Then every value has its
secret envelopes decrypted and its ``${ESTAFETTE_*}`` / ``$ESTAFETTE_*`` references expanded (an unknown
``ESTAFETTE_*`` reference becomes empty; references to other variables stay as written).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from builder.contracts import BuilderConfig

_DNS_INVALID = re.compile(r"[^a-z0-9-]+")
_LEADING_DIGITS_OR_HYPHENS = re.compile(r"^[0-9-]+")
# upper_snake's steps, compiled once at import (a standby's jobs find them compiled; ``re``'s own cache would not
# hold them before the first job)
_LOWER_THEN_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_UPPER_RUN_THEN_WORD = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]+")
_REFERENCE = re.compile(r"\$\{(ESTAFETTE_[A-Za-z0-9_]*)\}|\$(ESTAFETTE_[A-Za-z0-9_]*)")

# Trigger event types by their JSON key, named as Estafette's Go structs (PubSub → PUB_SUB)
_EVENT_TYPES = {
    "pipeline": "PIPELINE",
    "release": "RELEASE",
    "git": "GIT",
    "docker": "DOCKER",
    "cron": "CRON",
    "pubsub": "PUB_SUB",
    "github": "GITHUB",
    "bitbucket": "BITBUCKET",
    "manual": "MANUAL",
}


def dns_safe(value: str) -> str:
    """``value`` as a DNS label: lowercase, runs of other characters → ``-``, starts with a letter, ≤ 63 chars."""
    value = _DNS_INVALID.sub("-", value.lower()).replace("--", "-").strip("-")
    value = _LEADING_DIGITS_OR_HYPHENS.sub("", value)
    return value[:63].rstrip("-")


def upper_snake(name: str) -> str:
    """``repoName`` → ``REPO_NAME``, ``userID`` → ``USER_ID``, ``app-group`` → ``APP_GROUP``."""
    name = _LOWER_THEN_UPPER.sub(r"\1_\2", name)
    name = _UPPER_RUN_THEN_WORD.sub(r"\1_\2", name)
    return _NOT_ALPHANUMERIC.sub("_", name).strip("_").upper()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def builder_env(config: BuilderConfig, *, started_at: str, labels: Mapping[str, str]) -> dict[str, str]:
    """The ``ESTAFETTE_*`` variables of a run, except ``ESTAFETTE_BUILD_STATUS`` (it changes as stages fail)."""
    git, version = config.git, config.version
    env = {
        "ESTAFETTE_CI_SERVER": "estafette",
        "ESTAFETTE_CI_SERVER_BASE_URL": config.ci_server.base_url,
        "ESTAFETTE_GIT_SOURCE": git.repo_source,
        "ESTAFETTE_GIT_OWNER": git.repo_owner,
        "ESTAFETTE_GIT_NAME": git.repo_name,
        "ESTAFETTE_GIT_FULLNAME": f"{git.repo_owner}/{git.repo_name}",
        "ESTAFETTE_GIT_BRANCH": git.repo_branch,
        "ESTAFETTE_GIT_BRANCH_DNS_SAFE": dns_safe(git.repo_branch),
        "ESTAFETTE_GIT_REVISION": git.repo_revision,
        "ESTAFETTE_BUILD_VERSION": version.version,
        "ESTAFETTE_BUILD_VERSION_PATCH": str(version.current_counter),
        "ESTAFETTE_BUILD_VERSION_LABEL": version.label or "",
        "ESTAFETTE_BUILD_CURRENT_COUNTER": str(version.current_counter),
        "ESTAFETTE_BUILD_MAX_COUNTER": str(version.max_counter),
        "ESTAFETTE_BUILD_MAX_COUNTER_CURRENT_BRANCH": str(version.max_counter_current_branch),
        "ESTAFETTE_BUILD_DATETIME": started_at,
    }
    if version.major is not None:
        env["ESTAFETTE_BUILD_VERSION_MAJOR"] = str(version.major)
    if version.minor is not None:
        env["ESTAFETTE_BUILD_VERSION_MINOR"] = str(version.minor)
    if config.build is not None:
        env["ESTAFETTE_BUILD_ID"] = config.build.id
    if config.release is not None:
        env["ESTAFETTE_RELEASE_NAME"] = config.release.name
        env["ESTAFETTE_RELEASE_ACTION"] = config.release.action
        env["ESTAFETTE_RELEASE_ID"] = config.release.id
        env["ESTAFETTE_RELEASE_TRIGGERED_BY"] = config.release.triggered_by
    if config.bot is not None:
        env["ESTAFETTE_BOT_NAME"] = config.bot.name
        env["ESTAFETTE_BOT_ID"] = config.bot.id
    for key, value in labels.items():
        env[f"ESTAFETTE_LABEL_{upper_snake(key)}"] = _text(value)
    env.update(trigger_env(config.trigger_events))
    return env


def trigger_env(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``ESTAFETTE_TRIGGER_<TYPE>_<FIELD>`` for fired events and ``ESTAFETTE_TRIGGER_<NAME>_<FIELD>`` for named ones.

    Nested values (a Pub/Sub message, a webhook payload) are passed as compact JSON.
    """
    env: dict[str, str] = {}
    for event in events:
        for type_key, type_name in _EVENT_TYPES.items():
            payload = event.get(type_key)
            if not isinstance(payload, Mapping):
                continue
            prefixes = []
            if event.get("fired"):
                prefixes.append(f"ESTAFETTE_TRIGGER_{type_name}_")
            if event.get("name"):
                prefixes.append(f"ESTAFETTE_TRIGGER_{upper_snake(str(event['name']))}_")
            for prefix in prefixes:
                for field_name, value in payload.items():
                    env[prefix + upper_snake(field_name)] = _text(value)
    return env


def expand_references(value: str, env: Mapping[str, str]) -> str:
    """``value`` with ``${ESTAFETTE_X}`` / ``$ESTAFETTE_X`` replaced by ``env``'s value (empty when unset)."""
    if "$" not in value:
        return value
    return _REFERENCE.sub(lambda match: env.get(match.group(1) or match.group(2), ""), value)


def container_env(
    *,
    builder: Mapping[str, str],
    manifest_env: Mapping[str, Any],
    own_env: Mapping[str, Any],
    extension: Mapping[str, str],
    decrypt: Callable[[str], str] = lambda value: value,
) -> dict[str, str]:
    """The full environment of one stage or service container, in Estafette's precedence (see the module doc).

    ``builder`` holds the ``ESTAFETTE_*`` variables including ``ESTAFETTE_BUILD_STATUS``; ``extension`` the
    extension variables plus ``ESTAFETTE_STAGE_NAME``/``ESTAFETTE_SERVICE_NAME`` and the image variables.
    ``decrypt`` replaces the secret envelopes in one value.
    """
    merged: dict[str, str] = dict(builder)
    for layer in (manifest_env, own_env, extension):
        for key, value in layer.items():
            merged[str(key)] = _text(value)
    decrypted = {key: decrypt(value) for key, value in merged.items()}
    return {key: expand_references(value, decrypted) for key, value in decrypted.items()}
