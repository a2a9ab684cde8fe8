"""The fake Slack for tests: a real HTTP server speaking the Web API methods the app calls (``users.info``,
``chat.postMessage``), and signed slash commands to send the server.

Slack publishes no description of its Web API that a package registry serves (its OpenAPI files live only in a
repository), so the requests are checked against the official Python SDK's (``slack_sdk``) own description of each
method: the keyword parameters of ``WebClient.<method>`` (``chat_postMessage``…) are the method's arguments. A
request for a method the SDK does not have, an argument it does not name, a required one missing, a value of the
wrong type or a wrong bearer token is answered as Slack answers it (``{"ok": false, "error"}``) and recorded in
``FakeSlack.violations`` (the ``slack`` fixture fails the test with them).

``FakeSlack`` knows users (``add_user``), records the messages posted (``messages``), and ``fail(method, status |
error, times)`` makes the next calls of a method fail.
"""

from __future__ import annotations

import inspect
import json
import secrets
import threading
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from slack_sdk import WebClient

from integrations.slack.webhook import sign

SIGNING_SECRET = "slack-signing-secret-for-tests"  # noqa: S105 - the tests' own shared secret
BOT_TOKEN = "xoxb-fake-bot-token-for-tests"  # noqa: S105 - the fake's own token


def _arguments(method: str) -> tuple[dict[str, Any], set[str]]:
    """The SDK's parameters of a Web API method (``chat.postMessage`` → ``WebClient.chat_postMessage``): their
    annotations, and which are required."""
    function = getattr(WebClient, method.replace(".", "_"), None)
    if function is None:
        raise LookupError(method)
    hints = typing.get_type_hints(function)
    parameters = {
        name: hints.get(name, Any)
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    required = {
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty
    }
    return parameters, required


def _type_problem(name: str, value: Any, annotation: Any) -> str | None:
    allowed = typing.get_args(annotation) or (annotation,)
    if str in allowed and isinstance(value, str):
        return None
    if bool in allowed and isinstance(value, bool | str):  # a form sends booleans as text
        return None
    if any(origin in allowed for origin in (dict, typing.Dict)) and isinstance(value, dict):  # noqa: UP006
        return None
    if any(typing.get_origin(kind) is not None for kind in allowed) and isinstance(value, list | str):
        return None
    return f"{name} has the wrong type ({type(value).__name__})"


def sdk_problems(method: str, arguments: dict[str, Any]) -> list[str]:
    """What is wrong with a call of ``method`` with ``arguments`` by the SDK's description (empty: nothing)."""
    try:
        parameters, required = _arguments(method)
    except LookupError:
        return [f"{method}: no such Web API method in slack_sdk"]
    found = [f"{method}: argument {name!r} is not one of the method's" for name in arguments if name not in parameters]
    found += [f"{method}: argument {name!r} is required" for name in required if name not in arguments]
    for name, value in arguments.items():
        if name in parameters:
            problem = _type_problem(name, value, parameters[name])
            if problem:
                found.append(f"{method}: {problem}")
    return found


@dataclass
class FakeSlack:
    """See the module's docstring. Use as a context manager or through the ``slack`` fixture."""

    token: str = BOT_TOKEN
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)  # what was posted to commands' response_url
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    _failures: list[list[Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.api_url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.response_url = f"http://127.0.0.1:{self.server.server_address[1]}/commands/T0001/{secrets.token_hex(8)}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-slack", daemon=True)

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_user(self, email: str, *, deleted: bool = False, is_bot: bool = False, show_email: bool = True) -> str:
        """A member of the workspace; their Slack id."""
        user_id = "U" + secrets.token_hex(5).upper()
        profile = (
            {"email": email, "real_name": email.split("@", maxsplit=1)[0]} if show_email else {"real_name": "someone"}
        )
        self.users[user_id] = {"id": user_id, "deleted": deleted, "is_bot": is_bot, "profile": profile}
        return user_id

    def fail(self, method: str, answer: int | str, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` are answered with HTTP ``answer`` (an int) or Slack's error code."""
        with self._lock:
            self._failures.append([method, answer, times])

    def call(  # noqa: PLR0911 - one answer per outcome, as Slack's are
        self, method: str, arguments: dict[str, Any], authorization: str
    ) -> tuple[int, dict[str, Any]]:
        problems = sdk_problems(method, arguments)
        with self._lock:
            self.calls.append((method, arguments))
            self.violations.extend(problems)
        if problems:
            return 200, {"ok": False, "error": "invalid_arguments", "detail": "; ".join(problems)}
        if authorization != f"Bearer {self.token}":
            with self._lock:
                self.violations.append(f"{method}: not the bot token")
            return 200, {"ok": False, "error": "invalid_auth"}
        with self._lock:
            for failure in self._failures:
                if failure[0] == method and failure[2] > 0:
                    failure[2] -= 1
                    if isinstance(failure[1], int):
                        return failure[1], {"ok": False, "error": "failing as the test asked"}
                    return 200, {"ok": False, "error": failure[1]}
        if method == "users.info":
            user = self.users.get(str(arguments["user"]))
            return (200, {"ok": True, "user": user}) if user else (200, {"ok": False, "error": "user_not_found"})
        if method == "chat.postMessage":
            with self._lock:
                self.messages.append(dict(arguments))
            return 200, {"ok": True, "channel": arguments["channel"], "ts": f"{time.time():.6f}"}
        return 200, {"ok": False, "error": "unknown_method"}

    def settings(self) -> dict[str, Any]:
        return {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": self.token,
            "SLACK_API_URL": self.api_url,
            "SLACK_RESPONSE_URL_PREFIX": self.response_url.rsplit("/", 2)[0] + "/",
        }


def _handler_for(slack: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the recorded calls are the record
            return None

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = self.headers.get("Content-Type", "").split(";")[0].strip()
            if parts.path.startswith("/commands/"):  # a command's response_url: JSON, no token
                with slack._lock:
                    slack.replies.append(
                        {"url": f"{slack.response_url.split('/commands/')[0]}{parts.path}"} | json.loads(body)
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if kind == "application/json":
                arguments = json.loads(body or b"{}")
            else:
                arguments = {key: values[0] for key, values in parse_qs(body.decode()).items()}
            status, answer = slack.call(
                parts.path.removeprefix("/api/"), arguments, self.headers.get("Authorization", "")
            )
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


# -- slash commands ----------------------------------------------------------------------------------------------


def slash_body(
    user_id: str,
    text: str,
    *,
    trigger_id: str | None = None,
    response_url: str = "https://hooks.slack.com/commands/1/2",
) -> bytes:
    """A slash command's body with the fields Slack sends (its documentation's example, for ``/estafette``)."""
    return urlencode(
        {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": "T0001",
            "team_domain": "example",
            "enterprise_id": "E0001",
            "enterprise_name": "Globular Construct Inc",
            "channel_id": "C2147483705",
            "channel_name": "test",
            "user_id": user_id,
            "user_name": "Steve",
            "command": "/estafette",
            "text": text,
            "response_url": response_url,
            "trigger_id": trigger_id or f"13345224609.738474920.{secrets.token_hex(16)}",
            "api_app_id": "A123456",
        }
    ).encode()


def slash_headers(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack signs a request with, for the Django test client (``HTTP_…``)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": stamp,
        "HTTP_X_SLACK_SIGNATURE": sign(body, timestamp=stamp, secret=secret),
    }


@pytest.fixture
def slack(settings: Any) -> Iterator[FakeSlack]:
    """A fake Slack the server is the app of (``settings`` point there); fails when a call was not one the SDK
    describes."""
    with FakeSlack() as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        yield fake
    assert not fake.violations, "calls Slack's Web API does not take:\n" + "\n".join(fake.violations)
