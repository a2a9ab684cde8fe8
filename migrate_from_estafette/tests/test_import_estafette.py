"""``manage.py import_estafette`` against a real PostgreSQL loaded with Estafette's schema and generated rows."""

from __future__ import annotations

from io import StringIO
from typing import Any

import psycopg2
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from builds.models import Build
from builds.services import build_create
from estafette.access.models import Group
from estafette.testing import client_for, make_user, response_json
from migrate_from_estafette.services import estafette_import
from migrate_from_estafette.source import EstafetteSource, SourceError
from migrate_from_estafette.testing import CLIENT_SECRET, MANIFEST, SECRET, FakeEstafette
from pipelines.models import CatalogEntity, Pipeline
from releases.models import BotRun, Release
from runs.models import LogChunk, LogRecord
from runs.selectors import log_steps


def run_import(source: FakeEstafette, **options: Any) -> Any:
    opened = EstafetteSource(source.url).open()
    try:
        return estafette_import(source=opened, **options)
    finally:
        opened.close()


def source_rows(source: FakeEstafette, query: str) -> list[tuple[Any, ...]]:
    with source.connect() as connection, connection.cursor() as cursor:
        cursor.execute(query)
        return list(cursor.fetchall())


@pytest.mark.django_db
def test_it_imports_every_run_and_log_with_the_sources_ids(large_source: FakeEstafette) -> None:
    # when
    report = run_import(large_source)

    # then: counts match the source's tables
    counted = {
        table: source_rows(large_source, f"SELECT count(*) FROM {table}")[0][0]
        for table in ("builds", "releases", "bots", "build_logs", "release_logs")
    }
    assert Build.objects.count() == counted["builds"] == 3000
    assert Release.objects.count() == counted["releases"]
    assert BotRun.objects.count() == counted["bots"]
    assert LogRecord.objects.filter(run_kind="build").count() == counted["build_logs"]
    assert LogRecord.objects.filter(run_kind="release").count() == counted["release_logs"]
    assert report.tables["builds"].created == 3000
    assert Pipeline.objects.count() == 5
    assert Pipeline.objects.get(repo_name="service-4").archived is True
    # and the ids are the source's
    assert set(Build.objects.values_list("id", flat=True)) == set(range(1, 3001))
    lines = sum(chunk.line_count for chunk in LogChunk.objects.filter(record__run_kind="build").only("line_count"))
    assert lines == 3000 * 10


@pytest.mark.django_db
def test_a_sample_of_builds_round_trips_field_by_field(large_source: FakeEstafette) -> None:
    # given
    run_import(large_source)
    columns = (
        "id, repo_source, repo_owner, repo_name, repo_branch, repo_revision, build_version, build_status, labels,"
        " manifest, commits, release_targets, triggers, triggered_by_event, inserted_at, updated_at, started_at,"
        " cpu_max_usage, memory_max_usage"
    )
    sample = source_rows(large_source, f"SELECT {columns} FROM builds WHERE id % 397 = 1 ORDER BY id")

    # then
    assert len(sample) > 5
    for row in sample:
        build = Build.objects.select_related("pipeline").get(pk=row[0])
        assert (build.pipeline.repo_source, build.pipeline.repo_owner, build.pipeline.repo_name) == row[1:4]
        assert (build.repo_branch, build.repo_revision, build.build_version, build.status) == row[4:8]
        assert build.labels == row[8]
        assert build.manifest == row[9]
        assert SECRET in build.manifest  # kept as it is: it decrypts with the same key
        assert (build.commits, build.release_targets, build.triggers, build.triggered_by_events) == row[10:14]
        assert (build.inserted_at, build.updated_at, build.started_at) == row[14:17]
        assert (build.cpu_max_usage, build.memory_max_usage) == row[17:19]
        assert build.counter == int(row[6].rsplit(".", 1)[1])
        assert build.manifest_valid is True


@pytest.mark.django_db
def test_a_logs_steps_round_trip(large_source: FakeEstafette) -> None:
    # given
    run_import(large_source)
    (steps,) = source_rows(large_source, "SELECT steps FROM build_logs WHERE build_id = 13")[0]

    # when
    record = LogRecord.objects.get(run_kind="build", run_id=13)
    stored = log_steps(record=record)

    # then
    assert [step["step"] for step in stored] == [step["step"] for step in steps]
    for ours, theirs in zip(stored, steps, strict=True):
        assert ours["logLines"] == theirs["logLines"]
        assert (ours["status"], ours["exitCode"], ours["duration"]) == (
            theirs["status"],
            theirs["exitCode"],
            theirs["duration"],
        )
        assert ours["autoInjected"] == theirs["autoInjected"]
        assert (ours["image"] or {}).get("name") == (theirs["image"] or {}).get("name")


@pytest.mark.django_db
def test_the_next_build_continues_the_sources_counter_and_ids(small_source: FakeEstafette) -> None:
    # given
    run_import(small_source)
    pipeline = Pipeline.objects.get(repo_name="service-1")
    last = small_source.last_counter("service-1")
    assert pipeline.build_counter == last

    # when
    build = build_create(
        pipeline=pipeline, repo_branch="main", repo_revision="f" * 40, manifest_text=MANIFEST.format(team="team-1")
    )

    # then
    assert build.counter == last + 1
    assert build.build_version == f"1.4.{last + 1}"
    assert build.pk > 200


@pytest.mark.django_db
def test_a_counter_ahead_of_the_builds_is_kept(small_source: FakeEstafette) -> None:
    # given: Estafette handed out counters whose builds are gone (or never made)
    with small_source.connect() as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE build_versions SET auto_increment = 500 WHERE repo_full_name = 'estafette/service-2'")

    # when
    run_import(small_source)

    # then
    assert Pipeline.objects.get(repo_name="service-2").build_counter == 500


@pytest.mark.django_db
def test_a_second_run_imports_nothing_new_and_a_changed_row_is_updated(small_source: FakeEstafette) -> None:
    # given
    run_import(small_source)
    records = LogRecord.objects.count()

    # when: nothing changed
    again = run_import(small_source)

    # then
    for table in ("builds", "releases", "bots", "build_logs", "release_logs"):
        counts = again.tables[table]
        assert (counts.created, counts.updated, counts.skipped) == (0, 0, 0), table
        assert counts.unchanged > 0
    assert LogRecord.objects.count() == records

    # when: the source changed a build and added one
    with small_source.connect() as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE builds SET build_status = 'canceled', labels = '[]' WHERE id = 7")
    small_source.builds = 201
    small_source.fill(first=201)
    third = run_import(small_source)

    # then
    assert (third.tables["builds"].created, third.tables["builds"].updated) == (1, 1)
    changed = Build.objects.get(pk=7)
    assert (changed.status, changed.labels) == ("canceled", [])
    assert third.tables["build_logs"].created == 1
    assert Build.objects.count() == 201


@pytest.mark.django_db
def test_the_api_returns_imported_builds_with_their_logs(small_source: FakeEstafette) -> None:
    # given
    run_import(small_source)
    client = client_for(make_user(staff=True))
    api = "/api/pipelines/github.com/estafette/service-1"

    # when
    builds = client.get(f"{api}/builds").json()
    logs = response_json(client.get(f"{api}/builds/11/logs"))
    pipeline = client.get(api).json()

    # then
    assert builds["pagination"]["totalItems"] == 40
    assert builds["items"][0]["id"] == "196"
    assert builds["items"][0]["buildVersion"] == "1.4.40"
    assert logs["buildID"] == "11"
    assert [step["step"] for step in logs["steps"]] == ["git-clone", "build"]
    assert logs["steps"][1]["logLines"][0]["text"] == "build 11 line 6"
    assert pipeline["buildVersion"] == "1.4.40"


class InterruptedAfter:
    """A progress that stops the import (as Ctrl-C would) once ``rows`` rows of ``table`` are written."""

    def __init__(self, table: str, rows: int) -> None:
        self.table, self.rows, self.current, self.done = table, rows, "", 0

    def start(self, table: str, total: int) -> None:
        self.current = table

    def advance(self, rows: int) -> None:
        self.done += rows if self.current == self.table else 0
        if self.done >= self.rows:
            raise KeyboardInterrupt


@pytest.mark.django_db
def test_a_run_after_an_interrupted_one_carries_on_and_says_so(small_source: FakeEstafette) -> None:
    # given: an import stopped after 100 of the 200 builds
    with pytest.raises(KeyboardInterrupt):
        run_import(small_source, batch_size=50, progress=InterruptedAfter("builds", 100))
    assert Build.objects.count() == 100
    out = StringIO()

    # when
    call_command("import_estafette", small_source.url, verbosity=0, stdout=out)

    # then
    assert "builds: 100 new, 0 changed, 100 already here" in out.getvalue()
    assert "carried on from an earlier run" in out.getvalue()
    assert Build.objects.count() == 200


@pytest.mark.django_db
def test_it_says_what_to_do_when_it_cannot_connect(source_server: Any) -> None:
    url = f"postgresql://nobody:hunter2@127.0.0.1:{source_server.port}/nowhere"

    with pytest.raises(CommandError) as refused:
        call_command("import_estafette", url, verbosity=0, stdout=StringIO())

    message = str(refused.value)
    assert "cannot connect to postgresql://nobody:***@127.0.0.1" in message
    assert "check the host, port, user, password" in message
    assert "hunter2" not in message


@pytest.mark.django_db
def test_it_refuses_a_database_without_estafettes_schema(source_server: Any) -> None:
    source_server.psql("CREATE DATABASE not_estafette TEMPLATE template0")

    with pytest.raises(SourceError) as refused:
        EstafetteSource(source_server.url("not_estafette")).open()

    assert "does not have the schema of an Estafette database" in str(refused.value)
    assert "run Estafette's database migrator" in str(refused.value)


def test_it_reads_the_source_read_only(small_source: FakeEstafette) -> None:
    opened = EstafetteSource(small_source.url).open()
    try:
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction), opened.connection.cursor() as cursor:
            cursor.execute("DELETE FROM builds")
    finally:
        opened.close()
    assert source_rows(small_source, "SELECT count(*) FROM builds")[0][0] == 200


@pytest.mark.django_db
def test_it_imports_the_catalog_and_who_may_do_what(small_source: FakeEstafette) -> None:
    # when
    report = run_import(small_source)
    again = run_import(small_source)

    # then: the catalog keeps its ids and tree
    child = CatalogEntity.objects.get(pk=2)
    assert (child.parent_key, child.parent_value, child.key, child.value) == ("team", "ci", "service", "service-1")
    assert child.linked_pipeline == "github.com/estafette/service-1"
    assert (child.labels, child.metadata) == ([{"key": "tier", "value": "1"}], {"owner": "dev@example.com"})
    # organizations, groups, users with their identities, clients
    group = Group.objects.get(name="team-ci")
    assert group.roles == ["group.pipelines.operator"]
    assert [org.name for org in group.organizations.all()] == ["acme"]
    dev = get_user_model().objects.get(username="dev@example.com")
    assert dev.account.roles == ["catalog.entities.admin"]
    assert [g.name for g in dev.account.groups.all()] == ["team-ci"]
    assert dev.identities.get().avatar == "https://avatars.example.com/1234"
    assert get_user_model().objects.get(username="gone@example.com").is_active is False
    # an API client logs in with the secret it had
    login = APIClient().post(
        "/api/auth/client/login", {"clientID": "f2a7d1c0c0ffee", "clientSecret": CLIENT_SECRET}, format="json"
    )
    assert login.status_code == 200, login.content
    assert any("estafette.old-role" in note for note in report.notes)
    assert any(note.startswith("notifications: 1 not imported") for note in report.notes)
    # and a second run changes none of it
    for table in ("catalog_entities", "organizations", "groups", "users", "clients"):
        assert (again.tables[table].created, again.tables[table].updated) == (0, 0), table


@pytest.mark.django_db
def test_a_build_with_a_cockroachdb_id_is_served_by_its_id(small_source: FakeEstafette) -> None:
    # given: CockroachDB's ids (unique_rowid()) have 19 digits these days
    big = 1_152_921_504_606_846_976
    with small_source.connect() as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE builds SET id = %s WHERE id = 6", [big])
        cursor.execute("UPDATE build_logs SET build_id = %s WHERE build_id = 6", [big])
    run_import(small_source)
    client = client_for(make_user(staff=True))

    # when
    build = client.get(f"/api/pipelines/github.com/estafette/service-1/builds/{big}")
    logs = response_json(client.get(f"/api/pipelines/github.com/estafette/service-1/builds/{big}/logs"))

    # then
    assert build.status_code == 200, build.content
    assert build.json()["id"] == str(big)
    assert logs["buildID"] == str(big)
