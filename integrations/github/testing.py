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

import contextlib
import copy
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import jsonschema
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from integrations.github.client import forget_tokens
from integrations.hosted_testing import FakeForge, HostedRepository, Recorded, bare_repository, path_pattern, serving

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
        self.operations = [_Operation(path, path_pattern(path)) for path in templates]

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


@dataclass
class FakeRepository(HostedRepository):
    installation: int = 7

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
class FakeGitHub(FakeForge):
    """See the module's docstring. Use as a context manager (``with FakeGitHub(root) as github``) or the fixture."""

    app_id: str = APP_ID
    private_key: str = field(default_factory=app_private_key)
    requests: list[Recorded] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    repositories: dict[tuple[str, str], FakeRepository] = field(default_factory=dict)
    token_lifetime: float = 3600.0
    # Check each request against GitHub's OpenAPI description. Off only where the fake is timed rather than tested
    # (bench/trigger_latency.py --source github): the tests always check.
    check_requests: bool = True

    name: ClassVar[str] = "GitHub"
    token_user: ClassVar[str] = "x-access-token"  # noqa: S105 - the user GitHub takes its tokens with
    api_prefix: ClassVar[str] = API_PREFIX

    def __post_init__(self) -> None:
        super().__post_init__()
        self.public_key = _public_key(self.private_key)
        self.openapi = github_openapi() if self.check_requests else None
        self.api_url = self.url + API_PREFIX

    def forget(self) -> None:
        forget_tokens()

    # -- set-up ----------------------------------------------------------------------------------------------------
    def add_repository(
        self, owner: str, name: str, *, installation: int = 7, git_dir: Path | None = None
    ) -> FakeRepository:
        """An empty bare repository ``<root>/<owner>/<name>.git`` on which the app is installed; or, with
        ``git_dir``, that existing repository served under the name."""
        bare = bare_repository(self.root, owner, name, git_dir=git_dir)
        repository = FakeRepository(owner=owner, name=name, bare=bare, installation=installation)
        self.repositories[(owner.casefold(), name.casefold())] = repository
        return repository

    def clone_url(self, owner: str, name: str) -> str:
        return f"{self.url}/{owner}/{name}.git"

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
        failure = self.failure(path)
        if failure is not None:
            return failure, {"message": "failing as the test asked"}
        parts = path.strip("/").split("/")
        if parts[:2] == ["app", "installations"] and parts[3:] == ["access_tokens"]:
            if not self._app_authenticated(auth):
                return 401, {"message": "A JSON web token could not be decoded"}
            token = "ghs_" + secrets.token_urlsafe(27)
            expires = self.issue_token(token, self.token_lifetime)
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
        content = repository.show(ref, path)
        if content is None:
            return 404, {"message": "Not Found"}
        return 200, content  # raw (application/vnd.github.raw+json)


@contextlib.contextmanager
def fake_github_app(directory: Path, settings: Any) -> Iterator[FakeGitHub]:
    """A fake GitHub the server is the app of (``settings``, pytest-django's, point there), with the webhook secret
    set; fails when a request the server sent is not one GitHub's API describes."""
    fake = FakeGitHub(directory)
    with serving(fake, settings, "GitHub's API"):
        settings.GITHUB_WEBHOOK_SECRET = WEBHOOK_SECRET
        yield fake


@pytest.fixture
def github(tmp_path: Path, settings: Any) -> Iterator[FakeGitHub]:
    """``fake_github_app`` for a test."""
    with fake_github_app(tmp_path / "github", settings) as fake:
        yield fake
