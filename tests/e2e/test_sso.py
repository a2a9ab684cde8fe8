"""Logging in through a real OpenID Connect provider, in Chromium: the login page's provider button, the provider's
own login and consent pages (oidc-provider, run by tests/tooling/oidc.py), and back in the web UI as that user, made
on this first login, with the roles of the organization whose provider it is. No OAuth response is mocked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from estafette.access import roles
from estafette.access.config import auth_config_from_dict
from estafette.access.models import Identity, Organization
from tests.e2e.conftest import ARTIFACTS
from tests.tooling.browser import browser_context
from tests.tooling.oidc import OidcProvider, oidc_provider


@pytest.fixture
def provider(live_server: Any, settings: Any) -> Iterator[OidcProvider]:
    callback = f"{live_server.url}/api/auth/handle/corp"
    with oidc_provider(redirect_uris=[callback], log=ARTIFACTS / "oidc-provider.log") as running:
        settings.AUTH = auth_config_from_dict(
            {
                "organizations": [
                    {
                        "name": "acme",
                        "oauthProviders": [
                            {
                                "name": "corp",
                                "displayName": "Corp SSO",
                                "issuer": running.issuer,
                                "clientID": running.client_id,
                                "clientSecret": running.client_secret,
                                "allowedIdentitiesRegex": r".+@example\.com",
                            }
                        ],
                    }
                ]
            },
            where="test",
        )
        yield running


def test_a_user_logs_in_through_the_identity_provider_and_comes_back_with_the_organizations_roles(
    live_server: Any, provider: OidcProvider, transactional_db: Any
) -> None:
    Organization.objects.create(name="acme", roles=[roles.ORGANIZATION_PIPELINES_OPERATOR])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser_context() as context:
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            # when: the provider's button on the login page, then the provider's own pages
            page.goto(f"{live_server.url}/login?returnUrl=/builds")
            page.get_by_role("link", name="Log in with Corp SSO (acme)").click()
            page.wait_for_url(re.compile(re.escape(provider.issuer)))
            page.locator("input[name=login]").fill("dora")
            page.locator("input[name=password]").fill("any password")
            page.locator("button[type=submit]").click()
            page.wait_for_url(re.compile(re.escape(provider.issuer) + "|" + re.escape(live_server.url)))
            if page.url.startswith(provider.issuer):  # the provider asks to consent
                page.locator("button[type=submit]").click()
            page.wait_for_url(re.compile(re.escape(live_server.url) + r"/builds"))

            # then: signed in as dora, with acme's role, the identity kept
            page.get_by_role("button", name=re.compile("dora|Test dora")).click()
            menu = page.get_by_role("menu", name="User menu")
            assert "organization.pipelines.operator" in menu.inner_text()
            me = page.request.get(f"{live_server.url}/api/me").json()
        finally:
            page.screenshot(path=str(ARTIFACTS / "sso-login.png"), full_page=True)
    assert me["email"] == "dora@example.com"
    assert me["roles"] == ["organization.pipelines.operator"]
    assert [o["name"] for o in me["organizations"]] == ["acme"]
    assert (me["currentProvider"], me["currentOrganization"]) == ("corp", "acme")
    assert me["identities"] == [
        {
            "provider": "corp",
            "id": "dora",
            "email": "dora@example.com",
            "name": "Test dora",
            "avatar": "https://avatars.example.com/dora.png",
        }
    ]
    assert Identity.objects.filter(provider="corp", subject="dora").count() == 1
