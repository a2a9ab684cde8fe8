"""The only module that speaks HTTP to Slack: its Web API — who a user is (``users.info``) and posting a message
(``chat.postMessage``), with the app's bot token — and a command's ``response_url`` (``respond``).

Slack answers HTTP 200 with ``{"ok": false, "error": "<code>"}`` for most refusals, 429 with ``Retry-After`` when
rate limited. An error names the method and Slack's code, never the token (it is a header only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from integrations.errors import IntegrationError

TIMEOUT_SECONDS = 10.0
USER_AGENT = "estafette-ci"
# Slack's error codes that pass: retrying later may succeed.
_PASSING = {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


class SlackError(IntegrationError):
    """A request to Slack failed; the message is safe to show. ``permanent``: repeating it cannot succeed."""


class SlackNotConfigured(SlackError):
    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class SlackUser:
    id: str
    email: str  # "" when Slack does not show it (the app lacks users:read.email)
    deleted: bool
    is_bot: bool


@dataclass(frozen=True)
class SlackClient:
    token: str
    api_url: str
    session: requests.Session | None = None

    def __repr__(self) -> str:  # the token stays out of tracebacks
        return f"SlackClient(api_url={self.api_url!r})"

    def user(self, user_id: str) -> SlackUser:
        """``users.info``: the user and their email."""
        answer = self._call("users.info", form={"user": user_id})
        user = answer.get("user") if isinstance(answer.get("user"), dict) else {}
        profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
        return SlackUser(
            id=str(user.get("id") or user_id),
            email=str(profile.get("email") or ""),
            deleted=user.get("deleted") is True,
            is_bot=user.get("is_bot") is True,
        )

    def post_message(self, *, channel: str, text: str) -> None:
        """``chat.postMessage``: ``text`` (Slack's mrkdwn) to ``channel``, without link previews."""
        self._call("chat.postMessage", json={"channel": channel, "text": text, "unfurl_links": False})

    def _call(
        self, method: str, *, form: Mapping[str, str] | None = None, json: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT}
        if json is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = (self.session or requests).post(
                f"{self.api_url}/{method}",
                headers=headers,
                data=form,
                json=json,
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise SlackError(f"{method}: Slack cannot be reached ({type(error).__name__})") from None
        with response:
            if response.status_code == 429 or response.status_code >= 500:
                raise SlackError(f"{method}: Slack answered {response.status_code}")
            if response.status_code != 200:
                raise SlackError(f"{method}: Slack answered {response.status_code}", permanent=True)
            try:
                answer = response.json()
            except ValueError:
                raise SlackError(f"{method}: Slack answered something that is not JSON") from None
        if not isinstance(answer, dict):
            raise SlackError(f"{method}: Slack answered JSON that is not an object")
        if answer.get("ok") is not True:
            code = str(answer.get("error") or "unknown_error")[:64]
            raise SlackError(f"{method}: Slack refused it ({code})", permanent=code not in _PASSING)
        return answer


def respond(response_url: str, text: str) -> None:
    """An ephemeral message to whoever typed a command, through the command's ``response_url`` (no token: the URL is
    the credential). Only URLs under ``ESTAFETTE_SLACK_RESPONSE_URL_PREFIX`` (Slack's hooks) are called."""
    prefix = settings.SLACK_RESPONSE_URL_PREFIX
    if not prefix or not response_url.startswith(prefix):
        raise SlackError("the command's response_url is not Slack's", permanent=True)
    try:
        response = requests.post(
            response_url,
            json={"response_type": "ephemeral", "text": text},
            headers={"User-Agent": USER_AGENT},
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise SlackError(f"response_url: Slack cannot be reached ({type(error).__name__})") from None
    with response:
        if response.status_code != 200:
            raise SlackError(f"response_url: Slack answered {response.status_code}")


def slack_client() -> SlackClient:
    """The app's client; ``SlackNotConfigured`` naming what to set when there is no bot token."""
    if not settings.SLACK_BOT_TOKEN:
        raise SlackNotConfigured(
            "the Slack app has no bot token: set ESTAFETTE_SLACK_BOT_TOKEN (or integrations.slack.botToken in "
            "ESTAFETTE_CONFIG_FILE)"
        )
    return SlackClient(token=settings.SLACK_BOT_TOKEN, api_url=settings.SLACK_API_URL)
