"""What another user of the machine, or whoever gets a copy of the database, finds of the running system.

The system here is ``make run``'s: its own SQLite file and its own nats-server in its data dir, set up by ``manage.py
migrate`` and ``collectstatic``, an API token made by ``manage.py drf_create_token``, and a build run by a local job.
Every process is started from a shell-like umask of 022, so what is private is made so by the server itself.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.testing import reserve_port
from estafette.queue.jetstream import QueueSettings
from tests.harness.system import Api, Procfile, System, manage

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

MANIFEST = """\
stages:
  build:
    image: alpine:3.20
    commands:
    - echo "built" > artifact.txt
    - cat artifact.txt
"""
# Written by the test process, not the server: none now (the harness made an empty env file for honcho once).
HARNESS_FILES: set[str] = set()


@contextlib.contextmanager
def shell_umask() -> Iterator[None]:
    """Processes started inside inherit umask 022, as from a login shell (the test process's own is 077)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def open_to_others(data_dir: Path) -> list[str]:
    found = []
    for root, directories, files in os.walk(data_dir):
        for name in (*directories, *files):
            path = Path(root) / name
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            if mode & 0o077 and not path.is_symlink() and path.relative_to(data_dir).as_posix() not in HARNESS_FILES:
                found.append(f"{mode:04o} {path.relative_to(data_dir)}")
    return found


def test_the_data_dir_is_the_servers_alone_and_its_database_holds_no_usable_token(
    queue_settings: QueueSettings, tmp_path: Path
) -> None:
    # given make run's system: its own database and nats-server in its data dir
    data_dir = tmp_path / "data"
    database = data_dir / "estafette.db"
    env = {
        "ESTAFETTE_DATABASE_URL": f"sqlite:///{database}",
        "ESTAFETTE_NATS_URL": "",  # manage.py run_nats starts nats-server with its store in the data dir
        "ESTAFETTE_NATS_PORT": str(reserve_port()),
        "ESTAFETTE_JOB_CLEANUP_GRACE_SECONDS": "3600",  # the finished job's workspace stays to be looked at
        "ESTAFETTE_LOCAL_REPOSITORY_ROOTS": str(tmp_path / "repositories"),  # where the test keeps its repositories
    }
    processes = Procfile(queue_settings, data_dir, tmp_path / "processes.log", env)
    with shell_umask():
        manage(processes.env, "migrate", "--noinput", "-v", "0")
        manage(processes.env, "collectstatic", "--noinput", "-v", "0")
        manage(
            {**processes.env, "DJANGO_SUPERUSER_PASSWORD": "not-the-point-here"},
            *("createsuperuser", "--noinput", "--username", "ann", "--email", "ann@example.com"),
        )
        key = manage(processes.env, "drf_create_token", "ann").split()[2]
        processes.start()
    system = System(processes, Api(processes.url, key), tmp_path / "repositories")
    try:
        # when a build runs
        system.push(system.repository("acme", "api", MANIFEST))
        build = system.wait_for_build("local/acme/api")
        finished = system.wait_until_final(f"/pipelines/local/acme/api/builds/{build['id']}", "buildStatus")
        assert finished["buildStatus"] == "succeeded", system.diagnostics()

        # then the database holds no usable token: the key (which authenticates) is nowhere in its files, and what
        # the token table stores does not authenticate
        assert Api(processes.url, key).call("GET", "/me")[0] == 200
        holding_the_key = [file.name for file in data_dir.glob("estafette.db*") if key.encode() in file.read_bytes()]
        assert not holding_the_key, f"the API token's key is in {holding_the_key}"
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT * FROM apitokens_apitoken").fetchall()
        assert len(rows) == 1
        stored = [str(value) for value in rows[0] if value is not None]
        for value in stored:
            assert Api(processes.url, value).call("GET", "/me")[0] == 401, value

        # and nothing in the data dir is open to group or other, while everything runs (the -wal and -shm files
        # exist) and after a build (the job's workspace is still there)
        present = {path.relative_to(data_dir).parts[0] for path in data_dir.iterdir()}
        expected = {"estafette.db", "estafette.db-wal", "estafette.db-shm", "estafette.db-writelock"}
        expected |= {"secret-key", "secret-decryption-key", "nats", "jobs", "static"}
        assert expected <= present, sorted(present)
        jobs = sorted(str(path.relative_to(data_dir)) for path in (data_dir / "jobs").rglob("*"))
        assert any(path.endswith("/artifact.txt") for path in jobs), jobs
        offenders = open_to_others(data_dir)
        assert not offenders, "open to group or other:\n" + "\n".join(offenders)
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    finally:
        processes.stop()
