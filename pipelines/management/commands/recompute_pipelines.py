"""``manage.py recompute_pipelines``: rebuild every pipeline's read model from its builds and releases."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from estafette.lib.progress import ProgressBar
from pipelines.models import Pipeline
from pipelines.read_model import READ_MODEL_DEFAULTS
from pipelines.services import pipeline_refresh_read_model


class Command(BaseCommand):
    help = (
        "Recompute the pipelines' read model (latest build, active releases, recent committers, medians). "
        "Safe to run at any time; each pipeline is one short transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pipelines", nargs="*", metavar="SOURCE/OWNER/NAME", help="only these pipelines")

    def handle(self, *args: Any, **options: Any) -> None:
        pipelines = Pipeline.objects.order_by("pk")
        if options["pipelines"]:
            pipelines = pipelines.filter(pk__in=[self._find(name).pk for name in options["pipelines"]])
        ids = list(pipelines.values_list("pk", flat=True))
        progress = ProgressBar(len(ids), label="recomputing pipelines", stream=self.stderr)
        changed = 0
        for pipeline_id in ids:
            pipeline = Pipeline.objects.get(pk=pipeline_id)
            before = _read_model(pipeline)
            pipeline_refresh_read_model(pipeline=pipeline)
            changed += _read_model(Pipeline.objects.get(pk=pipeline_id)) != before
            progress.advance()
        progress.close()
        self.stdout.write(f"recomputed {len(ids)} pipelines ({changed} changed) in {progress.elapsed:.1f}s")

    def _find(self, name: str) -> Pipeline:
        parts = name.split("/")
        if len(parts) != 3:
            raise CommandError(f"name pipelines as source/owner/name, e.g. github.com/acme/api; got {name!r}")
        pipeline = Pipeline.objects.filter(repo_source=parts[0], repo_owner=parts[1], repo_name=parts[2]).first()
        if pipeline is None:
            raise CommandError(f"no pipeline {name}")
        return pipeline


# The read model's fields, the latest build by its id (comparing ids, not loaded builds).
READ_MODEL_FIELDS = tuple("latest_build_id" if name == "latest_build" else name for name in READ_MODEL_DEFAULTS)


def _read_model(pipeline: Pipeline) -> tuple[Any, ...]:
    return tuple(getattr(pipeline, name) for name in READ_MODEL_FIELDS)
