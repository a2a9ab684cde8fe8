"""The administration pages and the actions a user may not take, in Chromium against the real server: an
administrator creates a group, an API client (whose secret is shown once) and gives a user a role; a viewer of a
pipeline sees its release and cancel buttons disabled with the reason; an operator of the pipeline's group may use
them. The rules themselves are the server's (estafette/policy.py; estafette/access/tests)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from builds.models import Build
from builds.testing import make_build, make_pipeline
from estafette.access import roles
from estafette.access.models import AuditEntry, Client, Group
from estafette.access.services import account_of
from runs.models import RunStatus
from tests.e2e.conftest import ARTIFACTS, PASSWORD
from tests.tooling.browser import browser_context


@contextmanager
def logged_in(live_server: Any, username: str, shot: str) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser_context() as context:
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name=re.compile("log in", re.IGNORECASE)).click()
        page.wait_for_url(re.compile(r"/pipelines"))
        try:
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)


def test_an_administrator_creates_a_group_and_a_client_whose_secret_shows_once_and_gives_a_role(
    page: Any,
) -> None:
    vera = get_user_model().objects.create_user("vera", "vera@example.com", PASSWORD)

    # when the administrator opens Groups from the user menu and creates one with the operator role
    page.get_by_role("button", name=re.compile("operator")).click()
    page.get_by_role("menuitem", name="Groups").click()
    page.wait_for_url(re.compile(r"/access/groups$"))
    page.get_by_role("button", name="New group").click()
    form = page.get_by_role("form", name="New group")
    form.get_by_label("Name").fill("team-a")
    form.get_by_label(roles.GROUP_PIPELINES_OPERATOR, exact=True).check()
    form.get_by_role("button", name="Create group").click()
    # then it is listed, and exists with that role
    expect(page.get_by_role("row", name=re.compile(r"team-a.*group\.pipelines\.operator"))).to_be_visible()
    group = Group.objects.get(name="team-a")
    assert group.roles == [roles.GROUP_PIPELINES_OPERATOR] and group.active

    # when an API client is created
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="API clients").click()
    page.get_by_role("button", name="New client").click()
    form = page.get_by_role("form", name="New client")
    form.get_by_label("Name").fill("deployer")
    form.get_by_label("cron.trigger", exact=True).check()
    form.get_by_role("button", name="Create client").click()
    # then its secret is shown once, with a copy button and the warning, and it is the client's secret
    shown = page.get_by_role("region", name="Client secret")
    expect(shown).to_contain_text("shown this once")
    secret = shown.get_by_label("Client secret").input_value()
    client = Client.objects.get(name="deployer")
    assert client.secret_matches(secret) and client.roles == ["cron.trigger"]
    shown.get_by_role("button", name="Copy secret").click()
    expect(shown.get_by_role("status")).to_have_text(re.compile("Copied|Selected"))
    # and after a reload it is gone, from the page and from the API's answers
    page.reload()
    expect(page.get_by_role("row", name=re.compile(r"deployer"))).to_be_visible()
    expect(page.get_by_role("region", name="Client secret")).to_have_count(0)
    assert secret not in page.content()
    assert secret not in page.request.get(f"{page.base_url}/api/clients").text()

    # when the administrator gives vera a role and the group
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Users").click()
    page.get_by_role("button", name="Edit user vera").click()
    form = page.get_by_role("form", name=re.compile("Edit user vera"))
    form.get_by_label(roles.GROUP_PIPELINES_VIEWER, exact=True).check()
    form.get_by_label("team-a", exact=True).check()
    form.get_by_role("button", name="Save").click()
    # then the list and vera's account show them
    expect(page.get_by_role("row", name=re.compile(r"vera.*group\.pipelines\.viewer.*team-a"))).to_be_visible()
    account = account_of(vera)
    assert account.roles == [roles.GROUP_PIPELINES_VIEWER]
    assert [g.name for g in account.groups.all()] == ["team-a"]
    # and the audit trail holds one row per change, by the administrator
    assert [(e.action, e.actor) for e in AuditEntry.objects.order_by("at", "pk")] == [
        ("rbac.groups.create", "operator@example.com"),
        ("rbac.clients.create", "operator@example.com"),
        ("rbac.users.update", "operator@example.com"),
    ]


def pipeline_of_team_a(*members: tuple[str, str]) -> tuple[Build, Build]:
    """A pipeline of group team-a with a succeeded and a running build; each (username, role) a member."""
    group = Group.objects.create(name="team-a")
    pipeline = make_pipeline("api")
    pipeline.groups.set([group])
    succeeded = make_build(pipeline, status=RunStatus.SUCCEEDED)
    running = make_build(pipeline, status=RunStatus.RUNNING, branch="feature")
    for username, role in members:
        user = get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD)
        account = account_of(user)
        account.roles = [role]
        account.save()
        account.groups.set([group])
    return succeeded, running


def test_a_viewer_sees_release_and_cancel_disabled_with_the_reason(live_server: Any, transactional_db: Any) -> None:
    succeeded, running = pipeline_of_team_a(("vic", roles.GROUP_PIPELINES_VIEWER))
    with logged_in(live_server, "vic", "access-viewer") as page:
        page.goto(f"{live_server.url}/pipelines/github.com/acme/api/overview")
        release = page.get_by_role("button", name=f"Release {succeeded.build_version}")
        cancel = page.get_by_role("button", name=f"Cancel build {running.build_version}")
        expect(release).to_be_disabled()
        expect(cancel).to_be_disabled()
        expect(release).to_have_attribute("title", re.compile(r"^You may not release this pipeline: it needs"))
        expect(cancel).to_have_attribute("title", re.compile(r"^You may not cancel this build: it needs"))
        expect(page.get_by_text(re.compile("^You may not release this pipeline")).first).to_be_visible()
        # and no administration page is offered
        page.get_by_role("button", name="vic").click()
        expect(page.get_by_role("menuitem", name="Groups")).to_have_count(0)
        expect(page.get_by_role("menuitem", name="Log out")).to_be_visible()
    assert AuditEntry.objects.count() == 0


def test_an_operator_of_the_pipelines_group_may_release_and_cancel(live_server: Any, transactional_db: Any) -> None:
    succeeded, running = pipeline_of_team_a(("opal", roles.GROUP_PIPELINES_OPERATOR))
    with logged_in(live_server, "opal", "access-operator") as page:
        page.goto(f"{live_server.url}/pipelines/github.com/acme/api/overview")
        cancel = page.get_by_role("button", name=f"Cancel build {running.build_version}")
        expect(cancel).to_be_enabled()
        page.get_by_text("Release…", exact=True).first.click()
        expect(page.get_by_role("button", name=f"Release {succeeded.build_version}", exact=True)).to_be_enabled()
        expect(page.get_by_text(re.compile("^You may not"))).to_have_count(0)
        # and the server agrees: the cancel goes through
        page.on("dialog", lambda dialog: dialog.accept())
        cancel.click()
        expect(page.get_by_text(re.compile("cancel(ing|ed)", re.IGNORECASE)).first).to_be_visible()
    running.refresh_from_db()
    assert running.status in {RunStatus.CANCELING, RunStatus.CANCELED}
    assert [(e.action, e.actor) for e in AuditEntry.objects.all()] == [("ci.builds.cancel", "opal@example.com")]
