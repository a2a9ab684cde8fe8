"""The JSON Estafette's web UI reads, written from ESTAFETTE.md (§3.3, §3.4) and the Go contracts' field names
(estafette-ci-contracts: build.go, release.go, bot.go, pipeline.go, build_log.go, list_response.go)."""

from __future__ import annotations

from typing import Any

from tests.contract.shapes import TIMESTAMP, Nullable

EVENT: dict[str, Any] = {
    "name?": str,
    "fired?": bool,
    "pipeline?": dict,
    "release?": dict,
    "git?": dict,
    "docker?": dict,
    "cron?": dict,
    "pubsub?": dict,
    "github?": dict,
    "bitbucket?": dict,
    "manual?": {"userID": str},
}
LABEL = {"key": str, "value": str}
ACTION = {"name": str, "hideBadge": bool}
REPOSITORY = {"repoSource": str, "repoOwner": str, "repoName": str}
TIMES = {"insertedAt": TIMESTAMP, "startedAt?": TIMESTAMP, "updatedAt": TIMESTAMP, "duration?": int}
COMMIT = {"message": str, "author": {"email": str, "name": str, "username": str}}

RELEASE = {
    "id": str,
    "name": str,
    "action": str,
    **REPOSITORY,
    "releaseVersion": str,
    "releaseStatus": str,
    "triggerEvents": [EVENT],
    **TIMES,
    "pendingDuration?": int,
}
ACTIVE_RELEASE = {**RELEASE, "extraInfo": {"medianPendingDuration": int, "medianDuration": int}}
BUILD = {
    "id": str,
    **REPOSITORY,
    "repoBranch": str,
    "repoRevision": str,
    "buildVersion": str,
    "buildStatus": str,
    "labels": [LABEL],
    "releaseTargets": [{"name": str, "actions": [ACTION]}],
    "commits": [COMMIT],
    "triggers": [dict],
    "triggerEvents": [EVENT],
    **TIMES,
    "pendingDuration?": int,
}
BUILD_DETAIL = {**BUILD, "manifest": str, "manifestWithDefaults": str}
PIPELINE = {
    **BUILD,
    "releaseTargets": [{"name": str, "actions": [ACTION], "activeReleases": [ACTIVE_RELEASE]}],
    "archived": bool,
    "lastUpdatedAt": Nullable(TIMESTAMP),
    "recentCommitters": [str],
    "recentReleasers": [str],
    "extraInfo": {"medianDuration?": int, "medianPendingDuration?": int},
}
BOT = {
    "id": str,
    "name": str,
    **REPOSITORY,
    "botStatus": str,
    "triggerEvents": [EVENT],
    **TIMES,
    "pendingDuration?": int,
}

LOG_LINE = {"line": int, "timestamp": str, "streamType": str, "text": str}
IMAGE = {
    "name": str,
    "tag": str,
    "isPulled": bool,
    "imageSize": int,
    "pullDuration": int,
    "error?": str,
    "isTrusted?": bool,
    "hasInjectedCredentials?": bool,
}
_STEP_HEAD = {
    "step": str,
    "depth": int,
    "runIndex": int,
    "image": Nullable(IMAGE),
    "duration": int,
    "exitCode": int,
    "status": str,
    "autoInjected": bool,
    "logLines": [LOG_LINE],
}
SERVICE_STEP = {**_STEP_HEAD}
NESTED_STEP = {**_STEP_HEAD, "services": [SERVICE_STEP]}
STEP = {**_STEP_HEAD, "nestedSteps": [NESTED_STEP], "services": [SERVICE_STEP]}


def log_of(run_id_field: str, *, build: bool = False) -> dict[str, Any]:
    """A BuildLog, ReleaseLog or BotLog (``buildID``, ``releaseID``, ``botID``)."""
    head = {"id": str, **REPOSITORY, run_id_field: str, "insertedAt": TIMESTAMP}
    if build:
        head |= {"repoBranch": str, "repoRevision": str}
    return {**head, "steps": [STEP]}


def log_record_of(run_id_field: str, *, build: bool = False) -> dict[str, Any]:
    """An item of ``…/alllogs``: a log without its steps' content."""
    return {**log_of(run_id_field, build=build), "steps": list}


NAME_COUNT = {"name": str, "count": int}
RANKING = {"repo_source": str, "repo_owner": str, "repo_name": str, "nr_records": int}
WARNINGS = {"warnings": [{"status": str, "message": str}]}
DURATIONS = {"durations": [{"insertedAt": TIMESTAMP, "pendingDuration": int, "duration": int}]}
MEASUREMENTS_CPU = {"measurements": [{"insertedAt": TIMESTAMP, "cpuMaxUsage": float}]}
MEASUREMENTS_MEMORY = {"measurements": [{"insertedAt": TIMESTAMP, "memoryMaxUsage": float}]}
COUNT = {"count": int}
CONFIG = {"config": str}
