"""Helpers for tests of intake, triggers and dispatch: pushes through the real webhook, and the event
chain run without NATS (``settle``) against a ``FakeJobRunner`` that records the jobs' configurations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.contracts import BuilderConfig
from estafette.jobs import JobSpec
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.consumer import Consumer, registered_consumers
from estafette.queue.testing import Outcome, deliver_outbox
from integrations.git.testing import GitRepository, push_body, signed_headers

WEBHOOK_SECRET = "webhook-secret-for-tests"  # noqa: S105 - the tests' own shared secret
APP_CONSUMERS = ("pipelines-git-push", "triggers-", "jobs-dispatch")


def app_consumers() -> list[Consumer]:
    """One of each consumer of the apps (not the queue's own test consumers)."""
    return [cls() for name, cls in registered_consumers().items() if name.startswith(APP_CONSUMERS)]


def settle() -> list[tuple[str, str, Outcome]]:
    """Run every event the test's changes published through the consumers, until nothing new appears."""
    return deliver_outbox(app_consumers())


def push(repository: GitRepository, *, branch: str = "main", revision: str | None = None) -> str:
    """POST a signed push of ``repository`` to the webhook; returns the event id."""
    body = push_body(str(repository.path), branch=branch, revision=revision)
    response = APIClient().post(
        "/api/integrations/git/events",
        data=body,
        content_type="application/json",
        **signed_headers(body, WEBHOOK_SECRET),
    )
    assert response.status_code == 202, response.content
    return str(response.json()["id"])


def config_of(spec: JobSpec) -> BuilderConfig:
    """The builder configuration a job was started with, parsed as the builder parses it."""
    return BuilderConfig.from_dict(json.loads(json.dumps(spec.config)))


@pytest.fixture
def intake(settings: Any, tmp_path: Path) -> None:
    """Webhook secret, git cache and local repository root (the test's directory) of a test."""
    settings.GIT_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.GIT_CACHE_DIR = tmp_path / "git-cache"
    settings.LOCAL_REPOSITORY_ROOTS = (tmp_path,)


@pytest.fixture
def job_runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJobRunner]:
    """The runner jobs are started on (``runs.dispatch`` asks ``get_job_runner``): a recording fake."""
    runner = FakeJobRunner()
    monkeypatch.setattr("runs.dispatch.get_job_runner", lambda: runner)
    yield runner
