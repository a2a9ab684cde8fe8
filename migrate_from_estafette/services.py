"""Importing an Estafette database (``manage.py import_estafette``): its pipelines, runs, logs and counters.

Each table is read in keyset batches (``source.EstafetteSource``) and each batch is written in its own transaction by
the services of the app that owns the rows (``pipelines.imports``, ``builds.imports``, ``releases.imports``,
``runs.imports``), keyed by Estafette's ids: a row imported before is compared and updated only when it changed, so the
import can run again at any time — after an interruption it carries on (what was written is kept), and later it picks
up what the source added or changed since. Nothing is written to the source.

Order matters: pipelines, then builds (releases and bot runs are placed on builds), then the logs (of runs that are
here), then the counters, then every touched pipeline's read model (Estafette's ``computed_*`` tables are read models
too: ours are recomputed from the runs rather than copied).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import IntegrityError

from builds.imports import build_import_counter, builds_import
from estafette.access.imports import client_import, group_import, organization_import, user_import
from estafette.lib.bulk import UpsertCounts
from estafette.lib.errors import BadRequest
from migrate_from_estafette import mapping
from migrate_from_estafette.source import EstafetteSource
from pipelines.imports import catalog_entities_import, pipeline_counter_at_least, pipeline_import
from pipelines.models import Pipeline
from pipelines.services import pipeline_refresh_read_model
from releases.imports import bot_runs_import, releases_import
from runs.imports import ImportedLog, logs_import, logs_stored

BATCH_SIZE = 1000
LOG_BATCH_SIZE = 100  # a log row holds a whole run's lines


class Progress(Protocol):
    def start(self, table: str, total: int) -> None: ...
    def advance(self, rows: int) -> None: ...


class NoProgress:
    def start(self, table: str, total: int) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass


@dataclass
class ImportReport:
    """What the import did, table by table, and what it could not do (each note says why)."""

    tables: dict[str, UpsertCounts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def counts(self, table: str) -> UpsertCounts:
        return self.tables.setdefault(table, UpsertCounts())

    def note(self, message: str) -> None:
        if len(self.notes) < 200:  # a source with thousands of odd rows is told in its first ones and the totals
            self.notes.append(message)


class _Pipelines:
    """Pipeline ids by repository, made on first sight; the pipelines the import touched."""

    def __init__(self, report: ImportReport) -> None:
        self.ids: dict[tuple[str, str, str], int] = {}
        self.touched: set[int] = set()
        self.report = report

    def id_of(self, row: dict[str, Any], *, table: str, **import_fields: Any) -> int | None:
        identity = (row["repo_source"] or "", row["repo_owner"] or "", row["repo_name"] or "")
        known = self.ids.get(identity)
        if known is not None and not import_fields:
            return known
        try:
            pipeline, outcome = pipeline_import(
                repo_source=identity[0], repo_owner=identity[1], repo_name=identity[2], **import_fields
            )
        except BadRequest as error:
            self.report.note(f"{table} {row['id']}: skipped, its repository cannot be a pipeline here ({error})")
            return None
        if import_fields:
            setattr(self.report.counts("pipelines"), outcome, getattr(self.report.counts("pipelines"), outcome) + 1)
        self.ids[identity] = pipeline.pk
        return pipeline.pk


def estafette_import(
    *,
    source: EstafetteSource,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    log_batch_size: int = LOG_BATCH_SIZE,
) -> ImportReport:
    """Import (or bring up to date) everything of ``source`` this project keeps. Returns what it did."""
    run = _Import(source, progress or NoProgress(), batch_size=batch_size, log_batch_size=log_batch_size)
    run.each_batch("computed_pipelines", batch_size, run.pipelines_of)
    run.each_batch("builds", batch_size, run.builds)
    run.runs("releases", mapping.release, lambda runs: releases_import(releases=runs))
    run.runs("bots", mapping.bot_run, lambda runs: bot_runs_import(bot_runs=runs))
    run.logs("build_logs", "build", "build_id")
    run.logs("release_logs", "release", "release_id")
    run.logs("bot_logs", "bot", "bot_id")
    run.each_batch("build_versions", batch_size, run.counters)
    run.each_batch("catalog_entities", batch_size, run.catalog_entities)
    run.access("organizations", "organization_data", organization_import)
    run.access("groups", "group_data", group_import)
    run.access("users", "user_data", user_import)
    run.access("clients", "client_data", client_import)
    if run.dropped_roles:
        run.report.note(f"roles this project does not know were left out: {', '.join(sorted(run.dropped_roles))}")
    notifications = source.count("notifications")
    if notifications:
        run.report.note(
            f"notifications: {notifications} not imported (this project keeps no notifications of Estafette's "
            "extensions; they come again from the next runs)"
        )
    run.read_models()
    return run.report


class _Import:
    def __init__(self, source: EstafetteSource, progress: Progress, *, batch_size: int, log_batch_size: int) -> None:
        self.source = source
        self.progress = progress
        self.batch_size = batch_size
        self.log_batch_size = log_batch_size
        self.report = ImportReport()
        self.pipelines = _Pipelines(self.report)
        self.by_short_name: dict[tuple[str, str], list[int]] = {}
        self.dropped_roles: set[str] = set()

    def each_batch(
        self, table: str, size: int, handle: Callable[[list[dict[str, Any]]], None], leave_out: tuple[str, ...] = ()
    ) -> None:
        self.progress.start(table, self.source.count(table))
        for rows in self.source.batches(table, size=size, leave_out=leave_out):
            handle(rows)
            self.progress.advance(len(rows))

    def pipelines_of(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.pipelines.id_of(
                row, table="computed_pipelines", archived=bool(row["archived"]), inserted_at=row["first_inserted_at"]
            )

    def builds(self, rows: list[dict[str, Any]]) -> None:
        builds = []
        for row in rows:
            pipeline_id = self.pipelines.id_of(row, table="builds")
            if pipeline_id is None:
                self.report.counts("builds").skipped += 1
                continue
            full_name = f"{row['repo_source']}/{row['repo_owner']}/{row['repo_name']}"
            counter, valid = build_import_counter(
                manifest=row["manifest"] or "", build_version=row["build_version"] or "", pipeline_full_name=full_name
            )
            builds.append(mapping.build(row, pipeline_id=pipeline_id, counter=counter, manifest_valid=valid))
            self.pipelines.touched.add(pipeline_id)
        self.report.counts("builds").add(builds_import(builds=builds))

    def runs(self, table: str, make: Callable[..., Any], write: Callable[[list[Any]], UpsertCounts]) -> None:
        def handle(rows: list[dict[str, Any]]) -> None:
            runs = []
            for row in rows:
                pipeline_id = self.pipelines.id_of(row, table=table)
                if pipeline_id is None:
                    self.report.counts(table).skipped += 1
                    continue
                runs.append(make(row, pipeline_id=pipeline_id))
                self.pipelines.touched.add(pipeline_id)
            counts = write(runs)
            if counts.skipped:
                self.report.note(
                    f"{table}: {counts.skipped} of a batch skipped: their pipeline has no build here to run on"
                )
            self.report.counts(table).add(counts)

        self.each_batch(table, self.batch_size, handle)

    def logs(self, table: str, run_kind: str, run_column: str) -> None:
        if not self.source.has(table, "steps"):
            self.report.note(
                f"{table}: this Estafette keeps its logs in a bucket (its database has no log steps since migration "
                "00098): the log rows were not imported; builds, releases and bot runs are"
            )
            return

        def handle(rows: list[dict[str, Any]]) -> None:
            counts = self.report.counts(table)
            candidates = []
            for row in rows:
                pipeline_id = self.pipelines.id_of(row, table=table)
                if pipeline_id is None or row[run_column] is None:
                    counts.skipped += 1
                    continue
                candidates.append((row, pipeline_id, f"estafette:{row['id']}"))
            # A log's lines are most of the source's bytes: read them only for the logs not imported before.
            stored = logs_stored(run_kind=run_kind, keys=[(row[run_column], key) for row, _, key in candidates])
            missing = [
                (row, pipeline_id, key) for row, pipeline_id, key in candidates if (row[run_column], key) not in stored
            ]
            counts.unchanged += len(candidates) - len(missing)
            steps_of = self.source.column_of(table, "steps", [row["id"] for row, _, _ in missing])
            logs = []
            for row, pipeline_id, key in missing:
                steps = self._steps(table, row["id"], steps_of.get(row["id"]))
                if steps is None:
                    counts.skipped += 1
                    continue
                logs.append(
                    ImportedLog(
                        run_kind=run_kind,
                        run_id=row[run_column],
                        pipeline_id=pipeline_id,
                        key=key,
                        inserted_at=row["inserted_at"],
                        steps=steps,
                    )
                )
            imported, refused = logs_import(logs=logs)
            for log in refused:
                self.report.note(f"{table} {log.key.removeprefix('estafette:')}: skipped, {log.reason}")
            counts.add(imported)

        self.each_batch(table, self.log_batch_size, handle, leave_out=("steps",))

    def _steps(self, table: str, row_id: int, steps: Any) -> list[Any] | None:
        try:
            return mapping.log_steps(steps)
        except mapping.RowError as error:
            self.report.note(f"{table} {row_id}: skipped, {error}")
            return None

    def counters(self, rows: list[dict[str, Any]]) -> None:
        """Estafette's build counter per repository, (short source "github", "owner/name") → the last counter handed
        out: the pipelines of that repository continue after it."""
        if not self.by_short_name:
            for (source_name, owner, name), pipeline_id in self.pipelines.ids.items():
                self.by_short_name.setdefault((source_name.split(".")[0], f"{owner}/{name}"), []).append(pipeline_id)
        counts = self.report.counts("build_versions")
        for row in rows:
            short = (row["repo_source"] or "").split(".")[0]
            matches = self.by_short_name.get((short, row["repo_full_name"] or ""), [])
            if not matches:
                counts.skipped += 1
                continue
            counter = int(row["auto_increment"] or 0)
            raised = [pipeline_counter_at_least(pipeline_id=pipeline_id, counter=counter) for pipeline_id in matches]
            if any(raised):
                counts.updated += 1
            else:
                counts.unchanged += 1

    def catalog_entities(self, rows: list[dict[str, Any]]) -> None:
        entities = [mapping.catalog_entity(row) for row in rows]
        self.report.counts("catalog_entities").add(catalog_entities_import(entities=entities))

    def access(self, table: str, column: str, write: Callable[..., str]) -> None:
        def handle(rows: list[dict[str, Any]]) -> None:
            counts = self.report.counts(table)
            for row in rows:
                data = row[column] if isinstance(row[column], dict) else {}
                try:
                    if table not in {"users", "clients"} and not data.get("name"):
                        raise ValueError("it has no name")
                    outcome = write(data=data, active=bool(row["active"]), dropped_roles=self.dropped_roles)
                except (ValueError, IntegrityError) as error:
                    self.report.note(f"{table} {row['id']}: skipped, {error}")
                    counts.skipped += 1
                    continue
                setattr(counts, outcome, getattr(counts, outcome) + 1)

        self.each_batch(table, self.batch_size, handle)

    def read_models(self) -> None:
        self.progress.start("read models", len(self.pipelines.touched))
        for pipeline_id in sorted(self.pipelines.touched):
            pipeline_refresh_read_model(pipeline=Pipeline.objects.get(pk=pipeline_id))
            self.progress.advance(1)
