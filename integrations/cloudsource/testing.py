"""The fake Google for tests: one real HTTP server that is Google's OpenID discovery document and its keys (JWKS) —
with keys of its own, minting ID tokens as Google signs them for a Pub/Sub push subscription — and Cloud Source's git
over smart HTTP (``/p/<project>/r/<repo>``, ``git http-backend``); plus Pub/Sub push messages of Cloud Source
notifications in Google's documented format.

``FakeGoogle.token(...)`` mints a token (RS256 with the fake's current key, ``kid`` set; ``iss``
``https://accounts.google.com``, ``aud``, ``email``, ``email_verified``, ``iat``/``exp``), each claim replaceable for
attack tests; ``rotate()`` adds a new key (the JWKS lists both); ``discovery_hits``/``jwks_hits`` count fetches.
Its git serves anonymous reads (Cloud Source itself wants the reader's Google credentials: the server's and the jobs'
git get them from the environment's credential helper, which a test has not); ``git_requests`` records each git
request's path and whether it carried an ``Authorization`` header.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.cloudsource.oidc import forget_keys
from integrations.git.testing import GitRepository, read_request_body, serve_git_http_backend

AUDIENCE = "https://ci.example.com/api/integrations/cloudsource/events"
SERVICE_ACCOUNT = "pubsub-push@estafette-tests.iam.gserviceaccount.com"
PROJECT = "estafette-tests"


@functools.cache
def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    """RSA keys made once per test process (generating one takes a while), by index."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeGoogle:
    root: Path
    keys: list[tuple[str, rsa.RSAPrivateKey]] = field(default_factory=list)
    discovery_hits: int = 0
    jwks_hits: int = 0
    git_requests: list[tuple[str, bool]] = field(default_factory=list)  # (path, had Authorization), in order
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rotate()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.discovery_url = f"{self.url}/.well-known/openid-configuration"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-google", daemon=True)

    def __enter__(self) -> FakeGoogle:
        forget_keys()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        forget_keys()

    def rotate(self) -> str:
        """Sign with a new key from now on (the JWKS keeps the old one, as Google's does for a while)."""
        kid = secrets.token_hex(8)
        self.keys.append((kid, _rsa_key(len(self.keys))))
        return kid

    def token(
        self, *, key: rsa.RSAPrivateKey | None = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """A Google ID token of the push subscription; ``claims`` replace or (``None``) remove the defaults."""
        now = int(time.time())
        body = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "azp": "1234567890",
            "email": SERVICE_ACCOUNT,
            "email_verified": True,
            "sub": "1234567890",
            "iat": now,
            "exp": now + 3600,
        } | claims
        kid, current = self.keys[-1]
        return jwt.encode(
            {name: value for name, value in body.items() if value is not None},
            key or current,
            algorithm="RS256",
            headers={"kid": kid} | (headers or {}),
        )

    def settings(self) -> dict[str, str]:
        return {
            "CLOUDSOURCE_AUDIENCE": AUDIENCE,
            "CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL": SERVICE_ACCOUNT,
            "CLOUDSOURCE_DISCOVERY_URL": self.discovery_url,
            "CLOUDSOURCE_GIT_URL": self.url,
        }

    # -- repositories --------------------------------------------------------------------------------------------------
    def add_repository(self, repo: str, *, project: str = PROJECT) -> CloudSourceRepository:
        bare = self.root / project / repo
        bare.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        return CloudSourceRepository(project=project, name=repo, bare=bare)

    # -- serving -------------------------------------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        with self._lock:
            self.jwks_hits += 1
        keys = []
        for kid, key in self.keys:
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append(public | {"kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    def discovery(self) -> dict[str, Any]:
        with self._lock:
            self.discovery_hits += 1
        return {"issuer": "https://accounts.google.com", "jwks_uri": f"{self.url}/oauth2/v3/certs"}


@dataclass
class CloudSourceRepository:
    project: str
    name: str
    bare: Path

    def commit(self, files: dict[str, str], *, branch: str = "main", message: str = "change") -> str:
        work = GitRepository(self.bare.parent / f".{self.name}.work")
        revision = work.commit(files, message)
        work.git("push", "-q", "--force", str(self.bare), f"HEAD:refs/heads/{branch}")
        return revision


def _handler_for(google: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _json(self, answer: Any) -> None:
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            body = read_request_body(self)
            if parts.path == "/.well-known/openid-configuration":
                self._json(google.discovery())
                return
            if parts.path == "/oauth2/v3/certs":
                self._json(google.jwks())
                return
            segments = parts.path.split("/")
            if segments[1:2] == ["p"] and segments[3:4] == ["r"] and len(segments) > 5:  # /p/<project>/r/<repo>/…
                path = "/".join(["", segments[2], *segments[4:]])
                with google._lock:
                    google.git_requests.append((parts.path, "Authorization" in self.headers))
                serve_git_http_backend(self, root=google.root, method=method, path=path, query=parts.query, body=body)
                return
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


# -- Pub/Sub push messages of Cloud Source notifications ------------------------------------------------------------


def ref_update(ref: str, new_id: str, *, update_type: str = "UPDATE_FAST_FORWARD", old_id: str = "0" * 40) -> dict:
    return {ref: {"refName": ref, "updateType": update_type, "oldId": old_id, "newId": new_id}}


def notification_body(
    repo: str, updates: dict[str, Any], *, project: str = PROJECT, message_id: str | None = None, **data: Any
) -> bytes:
    """A Pub/Sub push of a Cloud Source notification (Google's documented shapes of both)."""
    notification = {
        "name": f"projects/{project}/repos/{repo}",
        "url": f"https://source.developers.google.com/p/{project}/r/{repo}",
        "eventTime": "2026-12-03T12:00:00.000000Z",
        "refUpdateEvent": {"email": "ada@example.com", "refUpdates": updates},
    } | data
    message_id = message_id or str(secrets.randbelow(10**16))
    return json.dumps(
        {
            "message": {
                "attributes": {},
                "data": base64.b64encode(json.dumps(notification).encode()).decode(),
                "messageId": message_id,
                "message_id": message_id,
                "publishTime": "2026-12-03T12:00:00.123Z",
                "publish_time": "2026-12-03T12:00:00.123Z",
            },
            "subscription": f"projects/{project}/subscriptions/estafette-cloudsource",
        }
    ).encode()


@contextlib.contextmanager
def fake_google(directory: Path, settings: Any) -> Iterator[FakeGoogle]:
    with FakeGoogle(directory) as google:
        for name, value in google.settings().items():
            setattr(settings, name, value)
        settings.GIT_CACHE_DIR = directory / "git-cache"
        yield google


@pytest.fixture
def google(tmp_path: Path, settings: Any) -> Iterator[FakeGoogle]:
    with fake_google(tmp_path / "google", settings) as fake:
        yield fake
