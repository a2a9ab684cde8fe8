"""The whole manifest: strict parse → defaults → validation, as Estafette's ``ReadManifest`` does.

Unlike Estafette, which stops at the first problem, every problem is collected and raised at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode, Node

from builder.manifest.bots import Bot, bot_with_defaults, parse_bot, validate_bot
from builder.manifest.builder import Builder, builder_with_defaults, parse_builder, validate_builder
from builder.manifest.errors import MAX_EXPANDED_NODES, START, ErrorCollector, ManifestTooLarge, Position
from builder.manifest.fields import compact, positions_field, where
from builder.manifest.limits import MAX_STAGES_PER_RUN, manifest_text, stage_count
from builder.manifest.loader import Fields, check_expansion, compose, describe, is_null, position_of
from builder.manifest.preferences import ManifestPreferences
from builder.manifest.regex import full_match
from builder.manifest.releases import (
    Release,
    ReleaseTemplate,
    parse_release,
    parse_release_template,
    release_with_defaults,
    validate_release,
)
from builder.manifest.stages import Stage, parse_stages, stage_with_defaults, validate_stage
from builder.manifest.trigger_validation import validate_trigger
from builder.manifest.triggers import Trigger, parse_triggers, trigger_with_defaults
from builder.manifest.version import Version, parse_version

MANIFEST_KEYS = frozenset(
    {
        "archived",
        "builder",
        "labels",
        "version",
        "env",
        "triggers",
        "stages",
        "pipelines",
        "releases",
        "releaseTemplates",
        "bots",
    }
)
# Owner of the top level for tainting: never the owner of a validation error, so an unknown
# top-level key does not hide "The manifest should define 1 or more stages".
_TOP_LEVEL = Position(0, 0)


@dataclass(frozen=True)
class Manifest:
    """A ``.estafette.yaml``; as returned by ``load_manifest`` it has Estafette's defaults applied.

    Ordered sections (stages, releases, release templates, bots) keep document order. Release templates
    are kept as written (they are already applied to the releases that use them).
    """

    archived: bool = False
    builder: Builder = field(default_factory=Builder)
    labels: Mapping[str, str] = field(default_factory=dict)
    version: Version = field(default_factory=Version)
    env: Mapping[str, str] = field(default_factory=dict)
    triggers: tuple[Trigger, ...] = ()
    stages: tuple[Stage, ...] = ()
    releases: tuple[Release, ...] = ()
    release_templates: tuple[ReleaseTemplate, ...] = ()
    bots: tuple[Bot, ...] = ()
    positions: Mapping[str, Position] = positions_field()

    def all_triggers(self, pipeline_full_name: str) -> list[Trigger]:
        """Build, then release (per release), then bot triggers, with ``self`` replaced by the pipeline name
        (``source/owner/repo``) in pipeline/release names and github/bitbucket repositories.
        """
        triggers = [*self.triggers]
        for release in self.releases:
            triggers.extend(release.triggers)
        for bot in self.bots:
            triggers.extend(bot.triggers)
        return [trigger.with_self_resolved(pipeline_full_name) for trigger in triggers]

    def to_dict(self) -> dict[str, Any]:
        """The ``validate --json`` form: YAML key names, ordered sections as lists of objects with a ``name``."""
        data = {"archived": self.archived}
        data.update(
            compact(
                {
                    "builder": self.builder.to_dict(),
                    "labels": dict(self.labels),
                    "version": self.version.to_dict(),
                    "env": dict(self.env),
                    "triggers": [trigger.to_dict() for trigger in self.triggers],
                    "stages": [stage.to_dict() for stage in self.stages],
                    "releases": [release.to_dict() for release in self.releases],
                    "releaseTemplates": [template.to_dict() for template in self.release_templates],
                    "bots": [bot.to_dict() for bot in self.bots],
                }
            )
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """The inverse of ``to_dict`` (also accepts Go's ``null`` for empty sections)."""
        return cls(
            archived=bool(data.get("archived")),
            builder=Builder.from_dict(data.get("builder") or {}),
            labels=dict(data.get("labels") or {}),
            version=Version.from_dict(data.get("version")),
            env=dict(data.get("env") or {}),
            triggers=tuple(Trigger.from_dict(item) for item in data.get("triggers") or ()),
            stages=tuple(Stage.from_dict(item) for item in data.get("stages") or ()),
            releases=tuple(Release.from_dict(item) for item in data.get("releases") or ()),
            release_templates=tuple(ReleaseTemplate.from_dict(item) for item in data.get("releaseTemplates") or ()),
            bots=tuple(Bot.from_dict(item) for item in data.get("bots") or ()),
        )


def load_manifest(
    source: str | bytes, *, path: str = ".estafette.yaml", preferences: ManifestPreferences | None = None
) -> Manifest:
    """Parse, default and validate a manifest, given as its file's bytes (decoded here, strictly) or as text.

    Raises ``ManifestErrors`` with every problem found, each as ``path:line:col: message``: a manifest
    over the limits of ``builder.manifest.limits`` or not UTF-8 first (and alone: nothing else is read),
    then YAML and type errors, then Estafette's validation errors in its order (builder, labels, stages,
    build triggers, releases, bots).
    """
    preferences = preferences or ManifestPreferences()
    errors = ErrorCollector(path)
    text = manifest_text(source, errors)
    errors.raise_if_any()
    assert text is not None
    root = compose(text, errors)
    if root is not None and not check_expansion(root, errors):
        errors.raise_if_any()
    if root is not None and not is_null(root) and not isinstance(root, MappingNode):
        errors.add(position_of(root), f"cannot unmarshal {describe(root)} into manifest.EstafetteManifest")
    errors.raise_if_any()  # nothing to validate in a document that is not a mapping
    try:
        parsed = parse_manifest(root, errors)
    except ManifestTooLarge:
        errors.add(START, f"the manifest expands to more than {MAX_EXPANDED_NODES} YAML nodes (through aliases?)")
        errors.raise_if_any()
        raise  # unreachable: raise_if_any raised
    if not _within_stage_limit(parsed, errors):
        errors.raise_if_any()  # a run this large is refused as a whole; validating each stage adds nothing
    manifest = manifest_with_defaults(parsed, preferences)
    validate_manifest(manifest, preferences, errors)
    errors.raise_if_any()
    return manifest


def parse_manifest(root: Node | None, errors: ErrorCollector) -> Manifest:
    """Read the document strictly at the top level; sections are read by their own modules."""
    fields = Fields(root, errors, owner=_TOP_LEVEL, type_name="manifest.EstafetteManifest")
    fields.reject_unknown(MANIFEST_KEYS, "manifest.EstafetteManifest")
    label_fields = Fields(fields.node("labels"), errors, owner=_TOP_LEVEL, type_name="map[string]string")
    stage_pairs, pipeline_pairs = fields.mapping("stages"), fields.mapping("pipelines")
    templates = tuple(parse_release_template(key, node, errors) for key, node in fields.mapping("releaseTemplates"))
    templates_by_name = {template.name: template for template in templates}
    positions = fields.positions()
    positions.update({f"labels.{key}": position for key, position in label_fields.positions().items() if key})
    return Manifest(
        archived=bool(fields.boolean("archived")),
        builder=parse_builder(fields.node("builder"), errors, owner=_value_position(fields, "builder"), strict=True),
        labels={key: label_fields.string(key) for key in label_fields.values},
        version=parse_version(fields.node("version"), errors, owner=_value_position(fields, "version")),
        env=fields.string_map("env") or {},
        triggers=parse_triggers(fields.sequence("triggers"), errors, strict=True),
        # the deprecated `pipelines:` section is used when `stages:` is empty
        stages=parse_stages(stage_pairs or pipeline_pairs, errors),
        releases=tuple(
            parse_release(key, node, errors, templates=templates_by_name) for key, node in fields.mapping("releases")
        ),
        release_templates=templates,
        bots=tuple(parse_bot(key, node, errors) for key, node in fields.mapping("bots")),
        positions=positions,
    )


def _within_stage_limit(manifest: Manifest, errors: ErrorCollector) -> bool:
    """Whether each run (the build, each release, each bot) has at most ``MAX_STAGES_PER_RUN`` stages, parallel
    stages and services; records an error at each run over it."""
    build_position = manifest.positions.get("stages") or manifest.positions.get("pipelines") or START
    runs: list[tuple[str, Position, int]] = [("the build", build_position, stage_count(manifest.stages))]
    runs += [(f"release {r.name}", where(r.positions, "stages"), stage_count(r.stages)) for r in manifest.releases]
    runs += [(f"bot {bot.name}", where(bot.positions, "stages"), stage_count(bot.stages)) for bot in manifest.bots]
    within = True
    for run, position, count in runs:
        if count > MAX_STAGES_PER_RUN:
            errors.add(
                position,
                f"{run} has {count} stages, parallel stages and services; at most {MAX_STAGES_PER_RUN} are allowed",
            )
            within = False
    return within


def _value_position(fields: Fields, key: str) -> Position:
    return fields.value_position(key) if key in fields and not is_null(fields.node(key)) else START


def manifest_with_defaults(manifest: Manifest, preferences: ManifestPreferences) -> Manifest:
    """Estafette's ``SetDefaults``: builder, build triggers, stages, releases and bots (templates untouched)."""
    builder = builder_with_defaults(manifest.builder, preferences)
    return Manifest(
        archived=manifest.archived,
        builder=builder,
        labels=manifest.labels,
        version=manifest.version,
        env=manifest.env,
        triggers=tuple(
            trigger_with_defaults(trigger, preferences=preferences, trigger_type="build", target_name="")
            for trigger in manifest.triggers
        ),
        stages=tuple(stage_with_defaults(stage, operating_system=builder.os) for stage in manifest.stages),
        releases=tuple(
            release_with_defaults(release, builder=builder, preferences=preferences) for release in manifest.releases
        ),
        release_templates=manifest.release_templates,
        bots=tuple(bot_with_defaults(bot, builder=builder, preferences=preferences) for bot in manifest.bots),
        positions=manifest.positions,
    )


def validate_manifest(manifest: Manifest, preferences: ManifestPreferences, errors: ErrorCollector) -> None:
    """Estafette's ``Validate`` in its order, reporting every problem instead of the first."""
    validate_builder(manifest.builder, preferences, errors)
    for key, value in manifest.labels.items():
        pattern = preferences.label_regexes.get(key)
        if pattern is not None and not full_match(pattern.strip(), value):
            position = manifest.positions.get(f"labels.{key}") or START
            errors.add(position, f"Label {key} does not match regex ^{pattern.strip()}$")
    if not manifest.stages:
        position = manifest.positions.get("stages") or manifest.positions.get("pipelines") or START
        errors.add(position, "The manifest should define 1 or more stages")
    for stage in manifest.stages:
        validate_stage(stage, errors)
    for trigger in manifest.triggers:
        validate_trigger(trigger, errors, trigger_type="build", target_name="")
    for release in manifest.releases:
        validate_release(release, top_level_builder=manifest.builder, preferences=preferences, errors=errors)
    for bot in manifest.bots:
        validate_bot(bot, top_level_builder=manifest.builder, preferences=preferences, errors=errors)
