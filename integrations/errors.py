"""The error every provider client raises (GitHub's, Slack's…): a request to the provider failed, with whether
repeating it can help, so that the consumer sending it retries with back-off or gives up at once (a dead letter)."""

from __future__ import annotations


class IntegrationError(RuntimeError):
    """A request to a provider failed; the message is safe to show. ``permanent``: repeating it cannot succeed."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
