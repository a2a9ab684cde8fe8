"""pytest plugin: chooses and starts the database the suite runs against.

``ESTAFETTE_TEST_DB`` selects it:

* ``sqlite`` (default) — the embedded default, a file in a temporary directory;
* ``postgres`` — a throw-away PostgreSQL server started here, at SERIALIZABLE isolation;
* ``cockroach`` — django-cockroachdb (through the test backend in ``cockroach_backend``) on that server.

The server is started before pytest-django loads the settings (hence the wrapper hook) and stopped
when the session ends, so nothing has to be running beforehand.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

_running: dict[str, Any] = {}  # the PostgreSQL server this session started, if any

try:
    from hypothesis import settings as hypothesis_settings
except ImportError:  # the runtime venv without the test tooling
    hypothesis_settings = None
if hypothesis_settings is not None:
    # Property tests check what is true, not how fast: hypothesis' default 200 ms deadline per example is wall-clock
    # time, which a shared 2-core machine under load exceeds now and then (a flaky failure, not a slow function).
    # Speed is measured by the benches under bench/.
    hypothesis_settings.register_profile("estafette", deadline=None)
    hypothesis_settings.load_profile("estafette")


def _configure_database() -> None:
    choice = os.environ.get("ESTAFETTE_TEST_DB", "sqlite")
    os.environ.setdefault("ESTAFETTE_DATA_DIR", tempfile.mkdtemp(prefix="estafette-test-data-"))
    # Tests do not run collectstatic; an empty static root keeps whitenoise from warning on every request.
    (Path(os.environ["ESTAFETTE_DATA_DIR"]) / "static").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("ESTAFETTE_SECRET_KEY", "test-secret-key-not-for-production")
    if choice == "sqlite":
        os.environ.pop("ESTAFETTE_DATABASE_URL", None)
        return
    if choice not in {"postgres", "cockroach"}:
        raise pytest.UsageError(f"ESTAFETTE_TEST_DB must be sqlite, postgres or cockroach, got {choice!r}")
    from tests.tooling.postgres import UNIQUE_ROWID_SQL, PostgresServer

    server = _running["postgres"] = PostgresServer().start()
    server.psql(UNIQUE_ROWID_SQL, database="template1")
    server.psql("CREATE DATABASE estafette")
    os.environ["ESTAFETTE_DATABASE_URL"] = server.url("estafette")
    os.environ["ESTAFETTE_TEST_DB_ENGINE"] = (
        "tests.tooling.cockroach_backend" if choice == "cockroach" else "django.db.backends.postgresql"
    )


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Generator:
    _configure_database()
    return (yield)


@pytest.fixture(autouse=True)
def _umask_left_as_found() -> Generator[None, None, None]:
    """A test that changes the process's umask (importing a server entry point sets the private 0o077) fails here,
    not the unrelated test after it whose sandboxed build cannot read a repository made under that umask."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    after = os.umask(before)
    assert after == before, f"this test left the process umask at {after:03o} (was {before:03o}); restore it"


@pytest.fixture(autouse=True)
def _umask_left_as_found() -> Generator[None, None, None]:
    """A test that changes the process's umask (importing a server entry point sets the private 0o077) fails here,
    not the unrelated test after it whose sandboxed build cannot read a repository made under that umask."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    after = os.umask(before)
    assert after == before, f"this test left the process umask at {after:03o} (was {before:03o}); restore it"


@pytest.fixture(autouse=True)
def _no_real_jobs_by_default(request: pytest.FixtureRequest) -> None:
    """Jobs a test dispatches (``settle()`` delivers every event, job creation included) start on a recording
    fake runner unless the test brings its own: the configured local runner would start real builders
    that report to a server that is not there, and retry for as long as a real API outage may last.
    Stopping and sweeping keep the configured runner (they start nothing; some tests drive it)."""
    from django.apps import apps

    if not apps.ready:
        return  # a suite without Django (the builder's, the manifest library's)
    from estafette.jobs.testing import FakeJobRunner

    runner = FakeJobRunner()
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr("runs.dispatch.get_job_runner", lambda: runner)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A browser may leave a live tail open when its test server stops; the tail poller must not outlive the
    # test database.
    tail = sys.modules.get("runs.tail")
    if tail is not None:
        tail.hub.stop()


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _running.pop("postgres", None)
    if server is not None:
        server.stop()


def pytest_report_header(config: pytest.Config) -> str:
    return f"estafette test database: {os.environ.get('ESTAFETTE_TEST_DB', 'sqlite')}"
