"""A Bitbucket Connect app's push through the whole system, as ``make run`` starts it: the app installed by its signed
``installed`` callback → Bitbucket's JWT-signed ``repo:push`` → the build runs in the real builder, cloning over HTTP
from the fake Bitbucket's ``git http-backend`` as ``x-token-auth`` with an access token of the installation → the
commit shows INPROGRESS then SUCCESSFUL on the fake Bitbucket, in that order. Every API request the server sent is one
Bitbucket's OpenAPI description has (the fake checks them), and neither the tokens nor the shared secret is in a log,
an API answer or a table."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from estafette.queue.jetstream import QueueSettings
from integrations.bitbucket.testing import FakeBitbucket, connect_jwt, event_headers, lifecycle_body, push_payload
from tests.harness.asserts import printed, steps_of
from tests.harness.system import FORGE_MANIFEST as MANIFEST
from tests.harness.system import System, start_system
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bitbucket(tmp_path: Path) -> Iterator[FakeBitbucket]:
    """The fake Bitbucket; the test fails on any request its API description does not have."""
    with FakeBitbucket(tmp_path / "bitbucket") as fake:
        yield fake
    assert fake.violations == []


@pytest.fixture
def system(
    transactional_db: None, queue_settings: QueueSettings, tmp_path: Path, bitbucket: FakeBitbucket
) -> Iterator[System]:
    env = {
        "ESTAFETTE_BITBUCKET_APP_KEY": bitbucket.app_key,
        "ESTAFETTE_BITBUCKET_API_URL": bitbucket.api_url,
        "ESTAFETTE_BITBUCKET_URL": bitbucket.url,
    }
    with start_system(queue_settings, tmp_path / "system", env=env) as running:
        yield running


def post(system: System, path: str, payload: Any, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"{system.processes.url}{path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_bitbucket_push_builds_with_a_cloned_token_and_shows_inprogress_then_successful(
    system: System, bitbucket: FakeBitbucket
) -> None:
    # given the app installed in a workspace (Bitbucket's signed installed callback) and a commit with a manifest
    client_key, secret = bitbucket.install()
    installed = lifecycle_body(
        "installed", client_key=client_key, shared_secret=secret, web_url=bitbucket.url, workspace="acme"
    )
    path = "/api/integrations/bitbucket/installed"
    token = connect_jwt("POST", path, client_key=client_key, shared_secret=secret)
    assert post(system, path, installed, {"Authorization": f"JWT {token}"}) == 204
    revision = bitbucket.add_repository("acme", "api").commit({".estafette.yaml": MANIFEST, "app.txt": "hello"})

    # when Bitbucket sends the push, signed with the installation's JWT
    headers = event_headers("repo:push", client_key=client_key, shared_secret=secret)
    http_headers = {name.removeprefix("HTTP_").replace("_", "-").title(): value for name, value in headers.items()}
    payload = push_payload(bitbucket.url, "acme", "api", revision)
    assert post(system, "/api/integrations/bitbucket/events", payload, http_headers) == 202

    # then the build runs and succeeds, having cloned the pushed revision with a token Bitbucket issued
    pipeline = "127.0.0.1/acme/api"
    build = system.wait_for_build(pipeline)
    build_path = f"/pipelines/{pipeline}/builds/{build['id']}"
    build = system.wait_until_final(build_path, "buildStatus", timeout=90)
    assert (build["buildStatus"], build["repoRevision"]) == ("succeeded", revision), system.diagnostics()
    steps = steps_of(system.api.get(f"{build_path}/logs"))
    assert printed(steps["test"]) == ["built hello from master"]
    assert ("/acme/api.git/info/refs", True) in bitbucket.clones

    # and the commit shows INPROGRESS, then SUCCESSFUL, in that order, linking to the build's page
    wait_until(lambda: len(bitbucket.statuses) >= 2, timeout=30, what=f"two statuses\n{system.diagnostics()}")
    assert bitbucket.status_states() == [("estafette", "INPROGRESS"), ("estafette", "SUCCESSFUL")]
    assert {status["commit"] for status in bitbucket.statuses} == {revision}
    assert bitbucket.statuses[-1]["url"] == f"{system.processes.url}{build_path}/logs"

    # and no token Bitbucket issued, nor the installation's secret, is in the logs, the API's answers or the database
    assert bitbucket.tokens
    seen = [
        system.processes.log(),
        system.processes.job_logs(),
        json.dumps(system.api.get(f"{build_path}/logs")),
        json.dumps(system.api.get(build_path)),
        system.database_dump(),
    ]
    for value in [*bitbucket.tokens, secret]:
        assert not any(value in text for text in seen)
