"""The pipeline commands need a pipeline role; lists show what the caller may see; every change leaves one audit
row; API clients log in with their id and secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from builds.testing import make_build, make_pipeline
from estafette.access.audit import audit_sweep
from estafette.access.models import AuditEntry, Client
from estafette.access.services import client_create
from estafette.access.tests.conftest import Team
from estafette.testing import client_for, make_user
from releases.services import bot_create
from runs.models import RunStatus

API = "/api/pipelines/github.com/acme/api"


def commands(team: Team) -> list[tuple[str, str, dict[str, Any]]]:
    build = team.build
    running = make_build(build.pipeline, status=RunStatus.RUNNING)
    failed = make_build(build.pipeline, status=RunStatus.FAILED)
    bot = bot_create(pipeline=build.pipeline, name="tidy")
    return [
        ("delete", f"{API}/builds/{running.pk}", {}),
        ("post", f"{API}/builds", {"buildVersion": failed.build_version}),
        ("post", f"{API}/releases", {"name": "production", "action": "deploy", "releaseVersion": build.build_version}),
        ("post", f"{API}/bots", {"name": "tidy"}),
        ("delete", f"{API}/bots/{bot.pk}", {}),
        ("post", "/api/manifest/encrypt", {"value": "s3cret", "pipelineAllowList": "github.com/acme/api"}),
    ]


def test_without_a_pipeline_role_every_command_is_refused_and_the_operator_may(team: Team) -> None:
    for user in (team.nobody, team.outsider):
        for method, url, body in commands(team):
            refused = getattr(client_for(user), method)(url, body, format="json")
            assert refused.status_code == 403, (user, method, url, refused.content)
            assert "group.pipelines.operator" in refused.json()["message"]
    before = AuditEntry.objects.count()

    answers = [
        getattr(client_for(team.operator), method)(url, body, format="json").status_code
        for method, url, body in commands(team)
    ]

    assert all(200 <= status < 300 for status in answers), answers
    entries = list(AuditEntry.objects.order_by("id"))[before:]
    assert len(entries) == len(answers)
    assert {entry.actor for entry in entries} == {"olga@example.com"}
    assert [entry.action for entry in entries] == [
        "ci.builds.cancel",
        "ci.builds.rebuild",
        "ci.releases.create",
        "ci.bots.create",
        "ci.bots.cancel",
        "ci.secrets.encrypt",
    ]
    assert entries[0].address == "127.0.0.1" and entries[0].object_type == "pipeline-build"


def test_lists_show_the_pipelines_of_the_callers_groups_unless_administrator(team: Team) -> None:
    make_build(make_pipeline("web"), status=RunStatus.SUCCEEDED)  # in no group

    mine = client_for(team.operator).get("/api/pipelines").json()["items"]
    theirs = client_for(team.outsider).get("/api/pipelines").json()["items"]
    builds = client_for(team.outsider).get("/api/builds").json()["items"]
    everything = client_for(make_user("root", staff=True)).get("/api/pipelines").json()["items"]
    filtered = client_for(make_user("root2", staff=True)).get("/api/pipelines?filter[groups]=team-a").json()["items"]

    assert [p["repoName"] for p in mine] == ["api"]
    assert mine[0]["groups"] == [{"id": str(team.team_a.pk), "name": "team-a"}]
    assert mine[0]["organizations"] == [{"id": str(team.organization.pk), "name": "acme"}]
    assert theirs == [] and builds == []
    assert sorted(p["repoName"] for p in everything) == ["api", "web"]
    assert [p["repoName"] for p in filtered] == ["api"]


def test_me_shows_roles_groups_organizations_and_identities(team: Team) -> None:
    me = client_for(team.operator).get("/api/me").json()

    assert me["roles"] == ["group.pipelines.operator"]
    assert me["groups"] == [{"id": str(team.team_a.pk), "name": "team-a"}]
    assert me["identities"][0]["provider"] == "local" and "avatar" in me["identities"][0]
    assert me["currentProvider"] == "" and me["currentOrganization"] == ""
    # what the web UI decides its buttons from: no global permission, the pipeline role's scope (the group's
    # organization counts as the operator's)
    assert me["permissions"] == []
    assert me["effectiveGroups"] == [str(team.team_a.pk)]
    assert me["effectiveOrganizations"] == []


@pytest.mark.parametrize("kind", ["users", "groups", "organizations", "clients"])
def test_every_kind_sorts_by_name(team: Team, kind: str) -> None:
    administrator = make_user("ada", staff=True)

    answer = client_for(administrator).get(f"/api/{kind}", {"sort": "-name"})

    assert answer.status_code == 200, answer.content
    if kind == "users":
        assert [user["name"] for user in answer.json()["items"]][:2] == ["otto", "olga"]


def test_me_lists_the_permissions_of_the_roles_and_inherited_organizations(team: Team) -> None:
    team.team_a.organizations.set([team.organization])
    administrator = make_user("ada", staff=True)

    operator_me = client_for(team.operator).get("/api/me").json()
    administrator_me = client_for(administrator).get("/api/me").json()

    assert operator_me["effectiveOrganizations"] == [str(team.organization.pk)]
    assert {"rbac.users.create", "rbac.clients.list", "audit.list", "ci.pipelines.update"} <= set(
        administrator_me["permissions"]
    )


def test_an_api_client_logs_in_with_its_secret_and_acts_with_its_roles(team: Team) -> None:
    admin = client_for(make_user("root", staff=True))
    created = admin.post(
        "/api/clients",
        {"name": "deployer", "roles": ["organization.pipelines.operator"], "organizations": [{"name": "acme"}]},
        format="json",
    ).json()
    secret = created["clientSecret"]
    assert Client.objects.get(client_id=created["clientID"]).secret_digest != secret
    assert "clientSecret" not in admin.get(f"/api/clients/{created['id']}").json()

    login = client_for().post("/api/auth/client/login", {"clientID": created["clientID"], "clientSecret": secret})
    token = login.json()["token"]
    api = client_for()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    release = api.post(
        f"{API}/releases",
        {"name": "production", "action": "deploy", "releaseVersion": team.build.build_version},
        format="json",
    )
    users = api.get("/api/users")
    me = api.get("/api/me").json()

    assert login.status_code == 200 and login.json()["expiresIn"] == 3600
    assert release.status_code == 201, release.content
    assert release.json()["triggerEvents"][0]["manual"]["userID"] == "deployer@client.estafette.io"
    assert users.status_code == 403
    assert me["roles"] == ["organization.pipelines.operator"] and me["email"] == "deployer@client.estafette.io"
    entry = AuditEntry.objects.filter(action="ci.releases.create").get()
    assert (entry.actor_kind, entry.actor) == ("client", created["clientID"])


def test_an_administrator_manages_groups_organizations_users_and_pipelines(team: Team) -> None:
    admin = client_for(make_user("root", staff=True))

    group = admin.post("/api/groups", {"name": "team-c", "roles": ["group.pipelines.viewer"]}, format="json")
    bad_role = admin.post("/api/groups", {"name": "team-d", "roles": ["emperor"]}, format="json")
    assign = admin.put("/api/admin/pipelines/github.com/acme/api", {"groups": [{"name": "team-c"}]}, format="json")
    batch = admin.post(
        "/api/admin/batch/users", {"users": [str(team.nobody.pk)], "groupsToAdd": ["team-c"]}, format="json"
    )
    deactivated = admin.delete(f"/api/users/{team.outsider.pk}")
    audit = admin.get("/api/audit").json()["items"]

    assert group.status_code == 201 and bad_role.status_code == 400
    assert assign.json()["groups"] == [{"id": group.json()["id"], "name": "team-c"}]
    assert batch.json() == {"changed": 1}
    assert client_for(team.nobody).get("/api/me").json()["groups"][0]["name"] == "team-c"
    assert deactivated.json()["active"] is False
    assert [entry["action"] for entry in audit][:4] == [
        "rbac.users.delete",
        "rbac.batch",
        "ci.pipelines.update",
        "rbac.groups.create",
    ]


@pytest.mark.django_db
def test_the_sweep_removes_entries_past_the_retention(settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    old = AuditEntry.objects.create(actor_kind="user", actor="a", action="x", at=timezone.now() - timedelta(days=31))
    AuditEntry.objects.create(actor_kind="user", actor="a", action="y")

    assert audit_sweep() == 1
    assert not AuditEntry.objects.filter(pk=old.pk).exists()
    assert AuditEntry.objects.count() == 1


def test_clients_made_by_the_service_keep_only_a_digest(team: Team) -> None:
    client, secret = client_create(name="cleaner", roles=[])
    assert secret not in client.secret_digest and client.secret_matches(secret)
