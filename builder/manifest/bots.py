"""Bots: jobs that only run when one of their triggers fires (webhook events, cron, pub/sub, ...)."""

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
class Bot:
    """A bot. After defaults ``builder`` and ``clone`` are always set."""

    name: str
    events: tuple[str, ...] = ()
    builder: Builder | None = None
    clone: bool | None = None
    triggers: tuple[Trigger, ...] = ()
    stages: tuple[Stage, ...] = ()
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        data = compact(
            {
                "name": self.name,
                "events": list(self.events),
                "builder": self.builder.to_dict() if self.builder else None,
                "triggers": [trigger.to_dict() for trigger in self.triggers],
                "stages": [stage.to_dict() for stage in self.stages],
            }
        )
        if self.clone is not None:
            data["clone"] = self.clone
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bot:
        builder, clone = data.get("builder"), data.get("clone")
        return cls(
            name=data.get("name") or "",
            events=tuple(data.get("events") or ()),
            builder=Builder.from_dict(builder) if builder is not None else None,
            clone=bool(clone) if clone is not None else None,
            triggers=tuple(Trigger.from_dict(trigger) for trigger in data.get("triggers") or ()),
            stages=tuple(Stage.from_dict(stage) for stage in data.get("stages") or ()),
        )


def parse_bot(key: ScalarNode, node: Node | None, errors: ErrorCollector) -> Bot:
    """Decoded non-strictly like releases; the mapping key is always the name."""
    fields = Fields(node, errors, owner=position_of(key), type_name="manifest.EstafetteBot")
    builder_node = fields.node("builder")
    return Bot(
        name=key.value,
        events=fields.strings("events") or (),
        builder=None
        if is_null(builder_node)
        else parse_builder(builder_node, errors, owner=fields.value_position("builder"), strict=False),
        clone=fields.boolean("clone"),
        triggers=parse_triggers(fields.sequence("triggers"), errors, strict=False),
        stages=parse_stages(fields.mapping("stages"), errors),
        positions=fields.positions(),
    )


def bot_with_defaults(bot: Bot, *, builder: Builder, preferences: ManifestPreferences) -> Bot:
    """``clone`` false; the top-level builder unless the bot has its own; triggers run this bot."""
    bot_builder = builder if bot.builder is None else builder_with_defaults(bot.builder, preferences)
    return replace(
        bot,
        builder=bot_builder,
        clone=bool(bot.clone),
        triggers=tuple(
            trigger_with_defaults(trigger, preferences=preferences, trigger_type="bot", target_name=bot.name)
            for trigger in bot.triggers
        ),
        stages=tuple(stage_with_defaults(stage, operating_system=bot_builder.os) for stage in bot.stages),
    )


def validate_bot(
    bot: Bot, *, top_level_builder: Builder, preferences: ManifestPreferences, errors: ErrorCollector
) -> None:
    if bot.builder is not None and bot.builder is not top_level_builder:
        validate_builder(bot.builder, preferences, errors)
    for trigger in bot.triggers:
        validate_trigger(trigger, errors, trigger_type="bot", target_name=bot.name)
    for stage in bot.stages:
        validate_stage(stage, errors)
