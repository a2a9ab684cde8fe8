"""Replaying a build of the running system on this machine (``python -m builder replay``), end to end.

The whole system (``tests.harness.system``) builds a local git repository pushed to it; then the real builder, in a
subprocess as a developer runs it, fetches that build over the REST API with an API token, clones the revision and
runs the same stages locally on the host executor — with the server build's version and variables, and the manifest's
secret replaced by the value of a local secrets file (the server never decrypts it for the replay).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.asserts import printed, steps_of
from tests.harness.system import System

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

APP = """\
env:
  API_TOKEN: {secret}
stages:
  compile:
    image: alpine:3.20
    commands:
    - echo "compiling $(cat app.txt) $ESTAFETTE_BUILD_VERSION at $ESTAFETTE_GIT_REVISION"
    - echo "token=$API_TOKEN" | tr a-z A-Z
  test:
    image: alpine:3.20
    commands:
    - echo "testing on $ESTAFETTE_GIT_BRANCH"
"""


def replay(url: str, *args: str, token: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "ESTAFETTE_API_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "builder", "replay", url, "--executor", "host", *args],
        cwd=cwd,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_build_of_the_system_replays_locally_with_a_local_secret(system: System, tmp_path: Path) -> None:
    # given a build of app made by the running system, its manifest holding a secret the server encrypted
    status, encrypted = system.api.call(
        "POST", "/manifest/encrypt", {"value": "server-value", "pipelineAllowList": "local/acme/app"}
    )
    assert status == 200, encrypted
    app = system.repository("acme", "app", APP.format(secret=encrypted["secret"]), **{"app.txt": "app"})
    system.push(app)
    build = system.wait_for_build("local/acme/app")
    path = f"/pipelines/local/acme/app/builds/{build['id']}"
    build = system.wait_until_final(path, "buildStatus")
    assert build["buildStatus"] == "succeeded", system.diagnostics()
    server_steps = steps_of(system.api.get(f"{path}/logs"))
    assert printed(server_steps["compile"])[1] == "TOKEN=SERVER-VALUE"
    token = system.api.headers["Authorization"].removeprefix("Token ")
    url = f"{system.processes.url}{path}/logs"  # the build's page in the web UI
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"API_TOKEN": "local-value"}))
    workdir = tmp_path / "developer"
    workdir.mkdir()

    # when a developer replays it with a secrets file
    replayed = replay(url, "--secrets-file", str(secrets), token=token, cwd=workdir)

    # then the same stages ran here, in a clone of its revision, with its version and the local secret's value
    assert replayed.returncode == 0, (replayed.stdout, replayed.stderr)
    output = replayed.stdout
    assert f"compiling app 0.0.1 at {app.head()}" in output
    assert "TOKEN=LOCAL-VALUE" in output and "SERVER-VALUE" not in output
    assert "testing on main" in output
    assert "git-clone" not in output

    # and in the developer's own working copy, whose HEAD is the revision, it runs the same
    in_place = replay(url, "--secrets-file", str(secrets), "--checkout", str(app.path), token=token, cwd=workdir)
    assert in_place.returncode == 0, (in_place.stdout, in_place.stderr)
    assert f"compiling app 0.0.1 at {app.head()}" in in_place.stdout and "Cloning" not in in_place.stdout

    # when it is replayed without the secret's value and without a terminal, or without a valid token
    unanswered = replay(url, token=token, cwd=workdir)
    refused = replay(url, token="not-a-token", cwd=workdir)
    unknown = replay(url.replace(f"/builds/{build['id']}/", "/builds/999999/"), token=token, cwd=workdir)

    # then nothing runs and each says what to do next
    assert unanswered.returncode == 2 and "API_TOKEN" in unanswered.stderr and "--secrets-file" in unanswered.stderr
    assert refused.returncode == 2 and "--token" in refused.stderr
    assert unknown.returncode == 2 and "not found" in unknown.stderr
    assert "compiling" not in unanswered.stdout + refused.stdout + unknown.stdout
