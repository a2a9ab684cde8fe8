"""The fake git provider for tests: real repositories on disk, and pushes signed as a git server would send them —
posted through the real webhook (``push``) on a test's intake settings (the ``intake`` fixture)."""

from __future__ import annotations

import json
import os
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from integrations.git.webhook import SIGNATURE_HEADER, sign

WEBHOOK_SECRET = "webhook-secret-for-tests"  # noqa: S105 - the tests' own shared secret

GIT_IDENTITY = ("-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com", "-c", "init.defaultBranch=main")


class GitRepository:
    """A working repository at ``path`` (``<owner>/<name>`` as its last two folders: pipeline ``local/owner/name``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q")

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *GIT_IDENTITY, *args], cwd=self.path, check=True, capture_output=True, text=True
        ).stdout

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        """Write ``files`` (path → text), commit them on the current branch; returns the commit id."""
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self.git("add", name)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def checkout(self, branch: str) -> None:
        self.git("checkout", "-q", "-B", branch)


def push_body(repository: str, *, branch: str, revision: str | None = None, **extra: Any) -> bytes:
    payload: dict[str, Any] = {"event": "push", "repository": repository, "branch": branch, **extra}
    if revision is not None:
        payload["revision"] = revision
    return json.dumps(payload).encode()


def signed_headers(body: bytes, secret: str) -> dict[str, str]:
    """Headers for the Django test client (``HTTP_X_ESTAFETTE_SIGNATURE``) carrying the body's signature."""
    return {"HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_"): sign(body, secret)}


def push(repository: GitRepository, *, branch: str = "main", revision: str | None = None) -> str:
    """POST a signed push of ``repository`` to the webhook; returns the event id."""
    body = push_body(str(repository.path), branch=branch, revision=revision)
    response = APIClient().post(
        "/api/integrations/git/events",
        data=body,
        content_type="application/json",
        **signed_headers(body, WEBHOOK_SECRET),
    )
    assert response.status_code == 202, response.content
    return str(response.json()["id"])


@pytest.fixture
def intake(settings: Any, tmp_path: Path) -> None:
    """Webhook secret, git cache and local repository root (the test's directory) of a test."""
    settings.GIT_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.GIT_CACHE_DIR = tmp_path / "git-cache"
    settings.LOCAL_REPOSITORY_ROOTS = (tmp_path,)


# -- git over smart HTTP, for the fake forges (GitHub, Cloud Source) ------------------------------------------------


def read_request_body(handler: BaseHTTPRequestHandler) -> bytes:
    """A request's body as ``http.server`` hands it over, chunked (as git sends a large push or fetch) or not."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


def serve_git_http_backend(
    handler: BaseHTTPRequestHandler, *, root: Path, method: str, path: str, query: str, body: bytes, user: str = ""
) -> None:
    """Answer one smart-HTTP request with ``git http-backend`` serving the repositories under ``root`` (``path``: the
    repository's path under it, then git's own, e.g. ``/acme/api.git/info/refs``)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": user,
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_PROTOCOL": handler.headers.get("Git-Protocol", ""),
        "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding", ""),
    }
    done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
    head, _, content = done.stdout.partition(b"\r\n\r\n")
    status, headers = 200, []
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers.append((name, value.strip()))
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(content)))
    handler.end_headers()
    handler.wfile.write(content)
