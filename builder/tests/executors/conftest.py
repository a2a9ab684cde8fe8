"""Fixtures for the executor contract: both executors, the docker one on a real dockerd started here.

The docker engine is Debian's dockerd on a private socket (``tests/tooling/dockerd.py``), with images built locally
from busybox-static (no registry is reachable). ``ESTAFETTE_SKIP_DOCKER=true`` leaves the docker variants out
(they are reported as skipped); otherwise a missing dockerd is an error, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.executors.base import Executor
from builder.executors.host import HostExecutor, bwrap_available

IMAGE = "local/busybox:latest"
EXTENSION_IMAGE = "local/extension:latest"


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[object]:
    if os.environ.get("ESTAFETTE_SKIP_DOCKER") == "true":
        pytest.skip("ESTAFETTE_SKIP_DOCKER=true")
    from tests.tooling.dockerd import DockerEngine

    engine = DockerEngine().start()
    try:
        engine.import_busybox("local/busybox")
        engine.import_busybox("local/extension", command=["/bin/echo", "the image's own command ran"])
        yield engine
    finally:
        engine.stop()


@pytest.fixture(params=["host", "docker"])
def executor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Executor]:
    """Each executor, opened for one run; the host one sandboxed when bwrap is installed."""
    if request.param == "docker":
        from builder.executors.container import DockerExecutor

        engine = request.getfixturevalue("docker_engine")
        chosen: Executor = DockerExecutor(base_url=engine.url)  # type: ignore[attr-defined]
    else:
        chosen = HostExecutor(sandbox=bwrap_available())
    chosen.open(run_id=f"contract-{tmp_path.name}")
    try:
        yield chosen
    finally:
        chosen.close()


def isolates(executor: Executor) -> bool:
    """Whether the executor gives stages their own file system view (work dir mount, service names)."""
    return executor.name == "docker" or bool(getattr(executor, "sandbox", False))
