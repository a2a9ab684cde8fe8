"""Stages: the steps of a build, release or bot, including parallel stages and their services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from builder.manifest.errors import ErrorCollector, Position
from builder.manifest.fields import compact, positions_field, where
from builder.manifest.services import DEFAULT_WHEN, Service, default_shell, parse_service, service_with_defaults

if TYPE_CHECKING:
    from yaml.nodes import Node, ScalarNode

STAGE_KEYS = frozenset(
    {
        "name",
        "image",
        "shell",
        "workDir",
        "commands",
        "runCommandsInForeground",
        "when",
        "env",
        "autoInjected",
        "parallelStages",
        "services",
    }
)
MAX_PARALLEL_DEPTH = 32


def default_work_dir(operating_system: str) -> str:
    return "C:/estafette-work" if operating_system == "windows" else "/estafette-work"


@dataclass(frozen=True)
class Stage:
    """One stage. A stage with ``parallel_stages`` is a wrapper: it has no image, shell or work dir itself.

    Keys Estafette does not know are kept in ``custom_properties`` (nested maps and lists included);
    extensions read them as ``ESTAFETTE_EXTENSION_*`` variables.
    """

    name: str
    image: str = ""
    shell: str = ""
    work_dir: str = ""
    commands: tuple[str, ...] = ()
    run_commands_in_foreground: bool = False
    when: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    auto_injected: bool = False
    parallel_stages: tuple[Stage, ...] = ()
    services: tuple[Service, ...] = ()
    custom_properties: Mapping[str, Any] = field(default_factory=dict)
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "name": self.name,
                "image": self.image,
                "shell": self.shell,
                "workDir": self.work_dir,
                "commands": list(self.commands),
                "runCommandsInForeground": self.run_commands_in_foreground,
                "when": self.when,
                "env": dict(self.env),
                "autoInjected": self.auto_injected,
                "parallelStages": [stage.to_dict() for stage in self.parallel_stages],
                "services": [service.to_dict() for service in self.services],
                "customProperties": dict(self.custom_properties),
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stage:
        return cls(
            name=data.get("name") or "",
            image=data.get("image") or "",
            shell=data.get("shell") or "",
            work_dir=data.get("workDir") or "",
            commands=tuple(data.get("commands") or ()),
            run_commands_in_foreground=bool(data.get("runCommandsInForeground")),
            when=data.get("when") or "",
            env=dict(data.get("env") or {}),
            auto_injected=bool(data.get("autoInjected")),
            parallel_stages=tuple(cls.from_dict(stage) for stage in data.get("parallelStages") or ()),
            services=tuple(Service.from_dict(service) for service in data.get("services") or ()),
            custom_properties=dict(data.get("customProperties") or {}),
        )


def parse_stages(pairs: list[tuple[ScalarNode, Node]], errors: ErrorCollector) -> tuple[Stage, ...]:
    """Stages in document order; the mapping key is the name, whatever ``name:`` says."""
    return tuple(parse_stage(key.value, key, value, errors) for key, value in pairs)


def parse_stage(
    name: str,
    key: ScalarNode,
    node: Node | None,
    errors: ErrorCollector,
    *,
    name_from_body: bool = False,
    depth: int = 0,
) -> Stage:
    """Parse one stage; a null body is an empty stage. ``name_from_body`` lets a ``name:`` win (parallel stages)."""
    # imported here, not above: the builder reads stages from JSON (from_dict) and must not pay for PyYAML
    from builder.manifest.loader import Fields, plain_value, position_of

    owner = position_of(key)
    fields = Fields(node, errors, owner=owner, type_name="manifest.EstafetteStage")
    inner_pairs = fields.mapping("parallelStages")
    if inner_pairs and depth >= MAX_PARALLEL_DEPTH:
        # the builder only runs one level; this deep it can only be a mistake (or a recursion attack)
        errors.add(
            fields.value_position("parallelStages"), f"parallelStages nest more than {MAX_PARALLEL_DEPTH} levels deep"
        )
        errors.taint(owner)
        inner_pairs = []
    parallel_stages = tuple(
        parse_stage(inner_key.value, inner_key, inner, errors, name_from_body=True, depth=depth + 1)
        for inner_key, inner in inner_pairs
    )
    return Stage(
        name=(fields.string("name") if name_from_body else "") or name,
        image=fields.string("image"),
        shell=fields.string("shell"),
        work_dir=fields.string("workDir"),
        commands=fields.strings("commands") or (),
        run_commands_in_foreground=bool(fields.boolean("runCommandsInForeground")),
        when=fields.string("when"),
        env=fields.string_map("env") or {},
        auto_injected=bool(fields.boolean("autoInjected")),
        parallel_stages=parallel_stages,
        services=tuple(parse_service(item, errors) for item in fields.sequence("services")),
        custom_properties={key: plain_value(value, errors, owner=owner) for key, value in fields.unknown(STAGE_KEYS)},
        positions=fields.positions(),
    )


def stage_with_defaults(stage: Stage, *, operating_system: str) -> Stage:
    """Shell and work dir per OS (not on parallel-stage wrappers), ``when``, nested stages and services."""
    wrapper = bool(stage.parallel_stages)
    return replace(
        stage,
        shell=stage.shell or ("" if wrapper else default_shell(operating_system)),
        work_dir=stage.work_dir or ("" if wrapper else default_work_dir(operating_system)),
        when=stage.when or DEFAULT_WHEN,
        parallel_stages=tuple(
            stage_with_defaults(inner, operating_system=operating_system) for inner in stage.parallel_stages
        ),
        services=tuple(
            service_with_defaults(service, operating_system=operating_system, parent_has_image=bool(stage.image))
            for service in stage.services
        ),
    )


_WRAPPER_CONFLICTS = (("image", "image"), ("shell", "shell"), ("workDir", "work_dir"), ("commands", "commands"))


def validate_stage(stage: Stage, errors: ErrorCollector) -> None:
    """Estafette's stage rules; nested parallel stages are not validated one by one (neither are they there)."""
    owner = stage.positions.get("")
    if stage.parallel_stages:
        conflicts = [key for key, attribute in _WRAPPER_CONFLICTS if getattr(stage, attribute)]
        if stage.env:
            conflicts.append("env")
        for key in conflicts:
            message = f"Stage {stage.name} cannot use parameters parallelStages and {key} at the same time"
            errors.invalid(owner, where(stage.positions, key), message)
    elif not stage.image and not stage.services:
        errors.invalid(owner, where(stage.positions), f"Stage {stage.name} has no image set")
