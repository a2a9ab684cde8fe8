"""Failure and recovery notices in Slack (``triggers.notifications.Notifier``): ``chat.postMessage`` to the pipeline's
channel, with a link to the run. And the replies to ``/estafette release`` (``triggers.requests.Replier``): whether the
release was made, to the command's ``response_url``.

The channel is the pipeline's label ``slack-channel`` (Estafette's manifests carry their own settings as labels;
several channels separated by commas), else the first entry of ``ESTAFETTE_SLACK_CHANNELS`` /
``integrations.slack.channels`` whose ``pipelines`` regular expression matches the pipeline's full name. A pipeline
with neither, or a server without a bot token, gets no notice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from builder.manifest.regex import filter_match
from integrations.slack.client import SlackClient, SlackError, respond, slack_client
from triggers.forges import ReportError
from triggers.notifications import FAILED, RunNotice

logger = logging.getLogger(__name__)

CHANNEL_LABEL = "slack-channel"
MAX_CHANNELS = 5


def channels_for(notice: RunNotice, configured: Sequence[Mapping[str, Any]]) -> list[str]:
    """Where ``notice`` goes (see the module's docstring)."""
    labelled = notice.labels.get(CHANNEL_LABEL, "")
    if labelled.strip():
        return [channel.strip() for channel in labelled.split(",") if channel.strip()][:MAX_CHANNELS]
    for entry in configured:
        pipelines, channel = entry.get("pipelines"), entry.get("channel")
        usable = isinstance(pipelines, str) and isinstance(channel, str) and bool(channel.strip())
        if usable and filter_match(str(pipelines), notice.pipeline):
            return [str(channel).strip()]
    return []


def notice_text(notice: RunNotice) -> str:
    """The message: what happened, to which run, with a link to it (Slack's mrkdwn)."""
    what = f"Release {notice.version} of {notice.pipeline} to {notice.target}"
    if notice.kind == "build":
        what = f"Build {notice.version} of {notice.pipeline} ({notice.branch})"
    icon, outcome = (":x:", "failed") if notice.outcome == FAILED else (":white_check_mark:", "recovered")
    return f"{icon} {what} {outcome}: <{notice.url}|open the {notice.kind}>"


class SlackNotifier:
    def __init__(self, client: SlackClient | None = None) -> None:
        self._client = client

    def can_send(self) -> bool:
        return bool(self._client or settings.SLACK_BOT_TOKEN)

    def notify(self, notice: RunNotice) -> None:
        channels = channels_for(notice, settings.SLACK_CHANNELS or [])
        if not channels or not (self._client or settings.SLACK_BOT_TOKEN):
            return
        client = self._client or slack_client()
        text = notice_text(notice)
        for channel in channels:
            try:
                client.post_message(channel=channel, text=text)
            except SlackError as error:
                raise ReportError(f"Slack notice to {channel}: {error}", permanent=error.permanent) from None
            logger.info("Slack notice of %s %s %s to %s", notice.pipeline, notice.kind, notice.outcome, channel)


class SlackReplier:
    """Replies named ``slack:<response_url>``."""

    def reply(self, address: str, text: str) -> None:
        try:
            respond(address, text)
        except SlackError as error:
            raise ReportError(str(error), permanent=error.permanent) from None
