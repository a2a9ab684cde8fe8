"""Command line: ``python -m builder.manifest validate|version|schema``.

Exit codes: 0 when every manifest is valid, 1 when any is invalid, 2 on usage errors (bad arguments,
unreadable files). Manifest errors go to stdout as ``FILE:LINE:COL: MESSAGE``, one per line, so editors
and CI annotations can jump to them; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import yaml

from builder.manifest.errors import ManifestErrors
from builder.manifest.limits import MAX_MANIFEST_BYTES
from builder.manifest.manifest import Manifest, load_manifest
from builder.manifest.preferences import ManifestPreferences
from builder.manifest.schema import manifest_schema
from builder.manifest.version import compute_version

OK, INVALID, USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m builder.manifest", description="Check and use Estafette .estafette.yaml manifests."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="validate manifests; print each error as FILE:LINE:COL: MESSAGE")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("--json", action="store_true", help="print the manifest after defaults (one FILE only)")
    _add_preferences(validate)

    version = commands.add_parser("version", help="print the version a build of this manifest gets")
    version.add_argument("file", metavar="FILE")
    version.add_argument("--branch", required=True)
    version.add_argument("--revision", required=True)
    version.add_argument("--counter", required=True, type=int, help="the pipeline's build counter ({{auto}})")
    _add_preferences(version)

    commands.add_parser("schema", help="print the JSON Schema (draft 2020-12) of .estafette.yaml")
    return parser


def _add_preferences(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preferences",
        metavar="FILE",
        help="server manifest preferences (YAML or JSON: labelRegexes, builderOperatingSystems, "
        "builderTracksPerOperatingSystem, defaultBranch); Estafette's defaults otherwise",
    )


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run one command and return its exit code (argparse itself exits with 2 on bad arguments)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    arguments = build_parser().parse_args(argv)
    try:
        if arguments.command == "schema":
            out.write(json.dumps(manifest_schema(), indent=2) + "\n")
            return OK
        preferences = _read_preferences(arguments.preferences)
        if arguments.command == "version":
            return _version(arguments, preferences, out)
        return _validate(arguments, preferences, out, err)
    except _UsageError as exc:
        err.write(f"error: {exc}\n")
        return USAGE


def _read_preferences(path: str | None) -> ManifestPreferences | None:
    if path is None:
        return None
    data = yaml.safe_load(_read(path))
    if not isinstance(data, dict):
        raise _UsageError(f"{path}: preferences must be a mapping of Estafette's manifestPreferences keys")
    return ManifestPreferences.from_dict(data)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _UsageError(f"{path}: cannot read the file ({exc.__class__.__name__}: {exc})") from exc


def _read_manifest(path: str) -> bytes:
    """The file's bytes, decoded by ``load_manifest`` (strict UTF-8, errors with their position); never more than
    one byte past the size limit, which is all it takes to refuse a file that is too large."""
    try:
        with open(path, "rb") as file:
            return file.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise _UsageError(f"{path}: cannot read the file ({exc.__class__.__name__}: {exc})") from exc


def _load(path: str, preferences: ManifestPreferences | None, out: TextIO) -> Manifest | None:
    try:
        return load_manifest(_read_manifest(path), path=path, preferences=preferences)
    except ManifestErrors as exc:
        for error in exc.errors:
            out.write(f"{error}\n")
        return None


def _validate(arguments: argparse.Namespace, preferences: ManifestPreferences | None, out: TextIO, err: TextIO) -> int:
    if arguments.json and len(arguments.files) != 1:
        raise _UsageError("--json prints one manifest: give exactly one FILE")
    invalid = unreadable = 0
    for path in arguments.files:
        try:
            manifest = _load(path, preferences, out)
        except _UsageError as exc:
            err.write(f"error: {exc}\n")
            unreadable += 1
            continue
        if manifest is None:
            invalid += 1
        elif arguments.json:
            out.write(json.dumps(manifest.to_dict(), indent=2) + "\n")
    if len(arguments.files) > 1 or invalid or unreadable:
        checked = len(arguments.files) - unreadable
        err.write(f"{checked} manifest(s) checked, {invalid} invalid, {unreadable} unreadable\n")
    if unreadable:
        return USAGE
    return INVALID if invalid else OK


def _version(arguments: argparse.Namespace, preferences: ManifestPreferences | None, out: TextIO) -> int:
    manifest = _load(arguments.file, preferences, out)
    if manifest is None:
        return INVALID
    computed = compute_version(
        manifest.version, counter=arguments.counter, branch=arguments.branch, revision=arguments.revision
    )
    out.write(computed.version + "\n")
    return OK
