"""The fake Bitbucket Cloud for tests: a real HTTP server speaking the parts of Bitbucket's API the Connect app uses,
its OAuth token endpoint, and git over smart HTTP (``git http-backend``) for the jobs' clones.

**Requests checked against Bitbucket's own description.** Atlassian publishes no package of example payloads or of
its OpenAPI document; the npm package ``@coderabbitai/bitbucket`` ships Bitbucket Cloud's API as openapi-typescript
generated it from Atlassian's OpenAPI document (``dist/cloud/openapi/openapi-typescript.d.ts``). ``BitbucketApi``
reads its ``paths`` (each path template, its methods, their query parameters and JSON request body's schema) and
the schemas' top-level fields and enumerations, and every request the fake receives under ``/2.0`` must be an
operation there, with declared query parameters and a body whose fields and values the schema names. What does not
pass is answered 400 and recorded in ``FakeBitbucket.violations`` (the fixture fails the test with them). The access
token request is checked by the fake as Bitbucket's documentation for the JWT grant describes it, with Atlassian's
own library (PyPI ``atlassian-jwt``) computing the query string hash the app's JWT must carry.

**Payloads.** The webhook bodies and lifecycle callbacks below follow the documented formats — Atlassian's "Event
payloads" page for Bitbucket Cloud (``repo:push`` with ``push.changes[].new/old/commits``, ``repo:updated`` with
``changes.full_name.old/new``, the common ``repository``, ``actor`` and commit entities) and the Connect lifecycle
callback (``key``, ``clientKey``, ``sharedSecret``, ``baseUrl``, ``principal``…) — filled with this test's values.
Their JWTs are made by ``atlassian_jwt.encode_token``, as an Atlassian product signs the requests it sends an app.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote

import jwt
import pytest
from atlassian_jwt import encode_token
from atlassian_jwt.url_utils import hash_url

from integrations.bitbucket.client import TOKEN_PATH, forget_tokens
from integrations.hosted_testing import FakeForge, HostedRepository, Recorded, bare_repository, path_pattern, serving

PEER = (
    Path(__file__).resolve().parents[2]
    / "tests/peers/node_modules/@coderabbitai/bitbucket/dist/cloud/openapi/openapi-typescript.d.ts"
)
APP_KEY = "estafette-ci"
WORKSPACE_UUID = "{6bd6b5b1-7ee8-4e38-9f3a-3e4ba2e7c3d1}"
API_PREFIX = "/api"  # the fake's API root (api.bitbucket.org's): requests are /api/2.0/…


# -- Bitbucket's API, as its OpenAPI document describes it -------------------------------------------------------------

_PATH = re.compile(r'^    readonly "(?P<path>/[^"]*)": \{$')
_METHOD = re.compile(r"^        readonly (?P<method>get|put|post|delete|patch)(?P<optional>\?)?: (?P<rest>.*)$")
_QUERY_START = re.compile(r"^                readonly query\??: \{$")
_QUERY_FIELD = re.compile(r"^                    readonly (?P<name>[A-Za-z0-9_.\[\]\"-]+)\??:")
_BODY = re.compile(r'"application/json": components\["schemas"\]\["(?P<schema>[^"]+)"\]')
_SCHEMA = re.compile(r"^        readonly (?P<name>[A-Za-z0-9_.]+): ")
_FIELD = re.compile(r"^            readonly (?P<name>[A-Za-z0-9_]+)\??: (?P<type>.*?);?$")


@dataclass
class _Operation:
    query: set[str] = field(default_factory=set)
    body_schema: str | None = None


class BitbucketApi:
    """Checks a request against Bitbucket Cloud's API description (see the module's docstring)."""

    def __init__(self, text: str) -> None:
        self.paths: dict[str, dict[str, _Operation]] = {}
        self.schemas: dict[str, dict[str, set[str] | None]] = {}
        lines = text.splitlines()
        self._read_paths(lines)
        self._read_schemas(lines)
        templates = sorted(self.paths, key=lambda path: (path.count("{"), path))
        self.patterns = [(template, path_pattern(template)) for template in templates]

    def _read_paths(self, lines: list[str]) -> None:  # noqa: PLR0912 - one branch per kind of line, as a reader reads
        path: str | None = None
        operation: _Operation | None = None
        in_query = in_body = False
        for line in lines:
            if line.startswith("export interface components"):
                return
            if (found := _PATH.match(line)) is not None:
                path, operation = found["path"], None
                self.paths[path] = {}
                continue
            if path is None:
                continue
            if (found := _METHOD.match(line)) is not None:
                operation, in_query, in_body = None, False, False
                if not found["rest"].startswith("never"):
                    operation = self.paths[path].setdefault(found["method"].upper(), _Operation())
                continue
            if operation is None:
                continue
            if _QUERY_START.match(line):
                in_query = True
            elif in_query and line.startswith("                };"):
                in_query = False
            elif in_query and (found := _QUERY_FIELD.match(line)) is not None:
                operation.query.add(found["name"].strip('"'))
            elif line.startswith("            readonly requestBody"):
                in_body = True
            elif line.startswith("            readonly responses"):
                in_body = False
            elif in_body and (found := _BODY.search(line)) is not None:
                operation.body_schema = found["schema"]

    def _read_schemas(self, lines: list[str]) -> None:
        start = next(index for index, line in enumerate(lines) if line.startswith("export interface components"))
        name: str | None = None
        for line in lines[start:]:
            if line.startswith("    responses:") or line.startswith("    readonly responses:"):
                return
            if (found := _SCHEMA.match(line)) is not None:
                name = found["name"]
                self.schemas[name] = {}
                continue
            if name is not None and (found := _FIELD.match(line)) is not None:
                literals = re.findall(r'"([^"]*)"', found["type"])
                is_enum = literals and re.fullmatch(r'(\s*"[^"]*"\s*\|?)+', found["type"])
                self.schemas[name][found["name"]] = set(literals) if is_enum else None

    def problems(self, method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> list[str]:
        """What is wrong with the request (empty: it is one Bitbucket's API describes)."""
        template = next((template for template, pattern in self.patterns if pattern.match(path)), None)
        if template is None:
            return [f"{method} {path}: no such path in Bitbucket's API"]
        operation = self.paths[template].get(method)
        if operation is None:
            return [f"{method} {template}: Bitbucket's API has no such method there"]
        found = [
            f"{method} {template}: query parameter {name!r} is not declared"
            for name in query
            if name not in operation.query
        ]
        if not body:
            return found
        if operation.body_schema is None:
            return [*found, f"{method} {template}: takes no JSON body"]
        data = json.loads(body)
        if not isinstance(data, dict):
            return [*found, f"{method} {template}: the body is not a JSON object"]
        fields = self.schemas[operation.body_schema]
        for name, value in data.items():
            if name not in fields:
                found.append(f"{method} {template}: field {name!r} is not in {operation.body_schema}")
            elif fields[name] is not None and value not in (fields[name] or ()):
                found.append(f"{method} {template}: {name} {value!r} is not one of {sorted(fields[name] or ())}")
        return found


@functools.cache
def bitbucket_api() -> BitbucketApi:
    if not PEER.exists():
        raise RuntimeError(
            f"{PEER} is missing: install the tests' third-party artefacts with scripts/test-peers.sh (make test-peers)"
        )
    return BitbucketApi(PEER.read_text())


# -- payloads ------------------------------------------------------------------------------------------------------


def connect_jwt(method: str, path_and_query: str, *, client_key: str, shared_secret: str, **claims: Any) -> str:
    """The JWT an Atlassian product signs a request to an app with (Atlassian's own library makes it)."""
    return encode_token(method, path_and_query, client_key, shared_secret, timeout_secs=180, payload_kwargs=claims)


def lifecycle_body(
    event_type: str, *, client_key: str, shared_secret: str, web_url: str, workspace: str, app_key: str = APP_KEY
) -> dict[str, Any]:
    """A Connect lifecycle callback's body, in its documented shape."""
    return {
        "key": app_key,
        "clientKey": client_key,
        "publicKey": "MIGf...",
        "sharedSecret": shared_secret,
        "baseApiUrl": web_url,
        "baseUrl": web_url,
        "productType": "bitbucket",
        "description": "Bitbucket",
        "eventType": event_type,
        "principal": {
            "type": "team",
            "uuid": WORKSPACE_UUID,
            "username": workspace,
            "display_name": workspace.title(),
        },
        "user": {"type": "user", "uuid": "{d301aafa-d676-4ee0-88be-962be7417567}", "display_name": "Ann"},
    }


def repository_entity(web_url: str, workspace: str, slug: str) -> dict[str, Any]:
    """The common Repository entity of the event payloads."""
    return {
        "type": "repository",
        "name": slug,
        "full_name": f"{workspace}/{slug}",
        "uuid": "{f2cb2b2e-7c6b-4a3a-9c43-2a1b3a2d6ec1}",
        "links": {
            "self": {"href": f"{web_url}/!api/2.0/repositories/{workspace}/{slug}"},
            "html": {"href": f"{web_url}/{workspace}/{slug}"},
            "avatar": {"href": f"{web_url}/{workspace}/{slug}/avatar/32/"},
        },
        "workspace": {"type": "workspace", "slug": workspace, "name": workspace.title(), "uuid": WORKSPACE_UUID},
        "project": {
            "type": "project",
            "key": "PROJ",
            "name": "Project",
            "uuid": "{0c5b0d4c-7d0e-4d9b-8c37-0d6d1e1b6a11}",
        },
        "is_private": True,
        "scm": "git",
        "website": None,
    }


def _actor() -> dict[str, Any]:
    return {
        "type": "user",
        "display_name": "Ann Example",
        "uuid": "{d301aafa-d676-4ee0-88be-962be7417567}",
        "account_id": "557058:0a1b2c3d",
        "nickname": "ann",
    }


def push_payload(
    web_url: str, workspace: str, slug: str, revision: str, *, branch: str = "master", kind: str = "branch"
) -> dict[str, Any]:
    """A ``repo:push`` of ``revision`` to ``branch`` (``kind``: branch or tag), one change with its commit."""
    commit = {
        "type": "commit",
        "hash": revision,
        "message": "Add a stage\n",
        "date": "2026-12-03T10:00:00+00:00",
        "author": {"type": "author", "raw": "Ann Example <ann@example.com>", "user": _actor()},
        "links": {"html": {"href": f"{web_url}/{workspace}/{slug}/commits/{revision}"}},
        "parents": [],
    }
    return {
        "actor": _actor(),
        "repository": repository_entity(web_url, workspace, slug),
        "push": {
            "changes": [
                {
                    "new": {"type": kind, "name": branch, "target": commit, "links": {}},
                    "old": None,
                    "created": True,
                    "forced": False,
                    "closed": False,
                    "truncated": False,
                    "commits": [commit],
                    "links": {},
                }
            ]
        },
    }


def updated_payload(web_url: str, workspace: str, old_slug: str, new_slug: str) -> dict[str, Any]:
    """A ``repo:updated``: the repository renamed from ``old_slug`` to ``new_slug``."""
    return {
        "actor": _actor(),
        "repository": repository_entity(web_url, workspace, new_slug),
        "changes": {
            "name": {"old": old_slug, "new": new_slug},
            "full_name": {"old": f"{workspace}/{old_slug}", "new": f"{workspace}/{new_slug}"},
        },
    }


def event_headers(
    event_key: str, *, client_key: str, shared_secret: str, request: str | None = None, attempt: int = 1, **claims: Any
) -> dict[str, str]:
    """The headers Bitbucket sends with a webhook event, for the Django test client (``HTTP_…``)."""
    token = connect_jwt(
        "POST", "/api/integrations/bitbucket/events", client_key=client_key, shared_secret=shared_secret, **claims
    )
    return {
        "HTTP_AUTHORIZATION": f"JWT {token}",
        "HTTP_X_EVENT_KEY": event_key,
        "HTTP_X_HOOK_UUID": str(uuid.uuid4()),
        "HTTP_X_REQUEST_UUID": request or str(uuid.uuid4()),
        "HTTP_X_ATTEMPT_NUMBER": str(attempt),
    }


# -- the fake ----------------------------------------------------------------------------------------------------------


@dataclass
class FakeBitbucket(FakeForge):
    """See the module's docstring. Use as a context manager or the ``bitbucket`` fixture."""

    app_key: str = APP_KEY
    installations: dict[str, str] = field(default_factory=dict)  # client key -> shared secret, as Bitbucket knows
    requests: list[Recorded] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    repositories: dict[tuple[str, str], HostedRepository] = field(default_factory=dict)
    token_lifetime: float = 7200.0

    name: ClassVar[str] = "Bitbucket"
    token_user: ClassVar[str] = "x-token-auth"  # noqa: S105 - the user Bitbucket takes its tokens with
    api_prefix: ClassVar[str] = API_PREFIX

    def __post_init__(self) -> None:
        super().__post_init__()
        self.description = bitbucket_api()
        self.api_url = self.url + API_PREFIX

    def forget(self) -> None:
        forget_tokens()

    # -- set-up ------------------------------------------------------------------------------------------------------
    def install(self, client_key: str | None = None) -> tuple[str, str]:
        """An installation of the app Bitbucket knows: its (client key, shared secret)."""
        client_key = client_key or f"ari:cloud:bitbucket::app/{WORKSPACE_UUID}/{self.app_key}"
        secret = secrets.token_urlsafe(32)
        self.installations[client_key] = secret
        return client_key, secret

    def add_repository(self, workspace: str, slug: str) -> HostedRepository:
        repository = HostedRepository(owner=workspace, name=slug, bare=bare_repository(self.root, workspace, slug))
        self.repositories[(workspace.casefold(), slug.casefold())] = repository
        return repository

    def settings(self) -> dict[str, str]:
        return {"BITBUCKET_API_URL": self.api_url, "BITBUCKET_URL": self.url, "BITBUCKET_APP_KEY": self.app_key}

    def status_states(self) -> list[tuple[str, str]]:
        """(key, state) of every recorded build status, in the order Bitbucket received them."""
        return [(status["key"], status["state"]) for status in self.statuses]

    # -- serving -----------------------------------------------------------------------------------------------------
    def api_path(self, path: str) -> str | None:
        return path if path == TOKEN_PATH else super().api_path(path)

    def api(  # noqa: PLR0911 - one answer per route, as a router reads
        self, method: str, path: str, query: Mapping[str, list[str]], body: bytes, auth: str
    ) -> tuple[int, Any]:
        if path == TOKEN_PATH:
            return self._grant(method, body, auth)
        problems = self.description.problems(method, path.removeprefix("/2.0"), query, body)
        with self._lock:
            self.requests.append(Recorded(method, path, json.loads(body) if body else None))
            self.violations.extend(problems)
        if problems:
            return 400, {"type": "error", "error": {"message": "; ".join(problems)}}
        failure = self.failure(path)
        if failure is not None:
            return failure, {"type": "error", "error": {"message": "failing as the test asked"}}
        if not self.valid_token(auth.removeprefix("Bearer ").strip()):
            return 401, {"type": "error", "error": {"message": "Access token expired or invalid"}}
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if parts[:2] != ["2.0", "repositories"] or len(parts) < 6:
            return 404, {"type": "error", "error": {"message": "Not found"}}
        repository = self.repositories.get((parts[2].casefold(), parts[3].casefold()))
        if repository is None:
            return 404, {"type": "error", "error": {"message": "Repository not found"}}
        if parts[4] == "src" and method == "GET":
            content = repository.show(parts[5], "/".join(parts[6:]))
            return (
                (200, content)
                if content is not None
                else (404, {"type": "error", "error": {"message": "No such file"}})
            )
        if parts[4] == "commit" and parts[6:] == ["statuses", "build"] and method == "POST":
            status = {**json.loads(body), "commit": parts[5], "repository": f"{parts[2]}/{parts[3]}"}
            with self._lock:
                self.statuses.append(status)
            return 201, {"type": "commitstatus", "key": status["key"], "state": status["state"]}
        return 404, {"type": "error", "error": {"message": "Not found"}}

    def _grant(self, method: str, body: bytes, auth: str) -> tuple[int, Any]:
        """The JWT grant: the app's JWT (``iss`` its key, ``sub`` an installation Bitbucket knows, the query string
        hash of this request as Atlassian's library computes it) for an access token."""
        refused = 401, {"error": "invalid_grant", "error_description": "Cannot verify the JWT"}
        form = parse_qs(body.decode())
        if method != "POST" or form.get("grant_type") != ["urn:bitbucket:oauth2:jwt"] or not auth.startswith("JWT "):
            with self._lock:
                self.violations.append(f"{method} {TOKEN_PATH}: not a JWT grant as documented")
            return 400, {"error": "unsupported_grant_type"}
        token = auth.removeprefix("JWT ")
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            secret = self.installations.get(str(unverified.get("sub")))
            if secret is None:
                return refused
            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["iss", "sub", "exp", "qsh"]})
        except jwt.PyJWTError:
            return refused
        if claims["iss"] != self.app_key or claims["qsh"] != hash_url("POST", TOKEN_PATH):
            return refused
        access = secrets.token_urlsafe(24)
        self.issue_token(access, self.token_lifetime)
        return 200, {
            "access_token": access,
            "scopes": "repository:write pullrequest:write",
            "expires_in": int(self.token_lifetime),
            "refresh_token": secrets.token_urlsafe(12),
            "token_type": "bearer",
        }


@dataclass(frozen=True)
class Installed:
    """An installation of the app, stored by the server through its ``installed`` callback."""

    client_key: str
    shared_secret: str
    workspace: str


def post_lifecycle(event_type: str, body: Mapping[str, Any], *, client_key: str, shared_secret: str) -> Any:
    """POST a lifecycle callback signed as Bitbucket signs it; the response."""
    from rest_framework.test import APIClient

    path = f"/api/integrations/bitbucket/{event_type}"
    token = connect_jwt("POST", path, client_key=client_key, shared_secret=shared_secret)
    return APIClient().post(
        path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"JWT {token}"
    )


def install_app(fake: FakeBitbucket, *, workspace: str = "acme") -> Installed:
    """Install the app in ``workspace`` as Bitbucket does: the signed ``installed`` callback (204 expected)."""
    client_key, shared_secret = fake.install()
    body = lifecycle_body(
        "installed", client_key=client_key, shared_secret=shared_secret, web_url=fake.url, workspace=workspace
    )
    response = post_lifecycle("installed", body, client_key=client_key, shared_secret=shared_secret)
    assert response.status_code == 204, response.content
    return Installed(client_key, shared_secret, workspace)


def send_event(event_key: str, payload: Mapping[str, Any], installed: Installed, *, request: str | None = None) -> Any:
    """POST a webhook event signed for ``installed``; the response."""
    from rest_framework.test import APIClient

    return APIClient().post(
        "/api/integrations/bitbucket/events",
        data=json.dumps(payload),
        content_type="application/json",
        **event_headers(
            event_key, client_key=installed.client_key, shared_secret=installed.shared_secret, request=request
        ),
    )


@contextlib.contextmanager
def fake_bitbucket_app(directory: Path, settings: Any) -> Iterator[FakeBitbucket]:
    """A fake Bitbucket the server is the Connect app of (``settings``, pytest-django's, point there); fails when a
    request the server sent is not one Bitbucket's API describes."""
    fake = FakeBitbucket(directory)
    with serving(fake, settings, "Bitbucket's API"):
        yield fake


@pytest.fixture
def bitbucket(tmp_path: Path, settings: Any) -> Iterator[FakeBitbucket]:
    """``fake_bitbucket_app`` for a test."""
    with fake_bitbucket_app(tmp_path / "bitbucket", settings) as fake:
        yield fake
