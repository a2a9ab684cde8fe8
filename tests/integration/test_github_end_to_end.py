"""A GitHub App's push through the whole system, as ``make run`` starts it: GitHub's signed delivery → the build runs in
the real builder, cloning over HTTP from the fake GitHub's ``git http-backend`` with an installation token → the
commit shows ``pending`` then ``success`` on the fake GitHub, in that order. Every request the server sent GitHub is
one its OpenAPI description has (the fake checks them), and the token is in no log, no API answer and no table."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from estafette.queue.jetstream import QueueSettings
from integrations.github.testing import WEBHOOK_SECRET, FakeGitHub, sign
from tests.harness.asserts import printed, steps_of
from tests.harness.system import FORGE_MANIFEST as MANIFEST
from tests.harness.system import System, start_system
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def github(tmp_path: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(tmp_path / "github") as fake:
        yield fake
    assert not fake.violations, "requests GitHub's API does not describe:\n" + "\n".join(fake.violations)


@pytest.fixture
def system(
    transactional_db: None, queue_settings: QueueSettings, tmp_path: Path, github: FakeGitHub
) -> Iterator[System]:
    key_file = tmp_path / "github-app.pem"
    key_file.write_text(github.private_key)
    env = {
        "ESTAFETTE_GITHUB_APP_ID": github.app_id,
        "ESTAFETTE_GITHUB_APP_PRIVATE_KEY_FILE": str(key_file),
        "ESTAFETTE_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ESTAFETTE_GITHUB_API_URL": github.api_url,
    }
    with start_system(queue_settings, tmp_path / "system", env=env) as running:
        yield running


def post_delivery(system: System, event: str, payload: dict, delivery: str) -> int:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{system.processes.url}/api/integrations/github/events",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(body),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_github_push_builds_with_a_cloned_token_and_shows_pending_then_success(
    system: System, github: FakeGitHub, tmp_path: Path
) -> None:
    # given a repository on GitHub, the app installed on it, and a commit with a manifest
    repository = github.add_repository("Codertocat", "Hello-World", installation=31)
    revision = repository.commit({".estafette.yaml": MANIFEST, "app.txt": "hello"})

    # when GitHub delivers the push
    assert post_delivery(system, "push", repository.push_delivery(github, revision), "e2e-1") == 202

    # then the build runs and succeeds, having cloned the pushed revision with a token GitHub issued
    pipeline = "127.0.0.1/Codertocat/Hello-World"
    build = system.wait_for_build(pipeline)
    path = f"/pipelines/{pipeline}/builds/{build['id']}"
    build = system.wait_until_final(path, "buildStatus", timeout=90)
    assert (build["buildStatus"], build["repoRevision"]) == ("succeeded", revision), system.diagnostics()
    steps = steps_of(system.api.get(f"{path}/logs"))
    assert printed(steps["test"]) == ["built hello from master"]
    assert ("/Codertocat/Hello-World.git/info/refs", True) in github.clones

    # and the commit shows pending, then success, in that order, linking to the build's page
    wait_until(lambda: len(github.statuses) >= 2, timeout=30, what=f"two statuses\n{system.diagnostics()}")
    assert github.status_states() == [("estafette", "pending"), ("estafette", "success")]
    assert {status["sha"] for status in github.statuses} == {revision}
    assert github.statuses[-1]["target_url"] == f"{system.processes.url}/pipelines/{pipeline}/builds/{build['id']}/logs"

    # and no token GitHub issued is in the server's or the job's logs, the API's answers or the database
    tokens = list(github.tokens)
    assert tokens
    seen = [
        system.processes.log(),
        system.processes.job_logs(),
        json.dumps(system.api.get(f"{path}/logs")),
        json.dumps(system.api.get(path)),
        system.database_dump(),
    ]
    for token in tokens:
        assert not any(token in text for text in seen)
