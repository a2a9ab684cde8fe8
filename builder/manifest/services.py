"""Services: sidecar containers started for a stage (or for all stages after it, when multi-stage)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from builder.manifest.errors import ErrorCollector, Position
from builder.manifest.fields import compact, positions_field

if TYPE_CHECKING:
    from yaml.nodes import Node

SERVICE_KEYS = frozenset(
    {
        "name",
        "image",
        "shell",
        "commands",
        "runCommandsInForeground",
        "multiStage",
        "when",
        "env",
        "readiness",
        "readinessProbe",
    }
)
DEFAULT_WHEN = "status == 'succeeded'"
DEFAULT_READINESS_TIMEOUT_SECONDS = 60


def default_shell(operating_system: str) -> str:
    return "powershell" if operating_system == "windows" else "/bin/sh"


@dataclass(frozen=True)
class HttpGetProbe:
    path: str = ""
    port: int = 0
    host: str = ""
    scheme: str = ""

    def to_dict(self) -> dict[str, Any]:
        return compact({"path": self.path, "port": self.port or None, "host": self.host, "scheme": self.scheme})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HttpGetProbe:
        return cls(
            path=data.get("path") or "",
            port=int(data.get("port") or 0),
            host=data.get("host") or "",
            scheme=data.get("scheme") or "",
        )


@dataclass(frozen=True)
class ExecProbe:
    command: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return compact({"command": list(self.command)})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecProbe:
        return cls(command=tuple(data.get("command") or ()))


@dataclass(frozen=True)
class Readiness:
    """A readiness probe. ``path``/``port``/``protocol``/``hostname`` are the legacy spelling of ``httpGet``.

    Used both for the legacy ``readiness`` key and the Kubernetes-like ``readinessProbe`` key.
    """

    http_get: HttpGetProbe | None = None
    exec: ExecProbe | None = None
    timeout_seconds: int = 0
    path: str = ""
    port: int = 0
    protocol: str = ""
    hostname: str = ""

    def to_dict(self) -> dict[str, Any]:
        return compact(
            {
                "httpGet": self.http_get.to_dict() if self.http_get else None,
                "exec": self.exec.to_dict() if self.exec else None,
                "timeoutSeconds": self.timeout_seconds or None,
                "path": self.path,
                "port": self.port or None,
                "protocol": self.protocol,
                "hostname": self.hostname,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Readiness:
        http_get, exec_probe = data.get("httpGet"), data.get("exec")
        return cls(
            http_get=HttpGetProbe.from_dict(http_get) if http_get is not None else None,
            exec=ExecProbe.from_dict(exec_probe) if exec_probe is not None else None,
            timeout_seconds=int(data.get("timeoutSeconds") or 0),
            path=data.get("path") or "",
            port=int(data.get("port") or 0),
            protocol=data.get("protocol") or "",
            hostname=data.get("hostname") or "",
        )


@dataclass(frozen=True)
class Service:
    """A service container; ``name`` is also its DNS name as seen from the stages."""

    name: str = ""
    image: str = ""
    shell: str = ""
    commands: tuple[str, ...] = ()
    run_commands_in_foreground: bool = False
    multi_stage: bool | None = None
    when: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    readiness: Readiness | None = None
    readiness_probe: Readiness | None = None
    custom_properties: Mapping[str, Any] = field(default_factory=dict)
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        data = compact(
            {
                "name": self.name,
                "image": self.image,
                "shell": self.shell,
                "commands": list(self.commands),
                "runCommandsInForeground": self.run_commands_in_foreground,
                "when": self.when,
                "env": dict(self.env),
                "readiness": self.readiness.to_dict() if self.readiness else None,
                "readinessProbe": self.readiness_probe.to_dict() if self.readiness_probe else None,
                "customProperties": dict(self.custom_properties),
            }
        )
        if self.multi_stage is not None:
            data["multiStage"] = self.multi_stage
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Service:
        readiness, probe = data.get("readiness"), data.get("readinessProbe")
        return cls(
            name=data.get("name") or "",
            image=data.get("image") or "",
            shell=data.get("shell") or "",
            commands=tuple(data.get("commands") or ()),
            run_commands_in_foreground=bool(data.get("runCommandsInForeground")),
            multi_stage=data.get("multiStage"),
            when=data.get("when") or "",
            env=dict(data.get("env") or {}),
            readiness=Readiness.from_dict(readiness) if readiness is not None else None,
            readiness_probe=Readiness.from_dict(probe) if probe is not None else None,
            custom_properties=dict(data.get("customProperties") or {}),
        )


def parse_service(node: Node, errors: ErrorCollector) -> Service:
    """Unknown keys become custom properties, as on stages (services are decoded non-strictly)."""
    # imported here, not above: the builder reads services from JSON (from_dict) and must not pay for PyYAML
    from builder.manifest.loader import Fields, plain_value, position_of

    owner = position_of(node)
    fields = Fields(node, errors, owner=owner, type_name="manifest.EstafetteService")
    return Service(
        name=fields.string("name"),
        image=fields.string("image"),
        shell=fields.string("shell"),
        commands=fields.strings("commands") or (),
        run_commands_in_foreground=bool(fields.boolean("runCommandsInForeground")),
        multi_stage=fields.boolean("multiStage"),
        when=fields.string("when"),
        env=fields.string_map("env") or {},
        readiness=_parse_readiness(fields.node("readiness"), errors, owner=owner),
        readiness_probe=_parse_readiness(fields.node("readinessProbe"), errors, owner=owner),
        custom_properties={key: plain_value(value, errors, owner=owner) for key, value in fields.unknown(SERVICE_KEYS)},
        positions=fields.positions(),
    )


def _parse_readiness(node: Node | None, errors: ErrorCollector, *, owner: Position) -> Readiness | None:
    from builder.manifest.loader import Fields, is_null

    if is_null(node):
        return None
    fields = Fields(node, errors, owner=owner, type_name="manifest.ReadinessProbe")
    http_get = exec_probe = None
    if not is_null(fields.node("httpGet")):
        probe = Fields(fields.node("httpGet"), errors, owner=owner, type_name="manifest.HttpGetProbe")
        http_get = HttpGetProbe(
            path=probe.string("path"),
            port=probe.integer("port") or 0,
            host=probe.string("host"),
            scheme=probe.string("scheme"),
        )
    if not is_null(fields.node("exec")):
        probe = Fields(fields.node("exec"), errors, owner=owner, type_name="manifest.ExecProbe")
        exec_probe = ExecProbe(command=probe.strings("command") or ())
    return Readiness(
        http_get=http_get,
        exec=exec_probe,
        timeout_seconds=fields.integer("timeoutSeconds") or 0,
        path=fields.string("path"),
        port=fields.integer("port") or 0,
        protocol=fields.string("protocol"),
        hostname=fields.string("hostname"),
    )


def service_with_defaults(service: Service, *, operating_system: str, parent_has_image: bool) -> Service:
    """Shell and ``when`` as for stages; a service of a stage without image runs across stages."""
    return replace(
        service,
        shell=service.shell or default_shell(operating_system),
        when=service.when or DEFAULT_WHEN,
        multi_stage=service.multi_stage if service.multi_stage is not None else not parent_has_image,
        readiness=_readiness_with_defaults(service.readiness, service.name),
        readiness_probe=_readiness_with_defaults(service.readiness_probe, service.name),
    )


def _readiness_with_defaults(readiness: Readiness | None, service_name: str) -> Readiness | None:
    """Timeout 60 s; host defaults to the service name, port to 80, scheme to http (https on 443).

    The ``httpGet`` form gets the defaults when present; an ``exec`` probe gets none; otherwise the
    legacy fields get them.
    """
    if readiness is None:
        return None
    timeout = readiness.timeout_seconds or DEFAULT_READINESS_TIMEOUT_SECONDS
    if readiness.http_get is not None:
        probe = readiness.http_get
        port = probe.port or 80
        http_get = replace(
            probe,
            host=probe.host or service_name,
            port=port,
            scheme=probe.scheme or ("https" if port == 443 else "http"),
        )
        return replace(readiness, timeout_seconds=timeout, http_get=http_get)
    if readiness.exec is not None:
        return replace(readiness, timeout_seconds=timeout)
    port = readiness.port or 80
    return replace(
        readiness,
        timeout_seconds=timeout,
        hostname=readiness.hostname or service_name,
        port=port,
        protocol=readiness.protocol or ("https" if port == 443 else "http"),
    )
