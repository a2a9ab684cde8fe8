"""``make run``'s process set for real: ``scripts/run.sh`` runs the Procfile under supervisord (web server, nats-server,
relay, consumers, cron, sweeper); a push builds in a local job, and Ctrl-C stops every process — the servers and the
build still running, which lives in a session of its own.

It starts its own copy (own data dir and SQLite file, free ports), so one database tier runs it. About 30 s.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from builder.testing import reserve_port
from integrations.git.testing import GitRepository
from tests.harness.system import answers_200, manage
from tests.tooling.waiting import wait_until

REPO = Path(settings.BASE_DIR)
MARKER = "RUN_SH_TEST_MARKER"  # not ESTAFETTE_*: jobs inherit it too (they get no server settings)

pytestmark = pytest.mark.skipif(
    os.environ.get("ESTAFETTE_TEST_DB", "sqlite") != "sqlite",
    reason="make run's process set has its own SQLite database: the sqlite tier runs this once",
)


def test_ctrl_c_stops_every_process_including_a_running_build(tmp_path: Path) -> None:
    # given the process set of `make run`, started as from a terminal (one process group gets Ctrl-C)
    port = reserve_port()
    marker = uuid.uuid4().hex
    sleep_command = f"sleep 900.{random.randrange(10**6):06d}"  # the stage's process, recognisable by its command
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ESTAFETTE_", "DJANGO_"))}
    env.update(
        ESTAFETTE_DATA_DIR=str(tmp_path / "data"),
        ESTAFETTE_HTTP_PORT=str(port),
        ESTAFETTE_NATS_PORT=str(reserve_port()),
        **{MARKER: marker},
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    with open(tmp_path / "run.log", "wb") as output:
        run = subprocess.Popen(
            [str(REPO / "scripts" / "run.sh")], env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until(
            lambda: answers_200(f"http://127.0.0.1:{port}/readiness"),
            timeout=120,
            interval=0.5,
            what="the web server to be ready",
        )
        # and a build running a long stage
        repository = GitRepository(tmp_path / "acme" / "slow")
        repository.git("checkout", "-q", "-b", "main")
        repository.commit(
            {".estafette.yaml": f"stages:\n  build:\n    image: alpine\n    commands:\n    - {sleep_command}\n"}
        )
        manage(env, "push_event", str(repository.path), "--branch", "main")
        wait_until(
            lambda: any(command == sleep_command for _, command in _processes(marker, tmp_path, sleep_command)),
            timeout=60,
            interval=0.2,
            what="the build's stage to run",
        )

        # when Ctrl-C is pressed
        os.killpg(run.pid, signal.SIGINT)

        # then everything stops, the build too, and the set ends with the interrupt's status
        assert run.wait(timeout=90) == 130
        left = _processes(marker, tmp_path, sleep_command)
        assert not left, f"left running: {left}; see {tmp_path / 'run.log'}"
        assert "stopped 1 job(s)" in (tmp_path / "run.log").read_text()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        for pid, _ in _processes(marker, tmp_path, sleep_command):
            _kill(pid)


def _processes(marker: str, tmp_path: Path, sleep_command: str) -> list[tuple[int, str]]:
    """Live processes of this test's system: with the marker in their environment, its directory on their command
    line (sandboxes get neither environment nor marker), or the stage's command."""
    found = []
    needle = f"{MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] in "ZX":
            continue
        if needle in environ.split(b"\0") or str(tmp_path) in command or command == sleep_command:
            found.append((int(entry.name), command))
    return found


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
