"""TEMPORARY stand-in for ``builder.manifest`` until branch ``manifest`` is merged; delete then.

Implements just the CONTRACTS §1 signatures the apps call, with a tiny subset of the language
(labels, semver/custom version, releases with actions, bots, stages required) so the apps can be
built and tested meanwhile. Nothing else may import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True)
class ManifestPreferences:
    default_branch: str = "master"


@dataclass(frozen=True)
class ManifestError:
    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class ManifestErrors(Exception):
    def __init__(self, errors: list[ManifestError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class Version:
    semver: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None


@dataclass(frozen=True)
class Manifest:
    document: dict[str, Any]
    version: Version = field(default_factory=Version)

    def to_dict(self) -> dict[str, Any]:
        releases = [
            {
                "name": name,
                "actions": [
                    {"name": a["name"], "hideBadge": bool(a.get("hideBadge"))}
                    for a in (body or {}).get("actions") or []
                ],
            }
            for name, body in (self.document.get("releases") or {}).items()
        ]
        bots = [{"name": name} for name in self.document.get("bots") or {}]
        return {"labels": dict(self.document.get("labels") or {}), "releases": releases, "bots": bots}

    def all_triggers(self, pipeline_full_name: str) -> list[dict[str, Any]]:
        return []


@dataclass(frozen=True)
class BuildVersion:
    version: str


def load_manifest(
    text: str, *, path: str = ".estafette.yaml", preferences: ManifestPreferences | None = None
) -> Manifest:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ManifestErrors([ManifestError(path, line, column, f"invalid YAML: {error}")]) from None
    if not isinstance(document, dict) or not document.get("stages"):
        raise ManifestErrors([ManifestError(path, 1, 1, "The manifest should define 1 or more stages")])
    raw_version = document.get("version") or {}
    version = Version(
        semver=raw_version.get("semver") or ({} if "custom" not in raw_version else None),
        custom=raw_version.get("custom"),
    )
    return Manifest(document=document, version=version)


def compute_version(version: Version, *, counter: int, branch: str, revision: str) -> BuildVersion:
    def render(template: str) -> str:
        return (
            template.replace("{{auto}}", str(counter)).replace("{{branch}}", branch).replace("{{revision}}", revision)
        )

    if version.custom is not None:
        return BuildVersion(render(version.custom.get("labelTemplate", "{{revision}}")))
    semver = version.semver or {}
    patch = render(str(semver.get("patch", "{{auto}}")))
    label = re.sub(r"[^a-z0-9-]+", "-", render(semver.get("labelTemplate", "{{branch}}")).lower()).strip("-")
    base = f"{semver.get('major', 0)}.{semver.get('minor', 0)}.{patch}"
    release_branches = semver.get("releaseBranch", ["master", "main"])
    release_branches = [release_branches] if isinstance(release_branches, str) else release_branches
    if not label or any(re.fullmatch(pattern, branch) for pattern in release_branches):
        return BuildVersion(base)
    return BuildVersion(f"{base}-{label}")


def counter_from_version(version_string: str, version: Version) -> int | None:
    match = re.match(r"^[0-9]+\.[0-9]+\.([0-9]+)(-[0-9a-z-]+)?$", version_string)
    return int(match.group(1)) if match else None
