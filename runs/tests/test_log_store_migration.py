"""The log store moved from the builds app to runs by state only: a database from before keeps serving its logs.

Runs on each test database (SQLite, PostgreSQL, CockroachDB): the database is migrated back to the last migration
before the move, a build and its log are written there through the historical models, and after migrating to the end
the API serves that log as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from estafette.testing import client_for, make_user, response_json

BEFORE_THE_MOVE = [("builds", "0003_job_tracking"), ("runs", None)]
T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader: what is applied now


def migrate_to_the_end() -> None:
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def database_before_the_move(transactional_db: None) -> Iterator[object]:
    """The historical models (``apps``) of a database migrated to just before the move; migrated back to the end
    afterwards, whatever the test did."""
    executor = migrate(BEFORE_THE_MOVE)
    try:
        yield executor.loader.project_state(list(executor.loader.applied_migrations)).apps
    finally:
        migrate_to_the_end()


def test_it_serves_a_log_written_before_the_log_store_moved_to_runs(database_before_the_move) -> None:
    # given: a build and its log, written into the tables the builds app owned
    apps = database_before_the_move
    pipeline = apps.get_model("pipelines", "Pipeline").objects.create(
        repo_source="github.com", repo_owner="acme", repo_name="api"
    )
    build = apps.get_model("builds", "Build").objects.create(
        pipeline=pipeline,
        repo_branch="main",
        repo_revision="a" * 40,
        build_version="1.0.0",
        status="succeeded",
        inserted_at=T0,
        updated_at=T0,
    )
    record = apps.get_model("builds", "LogRecord").objects.create(
        pipeline=pipeline, run_kind="build", run_id=build.pk, inserted_at=T0, updated_at=T0
    )
    step = apps.get_model("builds", "LogStep").objects.create(record=record, name="test", status="SUCCEEDED")
    line = {"line": 1, "timestamp": "2030-03-01T12:00:01Z", "streamType": "stdout", "text": "all green"}
    apps.get_model("builds", "LogChunk").objects.create(
        record=record, step=step, seq=1, entries=[{"logLine": line}], line_count=1
    )

    # when: the database migrates to the end
    migrate_to_the_end()

    # then: the API serves the log it had
    response = client_for(make_user()).get(f"/api/pipelines/github.com/acme/api/builds/{build.pk}/logs")
    assert response.status_code == 200
    document = response_json(response)
    assert document["id"] == str(record.pk)
    assert document["buildID"] == str(build.pk)
    assert [(step["step"], step["status"], step["logLines"]) for step in document["steps"]] == [
        ("test", "SUCCEEDED", [line])
    ]


def test_the_log_store_models_content_types_follow_them_to_runs(database_before_the_move) -> None:
    # given: the content types of an installation from before the move (its admin permissions point at them)
    content_types = database_before_the_move.get_model("contenttypes", "ContentType")
    content_types.objects.filter(app_label="runs").delete()
    old, _ = content_types.objects.get_or_create(app_label="builds", model="logrecord")

    # when
    migrate_to_the_end()

    # then: the same row, now the runs app's
    from django.contrib.contenttypes.models import ContentType

    moved = ContentType.objects.get(pk=old.pk)
    assert (moved.app_label, moved.model) == ("runs", "logrecord")
