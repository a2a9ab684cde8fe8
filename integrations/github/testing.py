"""The fake GitHub for tests: a real HTTP server speaking the parts of GitHub's REST API the app uses, and git over
smart HTTP (``git http-backend``) for the jobs' clones; plus GitHub's own example deliveries to send it.

No payload or request shape here is written by hand. Deliveries come from ``@octokit/webhooks-examples`` (the
community-maintained examples GitHub's SDK tests against), and every request the fake receives is checked against
GitHub's OpenAPI description from ``@octokit/openapi``: its path and method must be an operation of the API, its query
parameters declared ones, its JSON body valid for the operation's schema, without a field the schema does not name.
What does not pass is answered 400 and recorded in ``FakeGitHub.violations`` (the ``github`` fixture fails the test
with them). Both packages are installed by ``scripts/test-peers.sh`` (``make test-peers``) into ``tests/peers/``.

``FakeGitHub`` is an app's GitHub: it knows the app's public key (its JWTs must verify, ``iss`` the app id), hands out
installation tokens (each new, an hour long), answers for the repositories it was given (``add_repository``: a bare
git repository under its root, installed under an installation id), serves their files at a commit (the contents
API, raw), records commit statuses in order, and lets git clone them only with a token it issued (user
``x-access-token``). ``fail(path_part, status, times)`` makes the next matching requests fail.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import hashlib
import hmac
import json
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from integrations.git.testing import GitRepository, read_request_body, serve_git_http_backend
from integrations.github.client import forget_tokens

PEERS = Path(__file__).resolve().parents[2] / "tests" / "peers" / "node_modules" / "@octokit"
WEBHOOK_SECRET = "github-webhook-secret-for-tests"  # noqa: S105 - the tests' own shared secret
APP_ID = "4242"
API_PREFIX = "/api/v3"  # as GitHub Enterprise Server serves it: the fake's host is then the repositories' host
_SPEC_URI = "urn:github-openapi"


def _peer(relative: str) -> Path:
    path = PEERS / relative
    if not path.exists():
        raise RuntimeError(
            f"{path} is missing: install the tests' third-party artefacts with scripts/test-peers.sh (make test-peers)"
        )
    return path


# -- the example deliveries -------------------------------------------------------------------------------------------


@functools.cache
def _examples() -> dict[str, list[dict[str, Any]]]:
    entries = json.loads(_peer("webhooks-examples/api.github.com/index.json").read_text())
    return {entry["name"]: entry["examples"] for entry in entries}


def webhook_example(event: str, matches: Callable[[dict[str, Any]], bool] = lambda _: True) -> dict[str, Any]:
    """A copy of the first example delivery of ``event`` (``push``, ``repository``…) that ``matches``."""
    for example in _examples()[event]:
        if matches(example):
            return copy.deepcopy(example)
    raise LookupError(f"@octokit/webhooks-examples has no {event} example that matches")


def branch_push() -> dict[str, Any]:
    """The example push of commits to a branch by an installed app (``refs/heads/master``)."""
    return webhook_example(
        "push", lambda e: e["ref"].startswith("refs/heads/") and not e["deleted"] and "installation" in e
    )


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(event: str, body: bytes, *, delivery: str | None = None, secret: str = WEBHOOK_SECRET) -> dict:
    """The headers GitHub sends with a delivery, for the Django test client (``HTTP_…``)."""
    return {
        "HTTP_X_GITHUB_EVENT": event,
        "HTTP_X_GITHUB_DELIVERY": delivery or secrets.token_hex(8) + "-0000-11ef-8000-" + secrets.token_hex(6),
        "HTTP_X_HUB_SIGNATURE_256": sign(body, secret),
    }


def on_host(payload: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``payload`` with every ``https://github.com`` URL of its repository on ``base_url`` instead (the fake's)."""
    text = json.dumps(payload).replace("https://github.com/", base_url.rstrip("/") + "/")
    return json.loads(text)


# -- GitHub's OpenAPI description ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Operation:
    template: str
    pattern: re.Pattern[str]


class GitHubOpenApi:
    """Checks a request against ``@octokit/openapi``'s description of api.github.com."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry = Registry().with_resource(
            _SPEC_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        # Literal paths before templated ones (/repos/{owner}/{repo}/installation is not …/{path}).
        templates = sorted(document["paths"], key=lambda path: (path.count("{"), path))
        self.operations = [_Operation(path, _path_pattern(path)) for path in templates]

    def problems(self, method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> list[str]:
        """What is wrong with the request (empty: it is one GitHub's API describes)."""
        operation = next((op for op in self.operations if op.pattern.match(path)), None)
        if operation is None:
            return [f"{method} {path}: no such path in GitHub's API"]
        item = self.document["paths"][operation.template]
        spec = item.get(method.lower())
        if spec is None:
            return [f"{method} {operation.template}: GitHub's API has no such method there"]
        found: list[str] = []
        declared = {p.get("name") for p in [*item.get("parameters", []), *spec.get("parameters", [])] if "name" in p}
        declared |= {self._resolve(p).get("name") for p in spec.get("parameters", []) if "$ref" in p}
        for name in query:
            if name not in declared:
                found.append(f"{method} {operation.template}: query parameter {name!r} is not declared")
        request_body = spec.get("requestBody") or {}
        content = request_body.get("content", {}).get("application/json")
        if not body and content is not None and request_body.get("required"):
            return [*found, f"{method} {operation.template}: needs a JSON body"]
        if content is None or not body:
            if body:
                found.append(f"{method} {operation.template}: takes no JSON body")
            return found
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return [*found, f"{method} {operation.template}: the body is not JSON"]
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("paths", operation.template, method.lower(), "requestBody", "content", "application/json")
        )
        schema = {"$ref": f"{_SPEC_URI}#/{pointer}/schema"}
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        found += [f"{method} {operation.template}: {error.message}" for error in validator.iter_errors(data)]
        known = self._resolve(content["schema"]).get("properties")
        if isinstance(data, dict) and isinstance(known, dict):
            found += [
                f"{method} {operation.template}: field {name!r} is not in GitHub's schema"
                for name in data
                if name not in known
            ]
        return found

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node


def _path_pattern(template: str) -> re.Pattern[str]:
    """A path template as a regular expression: ``{name}`` is one segment, except a file's ``{path}`` (any depth)."""
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
        pattern += re.escape(literal)
        if name:
            pattern += ".+" if name == "path" else "[^/]+"
    return re.compile(f"^{pattern}$")


@functools.cache
def github_openapi() -> GitHubOpenApi:
    return GitHubOpenApi(json.loads(_peer("openapi/generated/api.github.com.json").read_text()))


# -- the app's key --------------------------------------------------------------------------------------------------


@functools.cache
def app_private_key() -> str:
    """A PEM RSA key for the tests' GitHub App (made once per test process: generating one takes a while)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_key(private_pem: str) -> Any:
    return serialization.load_pem_private_key(private_pem.encode(), password=None).public_key()


# -- the fake ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class FakeRepository:
    owner: str
    name: str
    installation: int
    bare: Path

    def commit(self, files: Mapping[str, str], *, branch: str = "master", message: str = "change") -> str:
        """Commit ``files`` (path → text) on ``branch`` and push it here, as a developer would; the commit id."""
        work = GitRepository(self.bare.parent / f".{self.name}.work")
        revision = work.commit(dict(files), message)
        work.git("push", "-q", "--force", str(self.bare), f"HEAD:refs/heads/{branch}")
        return revision

    def push_delivery(self, github: FakeGitHub, revision: str, *, branch: str = "master") -> dict[str, Any]:
        """GitHub's example push delivery, made this repository's push of ``revision`` to ``branch``."""
        payload = on_host(branch_push(), github.url)
        payload["ref"], payload["after"] = f"refs/heads/{branch}", revision
        payload["installation"]["id"] = self.installation
        payload["repository"].update(
            name=self.name,
            full_name=f"{self.owner}/{self.name}",
            html_url=f"{github.url}/{self.owner}/{self.name}",
            clone_url=github.clone_url(self.owner, self.name),
        )
        for commit in (*payload["commits"], payload["head_commit"]):
            commit["id"] = revision
        return payload


@dataclass
class FakeGitHub:
    """See the module's docstring. Use as a context manager (``with FakeGitHub(root) as github``) or the fixture."""

    root: Path
    app_id: str = APP_ID
    private_key: str = field(default_factory=app_private_key)
    requests: list[Recorded] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    clones: list[tuple[str, bool]] = field(default_factory=list)  # (repository path, whether its token was valid)
    tokens: dict[str, float] = field(default_factory=dict)  # issued token -> expiry (epoch seconds)
    repositories: dict[tuple[str, str], FakeRepository] = field(default_factory=dict)
    token_lifetime: float = 3600.0
    # Check each request against GitHub's OpenAPI description. Off only where the fake is timed rather than tested
    # (bench/trigger_latency.py --source github): the tests always check.
    check_requests: bool = True
    port: int = 0  # 0: any free port
    _failures: list[list[Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.public_key = _public_key(self.private_key)
        self.openapi = github_openapi() if self.check_requests else None
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url = self.url + API_PREFIX
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-github", daemon=True)

    def __enter__(self) -> FakeGitHub:
        forget_tokens()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        forget_tokens()

    # -- set-up ----------------------------------------------------------------------------------------------------
    def add_repository(
        self, owner: str, name: str, *, installation: int = 7, git_dir: Path | None = None
    ) -> FakeRepository:
        """An empty bare repository ``<root>/<owner>/<name>.git`` on which the app is installed; or, with
        ``git_dir``, that existing repository served under the name."""
        bare = self.root / owner / f"{name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        if git_dir is not None:
            bare.symlink_to(git_dir, target_is_directory=True)
        else:
            bare.mkdir()
            subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        repository = FakeRepository(owner, name, installation, bare)
        self.repositories[(owner.casefold(), name.casefold())] = repository
        return repository

    def clone_url(self, owner: str, name: str) -> str:
        return f"{self.url}/{owner}/{name}.git"

    def fail(self, path_part: str, status: int, *, times: int = 1) -> None:
        """The next ``times`` API requests whose path contains ``path_part`` are answered ``status``."""
        with self._lock:
            self._failures.append([path_part, status, times])

    def valid_token(self, token: str) -> bool:
        with self._lock:
            return self.tokens.get(token, 0) > time.time()

    def status_states(self) -> list[tuple[str, str]]:
        """(context, state) of every recorded commit status, in the order GitHub received them."""
        return [(status["context"], status["state"]) for status in self.statuses]

    def settings(self) -> dict[str, str]:
        """The Django settings that make the server the app of this GitHub (for ``settings`` fixtures)."""
        return {
            "GITHUB_APP_ID": self.app_id,
            "GITHUB_APP_PRIVATE_KEY": self.private_key,
            "GITHUB_API_URL": self.api_url,
        }

    # -- serving -----------------------------------------------------------------------------------------------------
    def _failure(self, path: str) -> int | None:
        with self._lock:
            for failure in self._failures:
                if failure[0] in path and failure[2] > 0:
                    failure[2] -= 1
                    return int(failure[1])
        return None

    def _app_authenticated(self, authorization: str) -> bool:
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims = jwt.decode(
                token, self.public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
            )
        except jwt.PyJWTError:
            return False
        return str(claims["iss"]) == self.app_id

    def _installation_of(self, authorization: str) -> bool:
        return self.valid_token(authorization.removeprefix("Bearer ").removeprefix("token ").strip())

    def api(  # noqa: PLR0911 - one answer per route, as a router reads
        self, method: str, path: str, query: Mapping[str, list[str]], body: bytes, auth: str
    ) -> tuple[int, Any]:
        problems = self.openapi.problems(method, path, query, body) if self.openapi is not None else []
        with self._lock:
            self.requests.append(Recorded(method, path, json.loads(body) if body else None))
            self.violations.extend(problems)
        if problems:
            return 400, {"message": "; ".join(problems)}
        failure = self._failure(path)
        if failure is not None:
            return failure, {"message": "failing as the test asked"}
        parts = path.strip("/").split("/")
        if parts[:2] == ["app", "installations"] and parts[3:] == ["access_tokens"]:
            if not self._app_authenticated(auth):
                return 401, {"message": "A JSON web token could not be decoded"}
            token = "ghs_" + secrets.token_urlsafe(27)
            expires = time.time() + self.token_lifetime
            with self._lock:
                self.tokens[token] = expires
            stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return 201, {"token": token, "expires_at": stamp}
        if parts[0] != "repos" or len(parts) < 4:
            return 404, {"message": "Not Found"}
        repository = self.repositories.get((unquote(parts[1]).casefold(), unquote(parts[2]).casefold()))
        if parts[3] == "installation":
            if not self._app_authenticated(auth):
                return 401, {"message": "A JSON web token could not be decoded"}
            return (200, {"id": repository.installation}) if repository else (404, {"message": "Not Found"})
        if repository is None or not self._installation_of(auth):
            return 404, {"message": "Not Found"}
        if parts[3] == "contents":
            return self._contents(repository, unquote("/".join(parts[4:])), (query.get("ref") or ["HEAD"])[0])
        if parts[3] == "statuses" and method == "POST":
            status = {**json.loads(body), "sha": parts[4], "repository": f"{repository.owner}/{repository.name}"}
            with self._lock:
                self.statuses.append(status)
            return 201, {"state": status["state"], "context": status.get("context", "default")}
        return 404, {"message": "Not Found"}

    def _contents(self, repository: FakeRepository, path: str, ref: str) -> tuple[int, Any]:
        shown = subprocess.run(
            ["git", "--git-dir", str(repository.bare), "show", f"{ref}:{path}"], capture_output=True, check=False
        )
        if shown.returncode != 0:
            return 404, {"message": "Not Found"}
        return 200, shown.stdout  # raw (application/vnd.github.raw+json)

    def git(self, handler: BaseHTTPRequestHandler, method: str, path: str, query: str, body: bytes) -> None:
        """Smart HTTP through ``git http-backend``, for clients that bring a token this GitHub issued."""
        user, token = _basic_credentials(handler.headers.get("Authorization", ""))
        valid = user == "x-access-token" and self.valid_token(token)
        if not valid:
            with self._lock:
                self.clones.append((path, False))
            handler.send_response(401)
            handler.send_header("WWW-Authenticate", 'Basic realm="fake GitHub"')
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if path.endswith("/info/refs"):
            with self._lock:
                self.clones.append((path, True))
        serve_git_http_backend(handler, root=self.root, method=method, path=path, query=query, body=body, user=user)


def _basic_credentials(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


def _handler_for(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the recorded requests are the record
            return None

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            body = read_request_body(self)
            if not parts.path.startswith(API_PREFIX + "/"):
                github.git(self, method, parts.path, parts.query, body)
                return
            status, answer = github.api(
                method,
                parts.path.removeprefix(API_PREFIX),
                parse_qs(parts.query),
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


@contextlib.contextmanager
def fake_github_app(directory: Path, settings: Any) -> Iterator[FakeGitHub]:
    """A fake GitHub the server is the app of (``settings``, pytest-django's, point there), with the webhook secret
    set; fails when a request the server sent is not one GitHub's API describes."""
    with FakeGitHub(directory) as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.GITHUB_WEBHOOK_SECRET = WEBHOOK_SECRET
        yield fake
    assert not fake.violations, "requests GitHub's API does not describe:\n" + "\n".join(fake.violations)


@pytest.fixture
def github(tmp_path: Path, settings: Any) -> Iterator[FakeGitHub]:
    """``fake_github_app`` for a test."""
    with fake_github_app(tmp_path / "github", settings) as fake:
        yield fake
