"""Helpers for tests that need pipelines, builds and logs in a given state (through the services)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from builds.models import Build, RunStatus
from builds.services import build_cancel, build_create, build_finish, build_start
from pipelines.models import Pipeline
from pipelines.services import pipeline_get_or_create

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
