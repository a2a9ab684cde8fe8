"""The ``version`` section and how a build's version string is computed from it.

Estafette renders the templates with Go's ``html/template`` and three functions (``auto``, ``branch``,
``revision``), so their output is HTML-escaped and a template error becomes the version text itself;
both are reproduced here. Semver labels are tidied into a DNS label (lowercase ``[a-z0-9-]``, starting
with a letter, at most 63 characters) so versions can be used in hostnames and image tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node, SequenceNode

from builder.manifest.errors import ErrorCollector, Position
from builder.manifest.fields import positions_field
from builder.manifest.loader import Fields, position_of
from builder.manifest.regex import anchored_error, full_match

VERSION_KEYS = frozenset({"semver", "custom"})
SEMVER_KEYS = frozenset({"major", "minor", "patch", "labelTemplate", "releaseBranch"})
CUSTOM_KEYS = frozenset({"labelTemplate"})
DEFAULT_RELEASE_BRANCHES = ("master", "main")


@dataclass(frozen=True)
class SemverVersion:
    major: int = 0
    minor: int = 0
    patch: str = "{{auto}}"
    label_template: str = "{{branch}}"
    release_branch: tuple[str, ...] = DEFAULT_RELEASE_BRANCHES

    def to_dict(self) -> dict[str, Any]:
        # Estafette writes a single release branch as a plain string and several as a list.
        branches: str | list[str] = (
            self.release_branch[0] if len(self.release_branch) == 1 else list(self.release_branch)
        )
        return {
            "major": self.major,
            "minor": self.minor,
            "patch": self.patch,
            "labelTemplate": self.label_template,
            "releaseBranch": branches,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SemverVersion:
        branches = data.get("releaseBranch")
        release_branch = (branches,) if isinstance(branches, str) and branches else tuple(branches or ())
        return cls(
            major=int(data.get("major") or 0),
            minor=int(data.get("minor") or 0),
            patch=data.get("patch") or "{{auto}}",
            label_template=data.get("labelTemplate") or "{{branch}}",
            release_branch=release_branch or DEFAULT_RELEASE_BRANCHES,
        )


@dataclass(frozen=True)
class CustomVersion:
    label_template: str = "{{revision}}"

    def to_dict(self) -> dict[str, Any]:
        return {"labelTemplate": self.label_template}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustomVersion:
        return cls(label_template=data.get("labelTemplate") or "{{revision}}")


@dataclass(frozen=True)
class Version:
    """Exactly one of ``semver`` and ``custom`` is set after defaults; when both are given ``custom`` wins."""

    semver: SemverVersion | None = None
    custom: CustomVersion | None = None
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        if self.custom is not None:
            return {"custom": self.custom.to_dict()}
        return {"semver": (self.semver or SemverVersion()).to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Version:
        data = data or {}
        if data.get("custom") is not None:
            return cls(custom=CustomVersion.from_dict(data["custom"]))
        return cls(semver=SemverVersion.from_dict(data.get("semver") or {}))


@dataclass(frozen=True)
class BuildVersion:
    """A computed version. For semver ``patch`` is the patch with its label, as Estafette passes it on."""

    version: str
    major: int | None
    minor: int | None
    patch: str | None
    label: str
    counter: int


def parse_version(node: Node | None, errors: ErrorCollector, *, owner: Position) -> Version:
    """Strict, like the top level; defaults are part of reading it, as in Estafette's unmarshaller."""
    fields = Fields(node, errors, owner=owner, type_name="manifest.EstafetteVersion")
    fields.reject_unknown(VERSION_KEYS, "manifest.EstafetteVersion")
    semver = custom = None
    if "semver" in fields:
        semver_fields = Fields(fields.node("semver"), errors, owner=owner, type_name="manifest.EstafetteSemverVersion")
        semver_fields.reject_unknown(SEMVER_KEYS, "manifest.EstafetteSemverVersion")
        semver = SemverVersion(
            major=semver_fields.integer("major") or 0,
            minor=semver_fields.integer("minor") or 0,
            patch=semver_fields.string("patch") or "{{auto}}",
            label_template=semver_fields.string("labelTemplate") or "{{branch}}",
            release_branch=semver_fields.string_or_strings("releaseBranch") or DEFAULT_RELEASE_BRANCHES,
        )
        _check_release_branches(semver_fields.node("releaseBranch"), errors)
    if "custom" in fields:
        custom_fields = Fields(fields.node("custom"), errors, owner=owner, type_name="manifest.EstafetteCustomVersion")
        custom_fields.reject_unknown(CUSTOM_KEYS, "manifest.EstafetteCustomVersion")
        custom = CustomVersion(label_template=custom_fields.string("labelTemplate") or "{{revision}}")
    if custom is not None:
        semver = None
    elif semver is None:
        semver = SemverVersion()
    return Version(semver=semver, custom=custom, positions=fields.positions())


def _check_release_branches(node: Node | None, errors: ErrorCollector) -> None:
    """Each release branch is a regular expression (``^pattern$``); one RE2 cannot compile is an error at its place,
    where Estafette would silently never treat any branch as a release branch for it.
    """
    if node is None:
        return
    items = node.value if isinstance(node, SequenceNode) else [node]
    for item in items:
        if not isinstance(item.value, str) or not item.value:
            continue  # not text: the type error is already reported
        error = anchored_error(item.value)
        if error is not None:
            message = f"Set version.semver.releaseBranch to valid regular expressions (RE2): {error}"
            errors.add(position_of(item), message)


def compute_version(version: Version, *, counter: int, branch: str, revision: str) -> BuildVersion:
    """The version of a build with this counter on this branch and revision (Estafette's algorithm)."""
    values = {"auto": str(counter), "branch": branch, "revision": revision}
    if version.custom is not None:
        rendered = render_template(version.custom.label_template, values)
        return BuildVersion(version=rendered, major=None, minor=None, patch=None, label="", counter=counter)
    semver = version.semver or SemverVersion()
    patch = render_template(semver.patch, values)
    label = semver_label(semver.label_template, values)
    on_release_branch = any(full_match(pattern.strip(), branch) for pattern in semver.release_branch)
    patch_with_label = patch if on_release_branch or not label else f"{patch}-{label}"
    return BuildVersion(
        version=f"{semver.major}.{semver.minor}.{patch_with_label}",
        major=semver.major,
        minor=semver.minor,
        patch=patch_with_label,
        label=label,
        counter=counter,
    )


_PATCH_OF_SEMVER = re.compile(r"[0-9]+\.[0-9]+\.([0-9]+)(?:-[0-9a-z-]+)?")


def counter_from_version(version_string: str, version: Version) -> int | None:
    """The counter a version was built with, so a rebuild or release reuses it; ``None`` if not recoverable."""
    if version.custom is not None:
        return int(version_string) if version_string.isascii() and version_string.isdigit() else None
    match = _PATCH_OF_SEMVER.fullmatch(version_string)
    return int(match.group(1)) if match else None


def semver_label(label_template: str, values: Mapping[str, str]) -> str:
    """Render and tidy a label; one starting with a digit gets the template's first placeholder as prefix."""
    label = render_template(label_template, values)
    if label[:1].isascii() and label[:1].isdigit():
        placeholder = _FIRST_PLACEHOLDER.search(label_template)
        prefix = placeholder.group(1) + "-" if placeholder else "label-"
        label = prefix + label
    return tidy_label(label)


_FIRST_PLACEHOLDER = re.compile(r"{{([^}]+)}}")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_LEADING_DIGITS_AND_HYPHENS = re.compile(r"^[0-9-]+")


def tidy_label(label: str) -> str:
    """Make ``label`` a DNS label: lowercase, ``[a-z0-9-]`` only, starting with a letter, ≤ 63 characters.

    ``--`` is replaced in a single pass, as Estafette does, so ``---`` becomes ``--``.
    """
    label = _NOT_DNS.sub("-", label.lower()).replace("--", "-").strip("-")
    return _LEADING_DIGITS_AND_HYPHENS.sub("", label)[:63]


_ACTION = re.compile(r"{{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?}}", re.DOTALL)
_HTML_ESCAPES = str.maketrans(
    {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "+": "&#43;", "<": "&lt;", ">": "&gt;"}
)


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Render ``{{auto}}``, ``{{branch}}`` and ``{{revision}}`` like Go's html/template would.

    Values are HTML-escaped; any other action is an error whose text, as in Estafette, is the result.
    """
    out: list[str] = []
    position = 0
    for action in _ACTION.finditer(template):
        literal = template[position : action.start()]
        if action.group(1):
            literal = literal.rstrip(" \t\r\n")
        out.append(literal)
        name = action.group(2).strip()
        line = template.count("\n", 0, action.start()) + 1
        if name not in values:
            return _template_error(name, line)
        out.append(values[name].translate(_HTML_ESCAPES))
        position = action.end()
        if action.group(3):
            position = len(template) - len(template[position:].lstrip(" \t\r\n"))
    rest = template[position:]
    if "{{" in rest:
        return f"template: version:{template.count(chr(10), 0, position + rest.index('{{')) + 1}: unclosed action"
    out.append(rest)
    return "".join(out)


def _template_error(name: str, line: int) -> str:
    if not name:
        return f"template: version:{line}: missing value for command"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return f'template: version:{line}: function "{name}" not defined'
    return f"template: version:{line}: unsupported action {{{{{name}}}}} (only auto, branch and revision)"
