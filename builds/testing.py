"""Helpers for tests that need pipelines, builds and logs in a given state (through the services)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from builds.models import Build
from builds.services import build_cancel, build_create, build_finish, build_start
from estafette.lib.jobtokens import issue_job_token
from pipelines.models import Pipeline
from pipelines.services import pipeline_get_or_create
from runs.callbacks import callback_urls
from runs.models import RunStatus

MANIFEST = """\
labels:
  team: ci
  language: python

version:
  semver:
    major: 1
    minor: 2

stages:
  build:
    image: python:3.11-slim
    commands:
    - python -m pytest

releases:
  staging:
    stages:
      deploy:
        image: extensions/deploy:stable
        token: estafette.secret(deFTz5Bdjg6SUe29.oPIkXbze5G9PNEWS2-ZnArl8BCqHnx4MdTdxHg37th9u)
  production:
    actions:
    - name: deploy
    - name: rollback
      hideBadge: true
    stages:
      deploy:
        image: extensions/deploy:stable

bots:
  tidy:
    triggers:
    - cron:
        schedule: '0 2 * * *'
    stages:
      tidy:
        image: alpine:3.20
        commands:
        - echo tidy
"""

INVALID_MANIFEST = """\
labels:
  team: ci
stages: {}
"""

_revisions = itertools.count(1)


def next_revision() -> str:
    return f"{next(_revisions):040x}"


def make_pipeline(name: str = "api", *, owner: str = "acme", source: str = "github.com") -> Pipeline:
    return pipeline_get_or_create(repo_source=source, repo_owner=owner, repo_name=name)


def make_build(
    pipeline: Pipeline | None = None,
    *,
    status: str = RunStatus.PENDING,
    branch: str = "master",
    revision: str | None = None,
    manifest: str = MANIFEST,
    commits: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
    started: datetime | None = None,
    finished: datetime | None = None,
) -> Build:
    """A build created by ``build_create`` and moved to ``status`` through the real transitions."""
    pipeline = pipeline or make_pipeline()
    build = build_create(
        pipeline=pipeline,
        repo_branch=branch,
        repo_revision=revision or next_revision(),
        manifest_text=manifest,
        commits=commits or [],
        now=now,
    )
    if status in (RunStatus.PENDING, build.status):
        return build
    if status == RunStatus.CANCELED:
        assert build_finish(build=build, status=RunStatus.CANCELED, now=finished)
        return build
    assert build_start(build=build, now=started)
    if status == RunStatus.CANCELING:
        build_cancel(build=build, now=finished)
    elif status != RunStatus.RUNNING:
        assert build_finish(build=build, status=status, now=finished)
    return build


def builder_config_for(
    build: Build, *, base_url: str, stages: list[dict[str, Any]], job_name: str = ""
) -> dict[str, Any]:
    """A minimal ``BuilderConfig`` (JSON) for ``build`` reporting to ``base_url``: the given stages, no secrets.

    For tests of the builder against the API; production configurations come from ``runs.dispatch``.
    """
    status_url, logs_url = callback_urls(kind=Build.kind, run_id=build.pk, base_url=base_url)
    pipeline = build.pipeline
    return {
        "jobType": Build.kind,
        "build": {"id": str(build.pk)},
        "jobName": job_name,
        "git": {
            "repoSource": pipeline.repo_source,
            "repoOwner": pipeline.repo_owner,
            "repoName": pipeline.repo_name,
            "repoBranch": build.repo_branch,
            "repoRevision": build.repo_revision,
        },
        "version": {"version": build.build_version, "currentCounter": build.counter or 0},
        "manifest": {},
        "stages": stages,
        "ciServer": {
            "baseUrl": base_url,
            "statusUrl": status_url,
            "logsUrl": logs_url,
            "jobToken": issue_job_token(kind=Build.kind, run_id=build.pk),
        },
    }
