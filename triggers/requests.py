"""Runs people ask for outside the API: a chat command (Slack's ``/estafette release``) publishes a request here and
the trigger layer fulfils it (``triggers.services.release_request_fulfil``), so that an integration never writes a run.

The request is authorized where it was made, by the same rule the API's route has (``estafette.policy``); it names
the person (their email, as Estafette's ``manual`` event does), who is then the release's starter and the audit
trail's actor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from estafette.queue import subjects

RELEASE_REQUESTS = subjects.event_subject("request", "release")
_FULL_NAME = re.compile(r"^[A-Za-z0-9.:-]{1,256}/[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,256}$")


class InvalidRequest(ValueError):
    """The payload is not a release request; the message says why."""


@dataclass(frozen=True)
class ReleaseRequest:
    pipeline: str  # source/owner/name
    target: str
    version: str
    user: str  # the email of the person who asked
    action: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "pipeline": self.pipeline,
            "target": self.target,
            "action": self.action,
            "version": self.version,
            "user": self.user,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ReleaseRequest:
        """Checked on both sides: an event on the queue is input too. Raises ``InvalidRequest``."""
        fields = {key: payload.get(key) for key in ("pipeline", "target", "action", "version", "user")}
        if not all(isinstance(value, str) for value in fields.values()):
            raise InvalidRequest("pipeline, target, action, version and user must be strings")
        request = cls(**{key: str(value) for key, value in fields.items()})
        if not _FULL_NAME.fullmatch(request.pipeline) or ".." in request.pipeline.split("/"):
            raise InvalidRequest(f"pipeline {request.pipeline!r} is not a source/owner/name")
        for name in ("target", "version"):
            if not _NAME.fullmatch(getattr(request, name)):
                raise InvalidRequest(f"{name} {getattr(request, name)!r} is not a release {name}")
        if request.action and not _NAME.fullmatch(request.action):
            raise InvalidRequest(f"action {request.action!r} is not a release action")
        if "@" not in request.user or len(request.user) > 256:
            raise InvalidRequest("user must be the email of the person who asked")
        return request
