"""A Cloud Source push through the whole system, as ``make run`` starts it: Pub/Sub's push of a Cloud Source
notification, authenticated by a Google OIDC token the fake Google signs (its keys found through its discovery
document) → the server reads the manifest at the pushed revision with git → the build runs in the real builder,
cloning over HTTP from the fake's ``git http-backend`` → the build succeeds and its log shows the cloned file.

Cloud Source takes no commit status (as in Estafette), so the build's status and log are the outcome. Cloud Source
jobs clone with no token (``CloudSourceForge`` gives none: on Google the git credential helper of the environment's
service account answers); the fake serves anonymous reads, the smallest arrangement that lets the real builder
clone, and the test checks that no request carried a credential.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from estafette.queue.jetstream import QueueSettings
from integrations.cloudsource.testing import (
    AUDIENCE,
    PROJECT,
    SERVICE_ACCOUNT,
    FakeGoogle,
    notification_body,
    ref_update,
)
from tests.harness.asserts import printed, steps_of
from tests.harness.system import FORGE_MANIFEST as MANIFEST
from tests.harness.system import System, start_system

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def google(tmp_path: Path) -> Iterator[FakeGoogle]:
    with FakeGoogle(tmp_path / "google") as fake:
        yield fake


@pytest.fixture
def system(
    transactional_db: None, queue_settings: QueueSettings, tmp_path: Path, google: FakeGoogle
) -> Iterator[System]:
    env = {
        "ESTAFETTE_CLOUDSOURCE_AUDIENCE": AUDIENCE,
        "ESTAFETTE_CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL": SERVICE_ACCOUNT,
        "ESTAFETTE_CLOUDSOURCE_DISCOVERY_URL": google.discovery_url,
        "ESTAFETTE_CLOUDSOURCE_GIT_URL": google.url,
    }
    with start_system(queue_settings, tmp_path / "system", env=env) as running:
        yield running


def push(system: System, body: bytes, token: str) -> int:
    request = urllib.request.Request(
        f"{system.processes.url}/api/integrations/cloudsource/events",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_cloud_source_push_builds_the_pushed_revision_and_the_build_succeeds(
    system: System, google: FakeGoogle
) -> None:
    # given a Cloud Source repository with a commit that has a manifest
    revision = google.add_repository("api").commit({".estafette.yaml": MANIFEST, "app.txt": "hello"}, branch="main")

    # when Pub/Sub pushes the notification of that ref update, with the subscription's Google ID token
    body = notification_body("api", ref_update("refs/heads/main", revision))
    assert push(system, body, google.token()) == 202

    # then the build runs in the real builder and succeeds, having cloned the pushed revision
    pipeline = f"127.0.0.1/{PROJECT}/api"
    build = system.wait_for_build(pipeline)
    build_path = f"/pipelines/{pipeline}/builds/{build['id']}"
    build = system.wait_until_final(build_path, "buildStatus", timeout=90)
    assert (build["buildStatus"], build["repoBranch"], build["repoRevision"]) == ("succeeded", "main", revision), (
        system.diagnostics()
    )
    steps = steps_of(system.api.get(f"{build_path}/logs"))
    assert printed(steps["test"]) == ["built hello from main"]

    # and the token was checked against the fake's keys; git was read (by the server and the job) with no credential
    assert google.jwks_hits >= 1
    clones = [path for path, _ in google.git_requests if path.endswith("/info/refs")]
    assert len(clones) >= 2, google.git_requests  # the server's read of the manifest, and the job's clone
    assert not any(authorized for _, authorized in google.git_requests)
