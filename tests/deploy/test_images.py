"""The server and builder images, built for real from the repository's Dockerfiles on the test dockerd, then used.

No public registry can be reached here, so the base image is Debian bookworm made with ``debootstrap`` and
``docker import`` (``tests/tooling/images.py``; cached under ``var/test-cache/`` after the first run), passed as
``BASE_IMAGE``, and the web UI's build stage gets this machine's Node.js as ``NODE_IMAGE``. The builds report each
step as they go.

Then: the server image passes ``manage.py check --deploy`` at the strictest level and serves the API and the built
UI from a read-only root file system as its unprivileged user; and the builder image runs a pushed build through the
**docker executor** — the builder in its container, each stage a container of the same engine (the engine's socket
mounted, the workspace at the same path on both sides) — reporting to the real API over HTTP, until the build has
succeeded with every line.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from builder import __version__
from builder.testing import reserve_port
from builds.models import Build
from estafette.jobs.testing import FakeJobRunner
from integrations.git.testing import GitRepository, push
from runs.selectors import log_record_latest, log_steps
from tests.tooling import images
from tests.tooling.waiting import wait_until
from triggers.testing import settle

# The first test also waits for the image builds (several minutes; the first run also for debootstrap).
pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True), pytest.mark.timeout(1800)]

SERVER_IMAGE = "estafette/estafette-ci-python-server:test"
BUILDER_IMAGE = "estafette/estafette-ci-builder-python:test"
STAGE_IMAGE = "local/busybox:latest"
IMAGE_USER = "10001:10001"


@dataclass
class BuiltImages:
    engine: Any  # tests.tooling.dockerd.DockerEngine
    client: Any  # docker.DockerClient


@pytest.fixture(scope="module")
def built(pytestconfig: pytest.Config) -> Iterator[BuiltImages]:
    if os.environ.get("ESTAFETTE_SKIP_DOCKER") == "true":
        pytest.skip("ESTAFETTE_SKIP_DOCKER=true")
    import docker
    from tests.tooling.dockerd import DockerEngine

    progress = _progress(pytestconfig)
    engine = DockerEngine().start()
    client = docker.DockerClient(base_url=engine.url, timeout=600)
    try:
        started = time.monotonic()
        engine.import_busybox("local/busybox")
        base = images.import_base(client, progress)
        images.build_image(
            client,
            tag=BUILDER_IMAGE,
            progress=progress,
            what="builder image",
            path=images.REPOSITORY,
            dockerfile="docker/builder.Dockerfile",
            buildargs={"BASE_IMAGE": base},
        )
        node = images.node_image(client, base, progress)
        images.build_image(
            client,
            tag=SERVER_IMAGE,
            progress=progress,
            what="server image",
            path=images.REPOSITORY,
            dockerfile="docker/server.Dockerfile",
            buildargs={"BASE_IMAGE": base, "NODE_IMAGE": node},
        )
        progress(f"images: ready in {time.monotonic() - started:.0f}s")
        yield BuiltImages(engine=engine, client=client)
    finally:
        client.close()
        stopping = time.monotonic()
        engine.stop()
        progress(f"images: engine stopped and removed in {time.monotonic() - stopping:.0f}s")


def _progress(config: pytest.Config) -> Callable[[str], None]:
    """Writes past pytest's output capture: the image builds take minutes, and say what they are doing."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def report(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"    [images] {line}", flush=True)

    return report


def run(built: BuiltImages, image: str, command: list[str], **options: Any) -> tuple[int, str]:
    """Run ``command`` in a container of ``image`` to its end: exit code and output."""
    container = built.client.containers.run(image, command, detach=True, **options)
    try:
        code = int(container.wait(timeout=300)["StatusCode"])
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


# --- the server image -----------------------------------------------------------------------------------------------

SERVER_ENV = {
    "ESTAFETTE_SECRET_KEY": secrets.token_urlsafe(50),
    "ESTAFETTE_DATA_DIR": "/var/lib/estafette/data",
}
# As the Helm chart runs it: read-only root, its data dir and /tmp writable, no capabilities.
READ_ONLY = {
    "read_only": True,
    "tmpfs": {"/var/lib/estafette": "uid=10001,gid=10001,mode=0700", "/tmp": "mode=1777"},
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
}


def test_the_server_image_passes_the_deploy_checks_served_over_https(built: BuiltImages) -> None:
    check = ["python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    # served over HTTPS, as the chart sets it: no warning at all
    code, output = run(
        built,
        SERVER_IMAGE,
        check,
        environment={**SERVER_ENV, "ESTAFETTE_HTTPS": "true"},
        network_mode="none",
        **READ_ONLY,
    )
    assert code == 0, output
    assert "no issues" in output
    # and the same check does fail where it should: without HTTPS the cookies would travel in clear
    code, output = run(built, SERVER_IMAGE, check, environment=SERVER_ENV, network_mode="none", **READ_ONLY)
    assert code != 0
    assert "security.W012" in output and "security.W016" in output


def test_the_server_image_runs_unprivileged_without_build_tools(built: BuiltImages) -> None:
    attributes = built.client.images.get(SERVER_IMAGE).attrs["Config"]
    assert attributes["User"] == IMAGE_USER
    script = (
        "id -u; id -g; "
        "for tool in gcc cc make node npm pip pip3; do command -v $tool && echo found $tool; done; "
        "python -c 'import django, gunicorn, builder; print(\"imports ok\")'; "
        "test -f /app/frontend/dist/index.html && echo ui built; "
        "test -f /app/static/admin/css/base.css && echo static collected; "
        "find /app /opt/estafette/lib/python3*/site-packages/builder -name tests -o -name conftest.py"
    )
    code, output = run(built, SERVER_IMAGE, ["sh", "-c", script], network_mode="none", **READ_ONLY)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[:2] == ["10001", "10001"]
    assert not [line for line in lines if line.startswith("found ")], output
    assert {"imports ok", "ui built", "static collected"} <= set(lines), output
    # none of the application's or the builder's tests
    assert [line for line in lines if line.startswith("/")] == [], output


def test_the_server_image_serves_the_api_and_the_ui_from_a_read_only_root(built: BuiltImages) -> None:
    port = reserve_port()
    command = [
        *("gunicorn", "estafette.wsgi", f"--bind=127.0.0.1:{port}", "--workers=1", "--worker-class=gthread"),
        *("--threads=4", "--no-control-socket", "--worker-tmp-dir=/tmp"),
    ]
    container = built.client.containers.run(
        SERVER_IMAGE, command, detach=True, network_mode="host", environment=SERVER_ENV, **READ_ONLY
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: _get(f"{url}/liveness")[0] == 200, timeout=60, what=f"gunicorn in the image\n{_logs(container)}"
        )
        # the UI's index at /, the admin's static files from the image, the API's JSON errors
        status, body = _get(f"{url}/")
        assert status == 200 and b'<div id="app"' in body, body[:300]
        assert _get(f"{url}/static/admin/css/base.css")[0] == 200
        status, body = _get(f"{url}/api/pipelines")
        assert status == 401 and json.loads(body)["code"], body
    finally:
        container.remove(force=True)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _logs(container: Any) -> str:
    try:
        return container.logs().decode(errors="replace")[-4000:]
    except Exception as error:
        return f"(no logs: {error})"


# --- the builder image ----------------------------------------------------------------------------------------------


def test_the_builder_image_has_git_and_bubblewrap_and_no_build_tools(built: BuiltImages) -> None:
    attributes = built.client.images.get(BUILDER_IMAGE).attrs["Config"]
    assert attributes["User"] == IMAGE_USER
    assert attributes["Entrypoint"] == ["python", "-m", "builder"]
    script = (
        "id -u; git --version >/dev/null && echo git; bwrap --version >/dev/null && echo bwrap; "
        "for tool in gcc cc make pip pip3; do command -v $tool >/dev/null && echo found $tool; done; "
        "python -m builder version"
    )
    code, output = run(built, BUILDER_IMAGE, ["-c", script], entrypoint=["sh"], network_mode="none", read_only=True)
    assert code == 0, output
    assert output.splitlines() == ["10001", "git", "bwrap", __version__], output


MANIFEST = """\
stages:
  build:
    image: local/busybox:latest
    commands:
    - echo "building $ESTAFETTE_BUILD_VERSION of $ESTAFETTE_GIT_NAME"
    - cat greeting.txt
    - test ! -e /usr/bin/python3 && echo "inside the stage's own image"
  test:
    image: local/busybox:latest
    commands:
    - test "$(( 6 * 7 ))" = 42 && echo "tests passed"
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory at the same path for this process, the builder's container and the stages' containers (the
    engine mounts host paths): readable by the image's user, who owns what it must write."""
    directory = Path(tempfile.mkdtemp(prefix="estafette-image-build-", dir="/tmp"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_the_builder_image_runs_a_pushed_build_through_the_docker_executor_against_the_api(
    built: BuiltImages,
    live_server: Any,
    settings: Any,
    job_runner: FakeJobRunner,
    intake: None,
    shared_dir: Path,
) -> None:
    # given a pushed repository, its build dispatched to a job that reports to the API over HTTP
    settings.SERVICE_URL = live_server.url
    settings.LOCAL_REPOSITORY_ROOTS = (shared_dir,)
    repository = GitRepository(shared_dir / "repositories" / "acme" / "app")
    repository.commit({".estafette.yaml": MANIFEST, "greeting.txt": "hello from the repository\n"})
    for path in [repository.path, *repository.path.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
    (shared_dir / "repositories").chmod(0o755)
    (shared_dir / "repositories" / "acme").chmod(0o755)
    push(repository)
    settle()
    (spec,) = job_runner.started
    job = shared_dir / "job"
    for directory in (job, job / "work", job / "tmp"):
        directory.mkdir()
        os.chown(directory, 10001, 10001)
    (job / "builder-config.json").write_text(json.dumps(spec.config))
    (job / "secret-key").write_text(spec.secret_key)
    for name in ("builder-config.json", "secret-key"):
        os.chown(job / name, 10001, 10001)
        (job / name).chmod(0o600)

    # when the builder image runs the job with the docker executor, on the engine's socket
    socket_path = str(built.engine.socket)
    started = time.time()
    container = built.client.containers.run(
        BUILDER_IMAGE,
        [
            *("job", "--executor", "docker", "--config", str(job / "builder-config.json")),
            *("--secret-key-file", str(job / "secret-key"), "--workspace", str(job / "work")),
        ],
        detach=True,
        network_mode="host",  # the API listens on this machine's loopback
        environment={"DOCKER_HOST": "unix:///var/run/docker.sock", "TMPDIR": str(job / "tmp")},
        volumes={
            socket_path: {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(shared_dir): {"bind": str(shared_dir), "mode": "rw"},
        },
        group_add=[str(os.stat(socket_path).st_gid)],
        read_only=True,
        tmpfs={"/tmp": "mode=1777"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
    )
    try:
        code = int(container.wait(timeout=240)["StatusCode"])
        output = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)

    # then the builder exited cleanly and the build succeeded, with both stages' lines stored by the API
    assert code == 0, output
    build = Build.objects.get(pk=int(spec.config["build"]["id"]))
    assert build.status == "succeeded", output
    record = log_record_latest(run_kind="build", run_id=build.pk)
    assert record is not None
    steps = {step["step"]: step for step in log_steps(record=record)}
    assert [name for name in steps if name in ("git-clone", "build", "test")] == ["git-clone", "build", "test"]
    assert all(steps[name]["status"] == "SUCCEEDED" for name in ("git-clone", "build", "test")), steps

    def texts(step: str) -> list[str]:
        return [line["text"] for line in steps[step]["logLines"]]

    assert "building 0.0.1 of app" in texts("build")
    assert "hello from the repository" in texts("build")
    assert "inside the stage's own image" in texts("build")
    assert "tests passed" in texts("test")
    # and each stage was a container of the stage's image on the engine (started by the builder in its container)
    events = built.client.events(
        since=int(started), until=int(time.time()) + 1, decode=True, filters={"event": "start", "image": STAGE_IMAGE}
    )
    assert len(list(events)) == 2
