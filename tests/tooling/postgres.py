"""A throw-away PostgreSQL server for the test suite (Debian's binaries, no systemd needed).

``PostgresServer().start()`` runs initdb into a fresh temporary directory and starts the server on a reserved
loopback port (``builder.testing.reserve_port``); ``stop()`` shuts it down and removes the directory. As root, initdb
refuses to run, so the server runs as the ``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from builder.testing import reserve_port


def find_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise RuntimeError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
        "run `apt-get install -y postgresql` (the Makefile's `deps` target does this)"
    )


class PostgresServer:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = reserve_port()  # PostgreSQL cannot bind port 0 and say which port it got
        self.directory = Path(tempfile.mkdtemp(prefix="estafette-pg-"))
        self.datadir = self.directory / "data"
        self.user = "postgres"

    def _run(self, command: list[str]) -> None:
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root.
            command = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(part) for part in command)]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.directory, user="postgres", group="postgres")
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB"
        )
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                options,
                "-l",
                str(self.directory / "server.log"),
                "-w",
                "start",
            ]
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not accept connections on port {self.port}")

    def psql(self, sql: str, database: str = "postgres") -> None:
        subprocess.run(
            [
                *(str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user),
                *("-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def url(self, database: str, scheme: str = "postgresql") -> str:
        return f"{scheme}://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"])
        shutil.rmtree(self.directory, ignore_errors=True)


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)


# CockroachDB gives every table a unique_rowid() default; on PostgreSQL a sequence stands in for it.
# Created in template1 so every database created afterwards (including Django's test database) has it.
UNIQUE_ROWID_SQL = (
    "CREATE SEQUENCE IF NOT EXISTS crdb_rowid_seq; "
    "CREATE OR REPLACE FUNCTION unique_rowid() RETURNS bigint LANGUAGE sql AS "
    "$$ SELECT nextval('crdb_rowid_seq') $$;"
)
