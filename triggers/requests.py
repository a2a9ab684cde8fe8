"""Runs people ask for outside the API: a chat command (Slack's ``/estafette release``) publishes a request here and
the trigger layer fulfils it (``triggers.services.release_request_fulfil``), so that an integration never writes a run.

The request is authorized where it was made, by the same rule the API's route has (``estafette.policy``); it names
the person (their email, as Estafette's ``manual`` event does), who is then the release's starter and the audit
trail's actor. Its ``reply`` (``<replier>:<address>``, e.g. Slack's ``response_url``) is where the outcome goes: the
integration registers its replier (``register_replier``) and ``request_reply`` tells the person, best effort.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from estafette.queue import subjects
from triggers.forges import ReportError

logger = logging.getLogger(__name__)

RELEASE_REQUESTS = subjects.event_subject("request", "release")
_FULL_NAME = re.compile(r"^[A-Za-z0-9.:-]{1,256}/[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,256}$")
_REPLY = re.compile(r"^[a-z]{1,16}:[\x21-\x7e]{1,2048}$")


class InvalidRequest(ValueError):
    """The payload is not a release request; the message says why."""


@dataclass(frozen=True)
class ReleaseRequest:
    pipeline: str  # source/owner/name
    target: str
    version: str
    user: str  # the email of the person who asked
    action: str = ""
    reply: str = ""  # where the outcome goes: <replier>:<address>; "" for nowhere

    def to_dict(self) -> dict[str, str]:
        return {
            "pipeline": self.pipeline,
            "target": self.target,
            "action": self.action,
            "version": self.version,
            "user": self.user,
            "reply": self.reply,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ReleaseRequest:
        """Checked on both sides: an event on the queue is input too. Raises ``InvalidRequest``."""
        fields = {key: payload.get(key) for key in ("pipeline", "target", "action", "version", "user")}
        fields["reply"] = payload.get("reply", "")
        if not all(isinstance(value, str) for value in fields.values()):
            raise InvalidRequest("pipeline, target, action, version, user and reply must be strings")
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
        if request.reply and not _REPLY.fullmatch(request.reply):
            raise InvalidRequest("reply must be <replier>:<address>")
        return request


class Replier(Protocol):
    def reply(self, address: str, text: str) -> None:
        """Tell the person at ``address`` (the replier's own kind of address) ``text``; raises
        ``triggers.forges.ReportError``."""
        ...


_repliers: dict[str, Replier] = {}


def register_replier(name: str, replier: Replier) -> None:
    """Register where replies named ``<name>:…`` go (from the integration's ``ready``)."""
    _repliers[name] = replier


def request_reply(reply: str, text: str) -> None:
    """Tell the person who asked (``ReleaseRequest.reply``); best effort: the request is done (or refused) either way,
    so a replier that fails is logged and not retried."""
    name, _, address = reply.partition(":")
    replier = _repliers.get(name)
    if replier is None or not address:
        return
    try:
        replier.reply(address, text)
    except ReportError as error:
        logger.warning("the reply to a release request (%s) was not delivered: %s", name, error)
