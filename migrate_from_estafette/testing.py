"""An Estafette database for tests and the benchmark: Estafette's schema (``tests/estafette_schema.sql``, from
ESTAFETTE.md §4) filled with generated rows, written the way Estafette writes them (JSONB in its contracts' JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2.extras import execute_values

SCHEMA = Path(__file__).parent / "tests" / "estafette_schema.sql"

MANIFEST = """\
labels:
  team: {team}
  language: go

version:
  semver:
    major: 1
    minor: 4

stages:
  build:
    image: golang:1.22
    env:
      TOKEN: estafette.secret(deFTz5Bdjg6SUe29.oPIkXbze5G9PNEWS2-ZnArl8BCqHnx4MdTdxHg37th9u)
    commands:
    - go test ./...

releases:
  production:
    stages:
      deploy:
        image: extensions/gke:stable
"""
SECRET = "estafette.secret(deFTz5Bdjg6SUe29.oPIkXbze5G9PNEWS2-ZnArl8BCqHnx4MdTdxHg37th9u)"  # noqa: S105 — an encrypted value
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
CLIENT_SECRET = "a-client-secret-of-the-source"  # noqa: S105 — a test fixture's


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class FakeEstafette:
    """Generates an Estafette database's rows. ``builds`` over ``pipelines`` repositories, each build with one log of
    ``lines_per_log`` lines over two stages; a release for every ``release_every``-th build, a bot run for every
    ``bot_every``-th."""

    url: str
    pipelines: int = 5
    builds: int = 1000
    lines_per_log: int = 10
    release_every: int = 5
    bot_every: int = 20

    def connect(self) -> Any:
        return psycopg2.connect(self.url)

    def create_schema(self) -> None:
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(SCHEMA.read_text())

    def repository(self, number: int) -> tuple[str, str, str]:
        return ("github.com", "estafette", f"service-{number % self.pipelines}")

    def build_row(self, number: int) -> tuple[Any, ...]:
        """Build ``number`` (from 1): its counter within its repository is ``number // pipelines + 1``."""
        source, owner, name = self.repository(number)
        counter = (number - 1) // self.pipelines + 1
        at = EPOCH + timedelta(minutes=number)
        status = "failed" if number % 10 == 3 else "succeeded"
        event = [{"fired": True, "git": {"event": "push", "repository": f"{source}/{owner}/{name}", "branch": "main"}}]
        return (
            number,
            source,
            owner,
            name,
            "main",
            f"{number:040x}",
            f"1.4.{counter}",
            status,
            _json([{"key": "language", "value": "go"}, {"key": "team", "value": f"team-{number % 3}"}]),
            MANIFEST.format(team=f"team-{number % 3}"),
            _json([{"message": f"change {number}", "author": {"email": "dev@example.com", "name": "Dev"}}]),
            _json([{"name": "production", "actions": []}]),
            _json([{"git": {"event": "push", "repository": f"{source}/{owner}/{name}", "branch": "main"}}]),
            _json(event),
            at,
            at + timedelta(seconds=90),
            at + timedelta(seconds=5),
            1.5,
            256.0 * 1024 * 1024,
        )

    def log_steps(self, number: int, lines: int) -> list[dict[str, Any]]:
        at = EPOCH + timedelta(minutes=number)
        half = lines // 2

        def log_lines(start: int, count: int) -> list[dict[str, Any]]:
            return [
                {
                    "line": line,
                    "timestamp": (at + timedelta(seconds=line)).isoformat().replace("+00:00", "Z"),
                    "streamType": "stdout",
                    "text": f"build {number} line {line}",
                }
                for line in range(start, start + count)
            ]

        image = {"name": "golang", "tag": "1.22", "isPulled": True, "imageSize": 1000, "pullDuration": 2000000000}
        return [
            {
                "step": "git-clone",
                "depth": 0,
                "image": None,
                "runIndex": 0,
                "duration": 1000000000,
                "logLines": log_lines(1, half),
                "exitCode": 0,
                "status": "SUCCEEDED",
                "autoInjected": True,
                "nestedSteps": None,
                "services": None,
            },
            {
                "step": "build",
                "depth": 0,
                "image": image,
                "runIndex": 0,
                "duration": 60000000000,
                "logLines": log_lines(half + 1, lines - half),
                "exitCode": 1 if number % 10 == 3 else 0,
                "status": "FAILED" if number % 10 == 3 else "SUCCEEDED",
                "autoInjected": False,
                "nestedSteps": None,
                "services": None,
            },
        ]

    def _batches(self, start: int, stop: int, size: int = 1000) -> Iterator[range]:
        for first in range(start, stop, size):
            yield range(first, min(first + size, stop))

    def fill(self, *, first: int = 1) -> None:
        """Insert builds ``first`` … ``builds`` with their logs, releases, bot runs and logs, the pipelines, the
        counters, and a few users, groups, organizations, clients, catalog entities and notifications."""
        with self.connect() as connection, connection.cursor() as cursor:
            for numbers in self._batches(first, self.builds + 1):
                execute_values(
                    cursor,
                    "INSERT INTO builds (id, repo_source, repo_owner, repo_name, repo_branch, repo_revision,"
                    " build_version, build_status, labels, manifest, commits, release_targets, triggers,"
                    " triggered_by_event, inserted_at, updated_at, started_at, cpu_max_usage, memory_max_usage)"
                    " VALUES %s",
                    [self.build_row(number) for number in numbers],
                )
                execute_values(
                    cursor,
                    "INSERT INTO build_logs (id, repo_source, repo_owner, repo_name, repo_branch, repo_revision,"
                    " build_id, steps, inserted_at) VALUES %s",
                    [
                        (
                            number,
                            *self.repository(number),
                            "main",
                            f"{number:040x}",
                            number,
                            _json(self.log_steps(number, self.lines_per_log)),
                            EPOCH + timedelta(minutes=number, seconds=95),
                        )
                        for number in numbers
                    ],
                )
                releases = [number for number in numbers if number % self.release_every == 0]
                if releases:
                    execute_values(
                        cursor,
                        "INSERT INTO releases (id, repo_source, repo_owner, repo_name, release, release_version,"
                        " release_status, release_action, triggered_by_event, inserted_at, updated_at, started_at)"
                        " VALUES %s",
                        [
                            (
                                number // self.release_every,
                                *self.repository(number),
                                "production",
                                f"1.4.{(number - 1) // self.pipelines + 1}",
                                "succeeded",
                                "",
                                _json([{"fired": True, "manual": {"userID": "dev@example.com"}}]),
                                EPOCH + timedelta(minutes=number, seconds=100),
                                EPOCH + timedelta(minutes=number, seconds=160),
                                EPOCH + timedelta(minutes=number, seconds=102),
                            )
                            for number in releases
                        ],
                    )
                    execute_values(
                        cursor,
                        "INSERT INTO release_logs (id, repo_source, repo_owner, repo_name, release_id, steps,"
                        " inserted_at) VALUES %s",
                        [
                            (
                                number // self.release_every,
                                *self.repository(number),
                                number // self.release_every,
                                _json(self.log_steps(number, 4)),
                                EPOCH + timedelta(minutes=number, seconds=161),
                            )
                            for number in releases
                        ],
                    )
                bots = [number for number in numbers if number % self.bot_every == 0]
                if bots:
                    execute_values(
                        cursor,
                        "INSERT INTO bots (id, repo_source, repo_owner, repo_name, bot, bot_status,"
                        " triggered_by_event, inserted_at, updated_at, started_at) VALUES %s",
                        [
                            (
                                number // self.bot_every,
                                *self.repository(number),
                                "tidy",
                                "succeeded",
                                _json([]),
                                EPOCH + timedelta(minutes=number, seconds=110),
                                EPOCH + timedelta(minutes=number, seconds=120),
                                EPOCH + timedelta(minutes=number, seconds=111),
                            )
                            for number in bots
                        ],
                    )
            cursor.execute("SELECT setval('builds_id_seq', (SELECT max(id) FROM builds))")
            cursor.execute("DELETE FROM computed_pipelines")
            cursor.execute("DELETE FROM build_versions")
            repositories = {self.repository(number) for number in range(1, min(self.builds, self.pipelines) + 1)}
            execute_values(
                cursor,
                "INSERT INTO computed_pipelines (repo_source, repo_owner, repo_name, archived, first_inserted_at)"
                " VALUES %s",
                [(*repository, repository[2] == "service-4", EPOCH) for repository in sorted(repositories)],
            )
            execute_values(
                cursor,
                "INSERT INTO build_versions (repo_source, repo_full_name, auto_increment) VALUES %s",
                [("github", f"{owner}/{name}", self.last_counter(name)) for _, owner, name in sorted(repositories)],
            )

    def fill_directory(self) -> None:
        """The catalog, the people and machines of the installation, and a notification: a few rows of each."""
        organization = {"name": "acme", "roles": ["organization.pipelines.viewer"]}
        with self.connect() as connection, connection.cursor() as cursor:
            execute_values(
                cursor,
                "INSERT INTO catalog_entities (id, parent_key, parent_value, entity_key, entity_value,"
                " linked_pipeline, labels, entity_metadata) VALUES %s",
                [
                    (1, "", "", "team", "ci", "", _json([]), _json({"slack": "#ci"})),
                    (
                        2,
                        "team",
                        "ci",
                        "service",
                        "service-1",
                        "github.com/estafette/service-1",
                        _json([{"key": "tier", "value": "1"}]),
                        _json({"owner": "dev@example.com"}),
                    ),
                ],
            )
            cursor.execute(
                "INSERT INTO organizations (id, organization_data, active) VALUES (1, %s, true)",
                [_json(organization)],
            )
            cursor.execute(
                "INSERT INTO groups (id, group_data, active) VALUES (1, %s, true)",
                [
                    _json(
                        {
                            "name": "team-ci",
                            "description": "the CI team",
                            "organizations": [organization],
                            "roles": ["group.pipelines.operator", "estafette.old-role"],
                        }
                    )
                ],
            )
            cursor.execute(
                "INSERT INTO users (id, user_data, active) VALUES (1, %s, true), (2, %s, false)",
                [
                    _json(
                        {
                            "name": "Dev",
                            "email": "dev@example.com",
                            "identities": [
                                {
                                    "provider": "github",
                                    "id": "1234",
                                    "email": "dev@example.com",
                                    "name": "Dev",
                                    "avatar": "https://avatars.example.com/1234",
                                }
                            ],
                            "groups": [{"id": "1", "name": "team-ci"}],
                            "organizations": [organization],
                            "roles": ["catalog.entities.admin"],
                            "currentProvider": "github",
                            "currentOrganization": "acme",
                        }
                    ),
                    _json({"identities": [{"provider": "google", "id": "99", "email": "gone@example.com"}]}),
                ],
            )
            cursor.execute(
                "INSERT INTO clients (id, client_data, active) VALUES (1, %s, true)",
                [
                    _json(
                        {
                            "name": "hanging-job-cleaner",
                            "clientID": "f2a7d1c0c0ffee",
                            "clientSecret": CLIENT_SECRET,
                            "roles": ["administrator"],
                            "organizations": [organization],
                        }
                    )
                ],
            )
            cursor.execute(
                "INSERT INTO notifications (link_type, link_id, source, notifications) VALUES"
                " ('pipeline', 'github.com/estafette/service-1', 'extensions/trivy', '[]')"
            )

    def last_counter(self, name: str) -> int:
        """The last counter Estafette handed out for a repository: its highest build's (as ``build_row`` counts)."""
        number = int(name.rsplit("-", 1)[1])
        numbers = [n for n in range(1, self.builds + 1) if n % self.pipelines == number % self.pipelines]
        return (max(numbers) - 1) // self.pipelines + 1 if numbers else 0
