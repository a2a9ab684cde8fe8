"""Reading an Estafette database (PostgreSQL or CockroachDB; ESTAFETTE.md §4), read-only, in bounded batches.

Rows are read in keyset batches (``WHERE id > last ORDER BY id LIMIT n``) on each table's primary key rather than
through a server-side cursor: memory stays bounded however large a table is, every batch is its own short read-only
statement (no long transaction holding a snapshot on the source, which CockroachDB would have to keep), and it works
the same on both databases. JSONB columns arrive decoded, TIMESTAMPTZ as aware datetimes (psycopg2).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql


class SourceError(Exception):
    """The source cannot be read: the message says what to do next."""


# What the import reads of each table. A table missing or lacking one of these columns is a schema this import does
# not know (ESTAFETTE.md §4 describes Estafette's migrator at 00098); OPTIONAL columns are read where they exist.
REQUIRED: dict[str, tuple[str, ...]] = {
    "computed_pipelines": ("id", "repo_source", "repo_owner", "repo_name", "archived", "first_inserted_at"),
    "builds": (
        "id",
        "repo_source",
        "repo_owner",
        "repo_name",
        "repo_branch",
        "repo_revision",
        "build_version",
        "build_status",
        "labels",
        "manifest",
        "commits",
        "release_targets",
        "triggers",
        "triggered_by_event",
        "inserted_at",
        "updated_at",
        "started_at",
    ),
    "build_logs": ("id", "repo_source", "repo_owner", "repo_name", "build_id", "inserted_at"),
    "build_versions": ("id", "repo_source", "repo_full_name", "auto_increment"),
    "releases": (
        "id",
        "repo_source",
        "repo_owner",
        "repo_name",
        "release",
        "release_version",
        "release_status",
        "release_action",
        "triggered_by_event",
        "inserted_at",
        "updated_at",
        "started_at",
    ),
    "release_logs": ("id", "repo_source", "repo_owner", "repo_name", "release_id", "inserted_at"),
    "bots": (
        "id",
        "repo_source",
        "repo_owner",
        "repo_name",
        "bot",
        "bot_status",
        "triggered_by_event",
        "inserted_at",
        "updated_at",
        "started_at",
    ),
    "bot_logs": ("id", "repo_source", "repo_owner", "repo_name", "bot_id", "inserted_at"),
    "computed_releases": ("id",),
    "users": ("id", "user_data", "active"),
    "groups": ("id", "group_data", "active"),
    "organizations": ("id", "organization_data", "active"),
    "clients": ("id", "client_data", "active"),
    "catalog_entities": (
        "id",
        "parent_key",
        "parent_value",
        "entity_key",
        "entity_value",
        "linked_pipeline",
        "labels",
        "entity_metadata",
    ),
    "notifications": ("id",),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "builds": ("cpu_max_usage", "memory_max_usage"),
    "releases": ("cpu_max_usage", "memory_max_usage"),
    "bots": ("cpu_max_usage", "memory_max_usage"),
    # Migration 00098 dropped the log steps (Estafette then keeps logs in a bucket): before it, they are here.
    "build_logs": ("steps",),
    "release_logs": ("steps",),
    "bot_logs": ("steps",),
    "catalog_entities": ("inserted_at", "updated_at"),
}


def redacted(url: str) -> str:
    """The URL without its password, to show in messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc[-1]}"))


@dataclass
class EstafetteSource:
    """A read-only connection to an Estafette database and what its schema offers."""

    url: str
    connection: Any = None
    columns: dict[str, set[str]] = field(default_factory=dict)

    def open(self) -> EstafetteSource:
        if urlsplit(self.url).scheme not in {"postgres", "postgresql", "cockroachdb"}:
            raise SourceError(
                f"{redacted(self.url)} is not a database URL: give postgresql://user:password@host:port/database "
                "(CockroachDB too; add ?sslmode=require and the certificates as it needs)"
            )
        dsn = "postgresql" + self.url[self.url.index(":") :]
        try:
            self.connection = psycopg2.connect(dsn, connect_timeout=15, application_name="estafette-import")
        except psycopg2.Error as error:
            raise SourceError(
                f"cannot connect to {redacted(self.url)}: {str(error).strip().splitlines()[0] if str(error) else error}"
                "; check the host, port, user, password, database name and sslmode, and that this machine may reach it"
            ) from None
        # Read-only on the server's side too: nothing this import sends can change the source.
        self.connection.set_session(readonly=True, autocommit=True)
        self._read_schema()
        return self

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _read_schema(self) -> None:
        rows = self._fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        for table, column in rows:
            self.columns.setdefault(table, set()).add(column)
        missing = [
            f"{table}.{column}"
            for table, needed in REQUIRED.items()
            for column in needed
            if column not in self.columns.get(table, set())
        ]
        if missing:
            shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            raise SourceError(
                f"{redacted(self.url)} does not have the schema of an Estafette database this import knows "
                f"(missing {shown}): point it at Estafette's database (the one its API uses), and run Estafette's "
                "database migrator to its latest version first if it is older"
            )

    def has(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, set())

    def selected(self, table: str) -> list[str]:
        return [*REQUIRED[table], *(column for column in OPTIONAL.get(table, ()) if self.has(table, column))]

    def count(self, table: str) -> int:
        return int(self._fetch(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))[0][0])

    def batches(
        self, table: str, *, size: int, after: int = 0, leave_out: tuple[str, ...] = ()
    ) -> Iterator[list[dict[str, Any]]]:
        """The table's rows in id order, ``size`` at a time, as dicts of the selected columns but ``leave_out``."""
        columns = [column for column in self.selected(table) if column not in leave_out]
        query = sql.SQL("SELECT {} FROM {} WHERE id > %s ORDER BY id LIMIT %s").format(
            sql.SQL(", ").join(sql.Identifier(column) for column in columns), sql.Identifier(table)
        )
        while True:
            rows = self._fetch(query, (after, size))
            if not rows:
                return
            yield [dict(zip(columns, row, strict=True)) for row in rows]
            after = rows[-1][0]
            if len(rows) < size:
                return

    def column_of(self, table: str, column: str, ids: Sequence[int]) -> dict[int, Any]:
        """One column of the rows with these ids (a log's steps: read only for the logs not imported before)."""
        if not ids:
            return {}
        query = sql.SQL("SELECT id, {} FROM {} WHERE id IN ({})").format(
            sql.Identifier(column), sql.Identifier(table), sql.SQL(", ").join(sql.Placeholder() * len(ids))
        )
        return dict(self._fetch(query, list(ids)))

    def _fetch(self, query: Any, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(query, params)
                return list(cursor.fetchall())
        except psycopg2.Error as error:
            raise SourceError(
                f"reading {redacted(self.url)} failed: {str(error).strip().splitlines()[0]}; nothing of this batch was "
                "written here: run the import again once the source answers (what was imported is kept)"
            ) from None
