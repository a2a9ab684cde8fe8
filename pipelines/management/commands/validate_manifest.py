"""``manage.py validate_manifest FILE...``: the manifest library's ``validate`` command inside Django."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from builder.manifest.cli import main


class Command(BaseCommand):
    help = "Validate .estafette.yaml files; print each error as FILE:LINE:COL: MESSAGE (exit 1 if any is invalid)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--json", action="store_true", help="print the manifest after defaults (one FILE only)")
        parser.add_argument("--preferences", metavar="FILE", help="server manifest preferences (YAML or JSON)")

    def handle(self, *args: Any, **options: Any) -> None:
        argv = ["validate", *options["files"]]
        if options["json"]:
            argv.append("--json")
        if options["preferences"]:
            argv += ["--preferences", options["preferences"]]
        status = main(argv, stdout=self.stdout, stderr=self.stderr)
        if status:
            raise CommandError("manifest validation failed" if status == 1 else "bad arguments", returncode=status)
