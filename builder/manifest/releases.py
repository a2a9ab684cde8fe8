"""Releases (release targets), their actions and the release templates they can start from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from yaml.nodes import Node, ScalarNode

from builder.manifest.builder import Builder, builder_with_defaults, parse_builder, validate_builder
from builder.manifest.errors import ErrorCollector, Position
from builder.manifest.fields import compact, positions_field
from builder.manifest.loader import Fields, is_null, position_of
from builder.manifest.preferences import ManifestPreferences
from builder.manifest.stages import Stage, parse_stages, stage_with_defaults, validate_stage
from builder.manifest.trigger_validation import validate_trigger
from builder.manifest.triggers import Trigger, parse_triggers, trigger_with_defaults


@dataclass(frozen=True)
class ReleaseAction:
    """A named variant of a release (``ESTAFETTE_RELEASE_ACTION``); ``hide_badge`` keeps it off badges."""

    name: str = ""
    hide_badge: bool = False
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        return compact({"name": self.name, "hideBadge": self.hide_badge})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseAction:
        return cls(name=data.get("name") or "", hide_badge=bool(data.get("hideBadge")))


@dataclass(frozen=True)
class ReleaseTemplate:
    """A reusable release; a release naming it takes each field the release does not set itself."""

    name: str
    builder: Builder | None = None
    clone: bool | None = None
    actions: tuple[ReleaseAction, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    stages: tuple[Stage, ...] = ()
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        return _release_fields(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseTemplate:
        return cls(name=data.get("name") or "", **_release_fields_from_dict(data))


@dataclass(frozen=True)
class Release:
    """A release target. After defaults ``builder`` and ``clone`` are always set."""

    name: str
    builder: Builder | None = None
    clone: bool | None = None
    actions: tuple[ReleaseAction, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    stages: tuple[Stage, ...] = ()
    template: str = ""
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        data = _release_fields(self)
        if self.template:
            data["template"] = self.template
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Release:
        return cls(name=data.get("name") or "", template=data.get("template") or "", **_release_fields_from_dict(data))


def _release_fields(release: Release | ReleaseTemplate) -> dict[str, Any]:
    data = compact(
        {
            "name": release.name,
            "builder": release.builder.to_dict() if release.builder else None,
            "actions": [action.to_dict() for action in release.actions],
            "triggers": [trigger.to_dict() for trigger in release.triggers],
            "stages": [stage.to_dict() for stage in release.stages],
        }
    )
    if release.clone is not None:
        data["clone"] = release.clone
    return data


def _release_fields_from_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    builder, clone = data.get("builder"), data.get("clone")
    return {
        "builder": Builder.from_dict(builder) if builder is not None else None,
        "clone": bool(clone) if clone is not None else None,
        "actions": tuple(ReleaseAction.from_dict(action) for action in data.get("actions") or ()),
        "triggers": tuple(Trigger.from_dict(trigger) for trigger in data.get("triggers") or ()),
        "stages": tuple(Stage.from_dict(stage) for stage in data.get("stages") or ()),
    }


def _parse_common(
    key: ScalarNode, node: Node | None, errors: ErrorCollector, type_name: str
) -> tuple[Fields, dict[str, Any]]:
    """The fields releases and templates share, decoded non-strictly as Estafette does (unknown keys ignored)."""
    owner = position_of(key)
    fields = Fields(node, errors, owner=owner, type_name=type_name)
    builder_node = fields.node("builder")
    values = {
        "name": fields.string("name") or key.value,
        "builder": None
        if is_null(builder_node)
        else parse_builder(builder_node, errors, owner=fields.value_position("builder"), strict=False),
        "clone": fields.boolean("clone"),
        "actions": tuple(_parse_action(item, errors) for item in fields.sequence("actions")),
        "triggers": parse_triggers(fields.sequence("triggers"), errors, strict=False),
        "stages": parse_stages(fields.mapping("stages"), errors),
        "positions": fields.positions(),
    }
    return fields, values


def _parse_action(node: Node, errors: ErrorCollector) -> ReleaseAction:
    fields = Fields(node, errors, owner=position_of(node), type_name="manifest.EstafetteReleaseAction")
    return ReleaseAction(
        name=fields.string("name"), hide_badge=bool(fields.boolean("hideBadge")), positions=fields.positions()
    )


def parse_release_template(key: ScalarNode, node: Node | None, errors: ErrorCollector) -> ReleaseTemplate:
    _, values = _parse_common(key, node, errors, "manifest.EstafetteReleaseTemplate")
    return ReleaseTemplate(**values)


def parse_release(
    key: ScalarNode, node: Node | None, errors: ErrorCollector, *, templates: Mapping[str, ReleaseTemplate]
) -> Release:
    """A release, with its template applied: each of builder, clone, actions, triggers and stages comes from
    the release when it sets it, else from the template (whole fields, no deep merge). An unknown template
    name is ignored, as Estafette does.
    """
    fields, values = _parse_common(key, node, errors, "manifest.EstafetteRelease")
    release = Release(template=fields.string("template"), **values)
    template = templates.get(release.template) if release.template else None
    if template is None:
        return release
    return replace(
        release,
        builder=release.builder if release.builder is not None else template.builder,
        clone=release.clone if release.clone is not None else template.clone,
        actions=release.actions or template.actions,
        triggers=release.triggers or template.triggers,
        stages=release.stages or template.stages,
    )


def release_with_defaults(release: Release, *, builder: Builder, preferences: ManifestPreferences) -> Release:
    """``clone`` false; the top-level builder unless the release has its own; triggers target this release."""
    release_builder = builder if release.builder is None else builder_with_defaults(release.builder, preferences)
    return replace(
        release,
        builder=release_builder,
        clone=bool(release.clone),
        triggers=tuple(
            trigger_with_defaults(trigger, preferences=preferences, trigger_type="release", target_name=release.name)
            for trigger in release.triggers
        ),
        stages=tuple(stage_with_defaults(stage, operating_system=release_builder.os) for stage in release.stages),
    )


def validate_release(
    release: Release, *, top_level_builder: Builder, preferences: ManifestPreferences, errors: ErrorCollector
) -> None:
    """Its own builder (an inherited one was checked at the top), its triggers, then its stages."""
    if release.builder is not None and release.builder is not top_level_builder:
        validate_builder(release.builder, preferences, errors)
    for trigger in release.triggers:
        validate_trigger(trigger, errors, trigger_type="release", target_name=release.name)
    for stage in release.stages:
        validate_stage(stage, errors)
