"""The log search's table (``runs.LogSearchLine``) and each database's full-text index on it.

The index is not in the model's state (no backend has one Django field type for it), so each database gets its own
here, created with the table and dropped with it:

- SQLite: an FTS5 table over ``text`` that reads its content from ``runs_logline`` (``content=``), kept current by
  three triggers, so a line is indexed in the statement that stores it and unindexed in the one that deletes it.
- PostgreSQL and CockroachDB: a stored generated ``tsvector`` column (``to_tsvector('simple', text)``: words as
  written, no stemming or stop words — a log search looks for identifiers, not English) with an inverted (GIN) index.
  Both databases accept the same statements (CockroachDB 23.1+ indexes ``tsvector`` and takes ``USING GIN``).
"""

from django.db import migrations, models
from django.utils import timezone

SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE runs_logline_fts USING fts5(text, content='runs_logline', content_rowid='id', "
    "tokenize='unicode61')",
    "CREATE TRIGGER runs_logline_fts_insert AFTER INSERT ON runs_logline BEGIN "
    "INSERT INTO runs_logline_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER runs_logline_fts_delete AFTER DELETE ON runs_logline BEGIN "
    "INSERT INTO runs_logline_fts(runs_logline_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER runs_logline_fts_update AFTER UPDATE OF text ON runs_logline BEGIN "
    "INSERT INTO runs_logline_fts(runs_logline_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO runs_logline_fts(rowid, text) VALUES (new.id, new.text); END",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS runs_logline_fts_update",
    "DROP TRIGGER IF EXISTS runs_logline_fts_delete",
    "DROP TRIGGER IF EXISTS runs_logline_fts_insert",
    "DROP TABLE IF EXISTS runs_logline_fts",
)
POSTGRES_CREATE = (
    "ALTER TABLE runs_logline ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED",
    "CREATE INDEX runs_logline_search ON runs_logline USING GIN (search_vector)",
)
POSTGRES_DROP = (
    "DROP INDEX IF EXISTS runs_logline_search",
    "ALTER TABLE runs_logline DROP COLUMN IF EXISTS search_vector",
)


def _statements(schema_editor, *, sqlite: tuple[str, ...], postgres: tuple[str, ...]) -> tuple[str, ...]:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        return sqlite
    if vendor in ("postgresql", "cockroachdb"):
        return postgres
    raise RuntimeError(f"the log search has no index for the {vendor} database; use SQLite, PostgreSQL or CockroachDB")


def create_search_index(apps, schema_editor):
    for statement in _statements(schema_editor, sqlite=SQLITE_CREATE, postgres=POSTGRES_CREATE):
        schema_editor.execute(statement)


def drop_search_index(apps, schema_editor):
    for statement in _statements(schema_editor, sqlite=SQLITE_DROP, postgres=POSTGRES_DROP):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    # CockroachDB cannot roll DDL back, and django-cockroachdb refuses raw DDL inside a migration's transaction.
    atomic = False

    dependencies = [
        ("runs", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="LogSearchLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("pipeline_id", models.BigIntegerField()),
                ("run_kind", models.CharField(max_length=8)),
                ("run_id", models.BigIntegerField()),
                ("line", models.PositiveIntegerField()),
                ("text", models.TextField()),
                ("inserted_at", models.DateTimeField(default=timezone.now)),
                (
                    "record",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="runs.logrecord",
                    ),
                ),
                (
                    "step",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="runs.logstep",
                    ),
                ),
            ],
            options={"db_table": "runs_logline"},
        ),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
