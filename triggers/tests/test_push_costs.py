"""What the worker spends on one push (issue 17): one parse of the manifest, and a fixed budget of queries and
transactions from the push's event to the job's start, so that a change adding any fails here.

The budgets are the counts measured when they were set; lower them when a change saves some. In these tests every
transaction runs inside the test's own, so each ``atomic`` block shows as one ``SAVEPOINT``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from builds.models import Build
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import Verdict, deliver
from integrations.git.testing import GitRepository, push
from runs import manifests
from runs.consumers import JobDispatchConsumer
from triggers.consumers import GitPushConsumer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake")]

MANIFEST = """\
labels:
  team: {team}
stages:
  test:
    image: alpine:3.20
    commands:
    - "true"
"""

# From the push's event to its build (and its outbox rows, the read model, the audit record), and from the build's
# created event to its job. Set from the counts of this test when issue 17's second round ended.
PUSH_QUERIES = 9
PUSH_TRANSACTIONS = 1
DISPATCH_QUERIES = 2
DISPATCH_TRANSACTIONS = 0


@pytest.fixture
def repo(tmp_path: Path) -> GitRepository:
    return GitRepository(tmp_path / "acme" / "api")


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The manifests the server loads (``builder.manifest.load_manifest``, through ``runs.manifests``): none kept."""
    loaded: list[str] = []
    load = manifests.load_manifest

    def counting(text: str, **kwargs: Any) -> Any:
        loaded.append(text)
        return load(text, **kwargs)

    monkeypatch.setattr(manifests, "load_manifest", counting)
    manifests.forget_parses()
    yield loaded
    manifests.forget_parses()


def _event(subject_part: str) -> OutboxMessage:
    return OutboxMessage.objects.filter(sent_at__isnull=True, subject__contains=subject_part).order_by("id").first()


def _deliver_one(consumer: Any, row: OutboxMessage) -> CaptureQueriesContext:
    OutboxMessage.objects.filter(pk=row.pk).update(sent_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        outcome = deliver(consumer, row.payload.encode(), event_id=row.dedup_key, subject=row.subject)
    assert outcome.verdict is Verdict.ACK
    return queries


def _transactions(queries: CaptureQueriesContext) -> int:
    return sum(1 for query in queries.captured_queries if query["sql"].startswith("SAVEPOINT"))


def _statements(queries: CaptureQueriesContext) -> int:
    """Queries other than a savepoint's (each ``atomic`` block inside another costs two more: see the budgets)."""
    return sum(1 for query in queries.captured_queries if "SAVEPOINT" not in query["sql"])


def test_a_push_parses_its_manifest_once_from_the_event_to_the_job(
    repo: GitRepository, job_runner: FakeJobRunner, parses: list[str]
) -> None:
    # given a pushed revision whose manifest this process never parsed
    repo.commit({".estafette.yaml": MANIFEST.format(team="parse-once")})
    push(repo, branch="main")

    # when the worker turns the push into a build and the build into a job
    _deliver_one(GitPushConsumer(), _event("git"))
    _deliver_one(JobDispatchConsumer(), _event("build.created"))

    # then the job started, and the manifest was loaded, defaulted and validated once
    (spec,) = job_runner.started
    assert json.dumps(spec.config).count("parse-once") == 1
    assert parses == [MANIFEST.format(team="parse-once")]


def test_the_worker_path_of_a_push_stays_within_its_queries_and_transactions(
    repo: GitRepository, job_runner: FakeJobRunner
) -> None:
    # given a pipeline built before from the same manifest (the steady state: its row and read model exist)
    for _ in range(2):
        repo.commit({".estafette.yaml": MANIFEST.format(team="ci")})
        push(repo, branch="main")
        _deliver_one(GitPushConsumer(), _event("git"))
        _deliver_one(JobDispatchConsumer(), _event("build.created"))
    OutboxMessage.objects.filter(sent_at__isnull=True).update(sent_at=timezone.now())

    # when one more push is handled
    repo.commit({"README.md": "a change"})
    push(repo, branch="main")
    push_queries = _deliver_one(GitPushConsumer(), _event("git"))
    dispatch_queries = _deliver_one(JobDispatchConsumer(), _event("build.created"))

    # then it made its build and job within the budgets
    assert Build.objects.count() == 3 and len(job_runner.started) == 3
    measured = {
        "push queries": _statements(push_queries),
        "push transactions": _transactions(push_queries),
        "dispatch queries": _statements(dispatch_queries),
        "dispatch transactions": _transactions(dispatch_queries),
    }
    budgets = {
        "push queries": PUSH_QUERIES,
        "push transactions": PUSH_TRANSACTIONS,
        "dispatch queries": DISPATCH_QUERIES,
        "dispatch transactions": DISPATCH_TRANSACTIONS,
    }
    queries = push_queries.captured_queries + dispatch_queries.captured_queries
    listing = "\n".join(query["sql"][:150] for query in queries)
    assert all(measured[name] <= budgets[name] for name in budgets), f"{measured} over {budgets}:\n{listing}"
