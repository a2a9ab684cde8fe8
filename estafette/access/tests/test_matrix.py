"""The authorization matrix: every operation of the OpenAPI document x every kind of caller, against the policy.

The operations are read from the document the API publishes (drf-spectacular), not listed here, so a route added
later is in the matrix at once: without a rule in ``estafette.policy.POLICY`` it is refused for everyone and
``test_every_operation_has_a_rule`` names it. Each cell sends the request as that caller and asserts the answer
the operation's rule gives that caller: let through (any answer but 401/403: the view may still say 400, 404 or
409 about the request itself), 401 (no valid credential) or 403 (a valid one that does not allow it).

Callers: anonymous; a viewer (group.pipelines.viewer in a group of the pipeline); an operator of another group
(group.pipelines.operator in a group the pipeline is not in); the pipeline's operator (group.pipelines.operator in
one of its groups); an administrator; the job token of the pipeline's build; an API client (its token, with
organization.pipelines.operator in the pipeline's organization).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from builds.models import Build
from builds.testing import make_build, make_pipeline
from estafette.access import roles
from estafette.access.models import Client, Group, Organization
from estafette.access.permissions import rule_for
from estafette.access.rules import (
    Anyone,
    OnPipeline,
    OnPipelineInBody,
    OwnCredential,
    Permitted,
    Rule,
    SignedIn,
    SignedInComputation,
)
from estafette.access.services import account_of, client_create
from estafette.access.tokens import client_token_issue
from estafette.lib.jobtokens import issue_job_token
from estafette.testing import make_user
from pipelines.models import CatalogEntity
from releases.services import bot_create
from releases.testing import make_release
from runs.models import RunStatus
from runs.services import log_record_create
from runs.tail import hub

METHODS = ("get", "post", "put", "patch", "delete")
# In this order: the callers allowed to change things come last (the administrator deactivates a user, the viewer).
PRINCIPALS = ("anonymous", "job", "viewer", "other_operator", "operator", "client", "administrator")
LET_THROUGH, UNAUTHENTICATED, FORBIDDEN = "let through", 401, 403


def documented_operations() -> list[tuple[str, str, str]]:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (path, method.upper(), operation["operationId"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    ]


OPERATIONS = documented_operations()


def url_name(path: str) -> str | None:
    match = resolve(re.sub(r"\{[^}]+\}", "1", path))
    return match.url_name


def expected(rule: Rule, principal: str) -> Any:
    """What ``rule`` answers ``principal`` (the rules' meaning, written out once more here)."""
    if isinstance(rule, Anyone):
        return LET_THROUGH
    if isinstance(rule, OwnCredential):
        # Only the job token of the run in the path gets through the builder's endpoints; no user or client holds
        # an intake's shared secret (none is configured in the tests, so the intakes refuse everyone with 401).
        return LET_THROUGH if principal == "job" and rule.credential == "job token" else UNAUTHENTICATED
    if principal in ("anonymous", "job"):
        return UNAUTHENTICATED  # a job token is no login: it is only accepted by the builder's endpoints
    if isinstance(rule, SignedIn) or principal == "administrator":
        return LET_THROUGH
    if isinstance(rule, Permitted):
        return FORBIDDEN  # none of the other callers holds an RBAC role
    if isinstance(rule, OnPipeline | OnPipelineInBody):
        # A viewing action on one pipeline (replaying a build) is its viewers' too; the commands are its operators'.
        allowed = ("viewer", "operator", "client") if rule.action in roles.PIPELINE_VIEW else ("operator", "client")
        return LET_THROUGH if principal in allowed else FORBIDDEN
    raise AssertionError(f"no expectation for {rule!r}")


@dataclass
class World:
    build: Build
    values: dict[str, str]
    callers: dict[str, Callable[[], APIClient]]


@pytest.fixture
def world(db: Any) -> World:
    organization = Organization.objects.create(name="acme", roles=[])
    team_a = Group.objects.create(name="team-a", roles=[roles.GROUP_PIPELINES_OPERATOR])
    team_b = Group.objects.create(name="team-b", roles=[roles.GROUP_PIPELINES_OPERATOR])
    watchers = Group.objects.create(name="watchers", roles=[roles.GROUP_PIPELINES_VIEWER])
    pipeline = make_pipeline("api")
    pipeline.groups.set([team_a, watchers])
    pipeline.organizations.set([organization])
    build = make_build(pipeline, status=RunStatus.SUCCEEDED)
    release = make_release(build, "production", action="deploy", status=RunStatus.SUCCEEDED)
    bot = bot_create(pipeline=pipeline, name="tidy")
    record = log_record_create(pipeline=pipeline, run_kind=Build.kind, run_id=build.pk)
    users = {}
    for name, group in (("viewer", watchers), ("other_operator", team_b), ("operator", team_a)):
        users[name] = make_user(name)
        account_of(users[name]).groups.set([group])
    users["administrator"] = make_user("root", staff=True)
    client, _secret = client_create(
        name="deployer", roles=[roles.ORGANIZATION_PIPELINES_OPERATOR], organizations=[organization]
    )
    client_token, _ = client_token_issue(client=Client.objects.get(pk=client.pk))
    # The job token of the run a path names (a builder only ever holds its own run's).
    job_tokens = {
        "{release_id}": issue_job_token(kind=release.kind, run_id=release.pk),
        "{bot_id}": issue_job_token(kind=bot.kind, run_id=bot.pk),
        "": issue_job_token(kind=Build.kind, run_id=build.pk),
    }

    def session(user: Any) -> Callable[[], APIClient]:
        def make() -> APIClient:
            api = APIClient()
            api.force_login(user)
            return api

        return make

    def bearer(token: str) -> Callable[[], APIClient]:
        def make() -> APIClient:
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            return api

        return make

    callers = {name: session(user) for name, user in users.items()}
    callers |= {"anonymous": APIClient, "client": bearer(client_token)}
    callers |= {f"job{marker}": bearer(token) for marker, token in job_tokens.items()}
    values = {
        "source": pipeline.repo_source,
        "owner": pipeline.repo_owner,
        "name": pipeline.repo_name,
        "build_id": str(build.pk),
        "release_id": str(release.pk),
        "bot_id": str(bot.pk),
        "log_id": str(record.pk),
        "version": build.build_version,
        "kind": Build.kind,
        "run_id": str(build.pk),
        "id": str(build.pk),  # /api/migrations/builds/{id}, …/releases/{id}
        "provider": "none",
        "entity_id": str(CatalogEntity.objects.create(key="team", value="ci").pk),
    }
    items = {"users": users["viewer"].pk, "groups": team_b.pk, "organizations": organization.pk, "clients": client.pk}
    values |= {f"item_id@{plural}": str(pk) for plural, pk in items.items()}
    return World(build=build, values=values, callers=callers)


def concrete(path: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "item_id":
            return values[f"item_id@{path.split('/')[2]}"]
        return values[name]

    return re.sub(r"\{([^}]+)\}", fill, path)


BODIES = {
    "manifest_encrypt": {"value": "s3cret", "pipelineAllowList": "github.com/acme/api"},
    "admin_batch": {"users": ["1"], "rolesToAdd": ["role.viewer"]},
}


def test_every_operation_has_a_rule() -> None:
    missing = [f"{method} {path}" for path, method, _ in OPERATIONS if rule_for(url_name(path), method) is None]
    assert not missing, f"operations without an authorization rule in estafette/policy.py: {missing}"


def test_no_change_is_open_to_anyone_but_signing_in() -> None:
    """A change is never authorized by a mere login or by nothing at all, except signing in and out."""
    loose = []
    for path, method, _ in OPERATIONS:
        rule = rule_for(url_name(path), method)
        if isinstance(rule, SignedInComputation) or (url_name(path) or "").startswith("auth-"):
            continue
        if method != "GET" and isinstance(rule, Anyone | SignedIn):
            loose.append(f"{method} {path}: {rule!r}")
    assert not loose


@pytest.mark.parametrize(("path", "method", "operation_id"), OPERATIONS, ids=[op[2] for op in OPERATIONS])
def test_matrix(world: World, path: str, method: str, operation_id: str) -> None:
    """One operation for each caller in turn (one world per operation: building it is the slow part)."""
    rule = rule_for(url_name(path), method)
    assert rule is not None, f"{method} {path} has no rule"
    url = concrete(path, world.values)
    wrong = []
    for principal in PRINCIPALS:
        caller = principal
        if principal == "job":  # the job token of the run in the path
            caller = next(f"job{marker}" for marker in ("{release_id}", "{bot_id}", "") if marker in path)
        api = world.callers[caller]()
        response = api.generic(
            method, url, data=json.dumps(BODIES.get(operation_id, {})), content_type="application/json"
        )
        close(response)
        want, got = expected(rule, principal), response.status_code
        ok = (got not in (401, 403) and got < 500) if want == LET_THROUGH else got == want
        if not ok:
            wrong.append((principal, want, got, bytes(getattr(response, "content", b"") or b"")[:200]))
    assert not wrong, f"{method} {url} ({rule!r}): {wrong}"
    assert hub.open_tails == 0  # every live tail the matrix opened was closed (they hold process-wide slots)


def close(response: Any) -> None:
    """Close a response (a live tail gives back its slot), as the test client does: without closing the test's
    database connection, which Django's request_finished handler would otherwise do."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
