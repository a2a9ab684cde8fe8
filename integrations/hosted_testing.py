"""What the fake forges of the tests share (``integrations/github/testing.py``, ``integrations/bitbucket/testing.py``).

``FakeForge`` is a real HTTP server on loopback: the forge's REST API under ``api_prefix`` (the subclass's ``api``,
which answers ``(status, JSON-able or bytes)``), and git over smart HTTP (``git http-backend``) everywhere else, for
clients that bring a token the forge issued (``tokens``) with the forge's token user (``token_user``: GitHub's
``x-access-token``, Bitbucket's ``x-token-auth``). ``fail(path_part, status, times)`` makes the next matching API
requests fail; ``clones`` records each clone and whether its token was good. ``HostedRepository`` is a bare
repository the fake serves, which a test commits to as a developer would.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from integrations.git.testing import GitRepository, read_request_body, serve_git_http_backend


@dataclass(frozen=True)
class Recorded:
    """A request the fake forge's API received."""

    method: str
    path: str
    body: Any


def path_pattern(template: str) -> re.Pattern[str]:
    """An API path template as a regular expression: ``{name}`` is one segment, except a file's ``{path}`` (any
    depth)."""
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
        pattern += re.escape(literal)
        if name:
            pattern += ".+" if name == "path" else "[^/]+"
    return re.compile(f"^{pattern}$")


@contextlib.contextmanager
def serving(fake: FakeForge, settings: Any, described: str) -> Iterator[None]:
    """Run ``fake`` with the server's ``settings`` (pytest-django's) pointing at it (``fake.settings()``); fail when a
    request the server sent it is not one ``described`` (the forge's API description) has."""
    with fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        yield
    violations: list[str] = getattr(fake, "violations", [])
    assert not violations, f"requests {described} does not describe:\n" + "\n".join(violations)


@dataclass
class HostedRepository:
    owner: str
    name: str
    bare: Path

    def commit(self, files: Mapping[str, str], *, branch: str = "master", message: str = "change") -> str:
        """Commit ``files`` (path → text) on ``branch`` and push it here, as a developer would; the commit id."""
        work = GitRepository(self.bare.parent / f".{self.name}.work")
        revision = work.commit(dict(files), message)
        work.git("push", "-q", "--force", str(self.bare), f"HEAD:refs/heads/{branch}")
        return revision

    def show(self, ref: str, path: str) -> bytes | None:
        """A file's bytes at ``ref``; None when there is no such file (or ref)."""
        shown = subprocess.run(
            ["git", "--git-dir", str(self.bare), "show", f"{ref}:{path}"], capture_output=True, check=False
        )
        return shown.stdout if shown.returncode == 0 else None


def bare_repository(root: Path, owner: str, name: str, *, git_dir: Path | None = None) -> Path:
    """An empty bare repository ``<root>/<owner>/<name>.git``; or, with ``git_dir``, that one linked there."""
    bare = root / owner / f"{name}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    if git_dir is not None:
        bare.symlink_to(git_dir, target_is_directory=True)
    else:
        bare.mkdir()
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return bare


@dataclass
class FakeForge:
    """See the module's docstring. Use as a context manager; subclasses set ``name``, ``token_user``, ``api_prefix``
    and answer ``api``."""

    root: Path
    clones: list[tuple[str, bool]] = field(default_factory=list)  # (repository path, whether its token was valid)
    tokens: dict[str, float] = field(default_factory=dict)  # issued token -> expiry (epoch seconds)
    port: int = 0  # 0: any free port
    _failures: list[list[Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    name: ClassVar[str] = "forge"
    token_user: ClassVar[str] = ""
    api_prefix: ClassVar[str] = "/api"

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"fake-{self.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def forget(self) -> None:
        """Drop what the server's client of this forge caches (its tokens), before and after the fake runs."""

    def __enter__(self) -> Self:
        self.forget()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.forget()

    def settings(self) -> dict[str, str]:
        """The Django settings that make the server the app of this forge."""
        raise NotImplementedError

    def api(self, method: str, path: str, query: Mapping[str, list[str]], body: bytes, auth: str) -> tuple[int, Any]:
        raise NotImplementedError

    def api_path(self, path: str) -> str | None:
        """The API path a request path is (``api`` answers it), or None: a git request."""
        return path.removeprefix(self.api_prefix) if path.startswith(self.api_prefix + "/") else None

    def fail(self, path_part: str, status: int, *, times: int = 1) -> None:
        """The next ``times`` API requests whose path contains ``path_part`` are answered ``status``."""
        with self._lock:
            self._failures.append([path_part, status, times])

    def failure(self, path: str) -> int | None:
        """The status a request of ``path`` is to fail with (``fail``), counted; None: answer it."""
        with self._lock:
            for failure in self._failures:
                if failure[0] in path and failure[2] > 0:
                    failure[2] -= 1
                    return int(failure[1])
        return None

    def issue_token(self, token: str, lifetime: float) -> float:
        """Remember ``token`` as issued for ``lifetime`` seconds; its expiry (epoch seconds)."""
        expires = time.time() + lifetime
        with self._lock:
            self.tokens[token] = expires
        return expires

    def valid_token(self, token: str) -> bool:
        with self._lock:
            return self.tokens.get(token, 0) > time.time()

    def git(self, handler: BaseHTTPRequestHandler, method: str, path: str, query: str, body: bytes) -> None:
        """Smart HTTP through ``git http-backend``, for clients that bring a token this forge issued."""
        user, token = basic_credentials(handler.headers.get("Authorization", ""))
        valid = user == self.token_user and self.valid_token(token)
        if not valid:
            with self._lock:
                self.clones.append((path, False))
            handler.send_response(401)
            handler.send_header("WWW-Authenticate", f'Basic realm="fake {self.name}"')
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if path.endswith("/info/refs"):
            with self._lock:
                self.clones.append((path, True))
        serve_git_http_backend(handler, root=self.root, method=method, path=path, query=query, body=body, user=user)


def basic_credentials(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


def _handler_for(forge: FakeForge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the recorded requests are the record
            return None

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            body = read_request_body(self)
            api_path = forge.api_path(parts.path)
            if api_path is None:
                forge.git(self, method, parts.path, parts.query, body)
                return
            status, answer = forge.api(
                method,
                api_path,
                parse_qs(parts.query, keep_blank_values=True),
                body,
                self.headers.get("Authorization", ""),
            )
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/octet-stream" if isinstance(answer, bytes) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
