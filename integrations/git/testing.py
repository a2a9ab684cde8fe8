"""The fake git provider for tests: real repositories on disk, and pushes signed as a git server would send them —
posted through the real webhook (``push``) on a test's intake settings (the ``intake`` fixture)."""

from __future__ import annotations

import json
import subprocess
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
