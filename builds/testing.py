"""Helpers for tests that need pipelines, builds and logs in a given state (through the services)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from builder.contracts import TailLogLine
from builds.models import Build
from builds.services import build_cancel, build_create, build_finish, build_start
from pipelines.models import Pipeline
from pipelines.services import pipeline_get_or_create
from runs.models import Run, RunStatus

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


class DjangoBuilderApi:
    """The builder endpoints of one build, for ``builder.tests.api_contract`` (``builder.testing.ApiUnderTest``).

    ``base_url`` is where the API listens (pytest-django's ``live_server``); the build is reported with its own job
    token. What was stored is read back from the database.
    """

    def __init__(self, *, base_url: str, run: Run, kind: str = "build") -> None:
        from builds.callbacks import callback_urls
        from estafette.lib.jobtokens import issue_job_token

        self.run, self.kind = run, kind
        self.run_id = str(run.pk)
        self.status_url, self.logs_url = callback_urls(kind=kind, run_id=run.pk, base_url=base_url)
        self.job_token = issue_job_token(kind=kind, run_id=run.pk)

    def stored_statuses(self) -> list[str]:
        """The statuses the run went through as far as the database shows: ``running`` once it started, then its
        final status."""
        self.run.refresh_from_db()
        statuses = [RunStatus.RUNNING.value] if self.run.started_at else []
        if self.run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
            statuses.append(str(self.run.status))
        return statuses

    def stored_lines(self) -> list[TailLogLine]:
        """The tail lines of the run's latest log record, in seq order."""
        from builds.selectors import log_entries_after, log_record_latest

        record = log_record_latest(run_kind=self.kind, run_id=self.run.pk)
        if record is None:
            return []
        entries, _ = log_entries_after(record=record, after_seq=0, limit=100_000)
        return [TailLogLine.from_dict(entry) for entry in entries]


def builder_config_for(
    build: Build, *, base_url: str, stages: list[dict[str, Any]], job_name: str = ""
) -> dict[str, Any]:
    """A minimal ``BuilderConfig`` (JSON) for ``build`` reporting to ``base_url``: the given stages, no secrets.

    For tests of the builder against the API; production configurations come from ``builds.dispatch``.
    """
    from builds.callbacks import callback_urls
    from estafette.lib.jobtokens import issue_job_token

    status_url, logs_url = callback_urls(kind="build", run_id=build.pk, base_url=base_url)
    pipeline = build.pipeline
    return {
        "jobType": "build",
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
            "jobToken": issue_job_token(kind="build", run_id=build.pk),
        },
    }
