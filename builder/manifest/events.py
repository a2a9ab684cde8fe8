"""Trigger events (Estafette's ``EstafetteEvent``): what happened, for triggers to fire on and jobs to read.

Python attributes are snake_case; ``to_dict``/``from_dict`` use Estafette's camelCase JSON names and,
like Go's ``omitempty``, leave out empty values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from builder.manifest.jsonnames import camel_case

_Part = TypeVar("_Part", bound="_JsonParts")


class _JsonParts:
    """camelCase JSON for flat dataclasses of strings; ``_json_names`` overrides a field's JSON name."""

    _json_names: ClassVar[dict[str, str]] = {}

    @classmethod
    def _json_name(cls, name: str) -> str:
        return cls._json_names.get(name) or camel_case(name)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if value:
                data[self._json_name(item.name)] = value
        return data

    @classmethod
    def from_dict(cls: type[_Part], data: Mapping[str, Any]) -> _Part:
        return cls(**{item.name: data.get(cls._json_name(item.name)) or "" for item in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class PipelineEvent(_JsonParts):
    """A build of a pipeline started or finished."""

    build_version: str = ""
    repo_source: str = ""
    repo_owner: str = ""
    repo_name: str = ""
    branch: str = ""
    status: str = ""
    event: str = ""

    _json_names: ClassVar[dict[str, str]] = {"branch": "repoBranch"}


@dataclass(frozen=True)
class ReleaseEvent(_JsonParts):
    """A release of a pipeline to a target started or finished."""

    release_version: str = ""
    repo_source: str = ""
    repo_owner: str = ""
    repo_name: str = ""
    target: str = ""
    status: str = ""
    event: str = ""


@dataclass(frozen=True)
class GitEvent(_JsonParts):
    """A push to ``repository`` (``source/owner/name``) on ``branch``."""

    event: str = ""
    repository: str = ""
    branch: str = ""


@dataclass(frozen=True)
class DockerEvent(_JsonParts):
    """An image was pushed."""

    event: str = ""
    image: str = ""
    tag: str = ""


@dataclass(frozen=True)
class GithubEvent(_JsonParts):
    """A GitHub webhook delivery; ``payload`` is the raw JSON body."""

    event: str = ""
    repository: str = ""
    delivery: str = ""
    payload: str = ""


@dataclass(frozen=True)
class BitbucketEvent(_JsonParts):
    """A Bitbucket webhook delivery; ``payload`` is the raw JSON body."""

    event: str = ""
    repository: str = ""
    hook_uuid: str = ""
    request_uuid: str = ""
    attempt_number: str = ""
    payload: str = ""

    _json_names: ClassVar[dict[str, str]] = {
        "hook_uuid": "hookUUID",
        "request_uuid": "requestUUID",
    }


@dataclass(frozen=True)
class ManualEvent(_JsonParts):
    """A user started the build, release or bot by hand."""

    user_id: str = ""


@dataclass(frozen=True)
class PubSubMessage:
    attributes: Mapping[str, str] = field(default_factory=dict)
    data: str = ""
    message_id: str = ""
    publish_time: str = ""
    ordering_key: str = ""

    def to_dict(self) -> dict[str, Any]:
        values = {
            "attributes": dict(self.attributes),
            "data": self.data,
            "messageId": self.message_id,
            "publishTime": self.publish_time,
            "orderingKey": self.ordering_key,
        }
        return {key: value for key, value in values.items() if value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PubSubMessage:
        return cls(
            attributes=dict(data.get("attributes") or {}),
            data=data.get("data") or "",
            message_id=data.get("messageId") or "",
            publish_time=data.get("publishTime") or "",
            ordering_key=data.get("orderingKey") or "",
        )


@dataclass(frozen=True)
class PubSubEvent:
    """A Google Cloud Pub/Sub message arrived on ``topic`` in ``project``."""

    project: str = ""
    topic: str = ""
    message: PubSubMessage | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            key: value for key, value in (("project", self.project), ("topic", self.topic)) if value
        }
        if self.message is not None:
            data["message"] = self.message.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PubSubEvent:
        message = data.get("message")
        return cls(
            project=data.get("project") or "",
            topic=data.get("topic") or "",
            message=PubSubMessage.from_dict(message) if message is not None else None,
        )


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(text: str) -> datetime:
    """Parse RFC 3339 (Go's nanoseconds are cut to microseconds); naive times are taken as UTC."""
    moment = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()).replace("z", "Z"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class CronEvent:
    """A cron tick (sent every minute)."""

    time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"time": format_time(self.time)} if self.time is not None else {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CronEvent:
        time = data.get("time")
        return cls(time=parse_time(time) if time else None)


_PARTS: dict[str, Any] = {
    "pipeline": PipelineEvent,
    "release": ReleaseEvent,
    "git": GitEvent,
    "docker": DockerEvent,
    "cron": CronEvent,
    "pubsub": PubSubEvent,
    "github": GithubEvent,
    "bitbucket": BitbucketEvent,
    "manual": ManualEvent,
}


@dataclass(frozen=True)
class Event:
    """Any trigger event: ``name`` names a (named) trigger, ``fired`` tells the event that started the job."""

    name: str = ""
    fired: bool = False
    pipeline: PipelineEvent | None = None
    release: ReleaseEvent | None = None
    git: GitEvent | None = None
    docker: DockerEvent | None = None
    cron: CronEvent | None = None
    pubsub: PubSubEvent | None = None
    github: GithubEvent | None = None
    bitbucket: BitbucketEvent | None = None
    manual: ManualEvent | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.name:
            data["name"] = self.name
        if self.fired:
            data["fired"] = True
        for key in _PARTS:
            part = getattr(self, key)
            if part is not None:
                data[key] = part.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        parts = {key: part.from_dict(data[key]) for key, part in _PARTS.items() if data.get(key) is not None}
        return cls(name=data.get("name") or "", fired=bool(data.get("fired")), **parts)
