"""A realistic installation for the contract suite: two pipelines with builds on two branches (succeeded, failed,
running), releases to two targets (one with actions), bot runs, logs of several attempts with images, parallel
stages and services, and a signed-in user who committed and released."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from builder.contracts import ImageInfo, LogLine, TailLogLine
from builds.models import Build
from builds.testing import MANIFEST, make_build, make_pipeline
from estafette.testing import client_for, make_user
from pipelines.models import Pipeline
from releases.models import BotRun, Release
from releases.services import bot_create, bot_finish, bot_start
from releases.testing import make_release
from runs.models import RunStatus
from runs.services import log_append, log_record_create

EMAIL = "ann@example.com"
# The test manifest with its staging release's image left unpinned (a best-practice warning).
WARNED_MANIFEST = MANIFEST.replace("image: extensions/deploy:stable\n", "image: extensions/deploy\n", 1)


@dataclass
class World:
    client: Any
    pipeline: Pipeline
    other: Pipeline
    build: Build  # succeeded, on master, with two log attempts
    failed: Build  # on a feature branch
    running: Build
    release: Release  # to production (deploy), succeeded
    bot_run: BotRun  # succeeded
    email: str = EMAIL

    def url(self, path: str = "") -> str:
        p = self.pipeline
        return f"/api/pipelines/{p.repo_source}/{p.repo_owner}/{p.repo_name}{path}"


def _lines(step: str, count: int, **fields: Any) -> list[TailLogLine]:
    return [
        TailLogLine(
            step=step,
            log_line=LogLine(line=n, timestamp="2030-01-01T00:00:00Z", stream_type="stdout", text=f"{step} {n}"),
            **fields,
        )
        for n in range(1, count + 1)
    ]


def _log(pipeline: Pipeline, kind: str, run_id: int, *, attempts: int = 1) -> None:
    for attempt in range(attempts):
        record = log_record_create(pipeline=pipeline, run_kind=kind, run_id=run_id)
        image = ImageInfo(name="python", tag="3.11-slim", is_pulled=True, image_size=52_000_000, pull_duration=10**9)
        lines = [
            TailLogLine(step="build", status="RUNNING", image=image),
            *_lines("build", 3),
            *_lines("unit", 2, parent_stage="build", depth=1),
            *_lines("db", 1, parent_stage="build", type="service"),
            TailLogLine(step="build", status="SUCCEEDED" if attempt else "FAILED", exit_code=0, duration=2 * 10**9),
        ]
        log_append(record=record, seq=1, lines=lines)


def _released(build: Build, name: str, *, action: str = "", by: str = EMAIL, at: datetime) -> Release:
    return make_release(build, name, action=action, status=RunStatus.SUCCEEDED, by=by, now=at, finished=at)


@pytest.fixture
def world(db: Any, settings: Any) -> World:
    settings.CATALOG_FILTERS = ["team", "language"]  # ESTAFETTE_CONFIG_FILE's catalog.filters
    now = timezone.now()
    t0 = now - timedelta(hours=6)
    user = make_user(
        "ann", staff=True
    )  # an administrator: the UI's commands are authorized (estafette/access has its own tests)
    pipeline, other = make_pipeline("api"), make_pipeline("web")
    commits = [{"message": "Fix the build", "author": {"email": EMAIL, "name": "Ann", "username": "ann"}}]
    for n in range(3):
        make_build(
            pipeline,
            status=RunStatus.SUCCEEDED,
            commits=commits,
            manifest=WARNED_MANIFEST,
            now=t0 + timedelta(minutes=n),
            started=t0 + timedelta(minutes=n, seconds=5),
            finished=t0 + timedelta(minutes=n, seconds=95),
        )
    build = Build.objects.filter(pipeline=pipeline).order_by("-id").first()
    assert build is not None
    failed = make_build(
        pipeline, status=RunStatus.FAILED, branch="feature/x", commits=commits, now=t0 + timedelta(minutes=10)
    )
    running = make_build(pipeline, status=RunStatus.RUNNING, now=t0 + timedelta(minutes=20))
    make_build(other, status=RunStatus.SUCCEEDED, now=t0)
    _released(build, "staging", at=t0 + timedelta(minutes=30))
    release = _released(build, "production", action="deploy", at=t0 + timedelta(minutes=40))
    bot_run = bot_create(pipeline=pipeline, name="tidy", now=t0 + timedelta(minutes=50))
    assert bot_start(bot_run=bot_run, now=t0 + timedelta(minutes=50, seconds=2))
    assert bot_finish(bot_run=bot_run, status=RunStatus.SUCCEEDED, now=t0 + timedelta(minutes=51))
    _log(pipeline, Build.kind, build.pk, attempts=2)
    _log(pipeline, Release.kind, release.pk)
    _log(pipeline, BotRun.kind, bot_run.pk)
    return World(
        client=client_for(user),
        pipeline=pipeline,
        other=other,
        build=build,
        failed=failed,
        running=running,
        release=release,
        bot_run=bot_run,
    )
