"""Logging in with GitHub (OAuth 2 and its REST API, no OpenID Connect) and Microsoft (OpenID Connect with a tenant in
its issuer) against local fakes of their endpoints (tests/tooling/login_providers.py: GitHub's answers are
``@octokit/openapi``'s examples, validated against its schemas), and the attacks on that flow: a callback whose state
was not issued to this browser, a code stolen from another login (PKCE), an unverified email, an ID token of another
tenant or issuer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from estafette.access.config import auth_config_from_dict
from estafette.access.models import Identity
from estafette.access.sso import github_api_url, issuer_check
from tests.tooling.login_providers import (
    FakeGitHubLogin,
    FakeMicrosoftLogin,
    GitHubUser,
    MicrosoftUser,
    running,
)

pytestmark = pytest.mark.django_db


def begin(browser: Client, provider: str) -> str:
    """The browser opens the login route; the provider's authorization URL it is sent to."""
    answer = browser.get(f"/api/auth/login/{provider}", {"returnURL": "/builds"})
    assert answer.status_code == 302, answer.content
    return answer["Location"]


def back(browser: Client, location: str) -> Any:
    """The browser follows the provider's redirect back to this site."""
    parts = urlsplit(location)
    return browser.get(f"{parts.path}?{parts.query}")


def signed_in_as(browser: Client) -> str | None:
    me = browser.get("/api/me")
    return me.json()["email"] if me.status_code == 200 else None


def refused(answer: Any) -> str:
    assert answer.status_code == 302 and answer["Location"].startswith("/login?error="), answer
    return parse_qs(urlsplit(answer["Location"]).query)["error"][0]


# -- GitHub ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def github(settings: Any) -> Iterator[FakeGitHubLogin]:
    with running(FakeGitHubLogin(GitHubUser())) as fake:
        settings.AUTH = auth_config_from_dict(
            {"github": {"clientID": fake.client_id, "clientSecret": fake.client_secret, "issuer": fake.url}},
            where="test",
        )
        yield fake
    assert fake.violations == []


def test_github_signs_a_user_in_with_the_primary_verified_email_and_keeps_the_identity(
    github: FakeGitHubLogin,
) -> None:
    browser = Client()

    authorize = begin(browser, "github")
    query = parse_qs(urlsplit(authorize).query)
    answer = back(browser, github.authorize(authorize))

    # the authorization asked for a code with PKCE (S256) and a state; GitHub's scopes for a user and their emails
    assert authorize.startswith(f"{github.url}/login/oauth/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["state"][0] and query["response_type"] == ["code"]
    assert query["scope"] == ["read:user user:email"]
    # then the user is signed in, back where they started, as GitHub's user API describes them
    assert answer.status_code == 302 and answer["Location"] == "/builds"
    assert signed_in_as(browser) == "octocat@example.com"
    assert github.api_requests == ["GET /user", "GET /user/emails"]
    identity = Identity.objects.get()
    assert (identity.provider, identity.subject, identity.email, identity.name) == (
        "github",
        "583231",
        "octocat@example.com",
        "The Octocat",
    )
    assert identity.avatar == "https://avatars.githubusercontent.com/u/583231?v=4"


def test_github_callback_with_a_state_not_issued_to_this_browser_signs_nobody_in(github: FakeGitHubLogin) -> None:
    victim, attacker = Client(), Client()
    # the attacker starts a login and gets a code for their own GitHub account…
    location = github.authorize(begin(attacker, "github"))

    # …and makes the victim's browser open the callback (login CSRF): the victim's session issued no such state
    answer = back(victim, location)

    assert "not started here" in refused(answer)
    assert signed_in_as(victim) is None and get_user_model().objects.count() == 0


def test_github_code_of_another_login_fails_the_pkce_check(github: FakeGitHubLogin) -> None:
    victim, attacker = Client(), Client()
    stolen = parse_qs(urlsplit(github.authorize(begin(victim, "github"))).query)["code"][0]
    # the attacker replays the victim's code in a login of their own (their state, their code_verifier)
    own = parse_qs(urlsplit(github.authorize(begin(attacker, "github"))).query)
    answer = attacker.get("/api/auth/handle/github", {"code": stolen, "state": own["state"][0]})

    assert "refused" in refused(answer)
    assert signed_in_as(attacker) is None and get_user_model().objects.count() == 0


def test_github_account_whose_primary_email_is_unverified_is_refused(settings: Any) -> None:
    with running(FakeGitHubLogin(GitHubUser(email="ceo@example.com", verified=False))) as fake:
        settings.AUTH = auth_config_from_dict(
            {"github": {"clientID": fake.client_id, "clientSecret": fake.client_secret, "issuer": fake.url}},
            where="test",
        )
        browser = Client()
        answer = back(browser, fake.authorize(begin(browser, "github")))
    assert fake.violations == []
    assert "without a verified email" in refused(answer)
    assert signed_in_as(browser) is None


# -- Microsoft ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def microsoft_user() -> MicrosoftUser:
    return MicrosoftUser()


@pytest.fixture
def microsoft(microsoft_user: MicrosoftUser) -> Iterator[FakeMicrosoftLogin]:
    with running(FakeMicrosoftLogin(microsoft_user)) as fake:
        yield fake


def configure_microsoft(settings: Any, fake: FakeMicrosoftLogin, tenant: str) -> None:
    settings.AUTH = auth_config_from_dict(
        {
            "microsoft": {
                "clientID": fake.client_id,
                "clientSecret": fake.client_secret,
                "tenant": tenant,
                "issuer": fake.issuer(tenant),
                "allowedIdentitiesRegex": r".+@example\.com",
            }
        },
        where="test",
    )


def test_microsoft_multi_tenant_login_checks_the_issuer_with_the_tokens_tenant(
    settings: Any, microsoft: FakeMicrosoftLogin, microsoft_user: MicrosoftUser
) -> None:
    configure_microsoft(settings, microsoft, "organizations")
    browser = Client()

    authorize = begin(browser, "microsoft")
    answer = back(browser, microsoft.authorize(authorize))

    assert authorize.startswith(f"{microsoft.url}/organizations/oauth2/v2.0/authorize?")
    assert parse_qs(urlsplit(authorize).query)["code_challenge_method"] == ["S256"]
    assert answer.status_code == 302 and answer["Location"] == "/builds"
    assert signed_in_as(browser) == "megan@example.com"
    identity = Identity.objects.get()
    assert (identity.provider, identity.email, identity.name) == ("microsoft", "megan@example.com", "Megan Bowen")


def test_microsoft_token_whose_issuer_names_another_tenant_is_refused(
    settings: Any, microsoft: FakeMicrosoftLogin
) -> None:
    configure_microsoft(settings, microsoft, "organizations")
    # the ID token says tid = the user's tenant, but was issued by (iss) another tenant's endpoint
    microsoft.iss_tenant = "00000000-0000-0000-0000-000000000bad"
    browser = Client()

    answer = back(browser, microsoft.authorize(begin(browser, "microsoft")))

    assert "did not verify" in refused(answer)
    assert signed_in_as(browser) is None and get_user_model().objects.count() == 0


def test_microsoft_single_tenant_refuses_a_user_of_another_tenant(settings: Any, microsoft: FakeMicrosoftLogin) -> None:
    # configured for our tenant; the user (and their token) belong to another one
    configure_microsoft(settings, microsoft, "11111111-2222-3333-4444-555555555555")
    browser = Client()

    answer = back(browser, microsoft.authorize(begin(browser, "microsoft")))

    assert "did not verify" in refused(answer)
    assert signed_in_as(browser) is None


def test_microsoft_multi_tenant_email_not_verified_for_the_tenant_cannot_take_over_an_account(
    settings: Any,
) -> None:
    # "nOAuth": in a tenant of their own, an attacker sets their email claim to an administrator's address
    administrator = get_user_model().objects.create_user("ada", "ada@example.com", "pw", is_staff=True)
    attacker = MicrosoftUser(email="ada@example.com", email_domain_verified=None)
    with running(FakeMicrosoftLogin(attacker)) as fake:
        configure_microsoft(settings, fake, "organizations")
        browser = Client()
        answer = back(browser, fake.authorize(begin(browser, "microsoft")))

    assert "without a verified email" in refused(answer)
    assert signed_in_as(browser) is None
    assert not Identity.objects.filter(user=administrator).exists()


def test_microsoft_single_tenant_trusts_its_own_tenants_email(settings: Any) -> None:
    # the tenant named in the configuration is the installation's own: its administrators set its users' emails
    user = MicrosoftUser(email_domain_verified=None)
    with running(FakeMicrosoftLogin(user)) as fake:
        configure_microsoft(settings, fake, user.tenant)
        browser = Client()
        answer = back(browser, fake.authorize(begin(browser, "microsoft")))

    assert answer.status_code == 302 and answer["Location"] == "/builds"
    assert signed_in_as(browser) == "megan@example.com"


def test_microsoft_callback_with_a_foreign_state_or_a_stolen_code_signs_nobody_in(
    settings: Any, microsoft: FakeMicrosoftLogin
) -> None:
    configure_microsoft(settings, microsoft, "organizations")
    victim, attacker = Client(), Client()

    # login CSRF: the attacker's callback opened in the victim's browser
    csrf = back(victim, microsoft.authorize(begin(attacker, "microsoft")))
    # code injection: the victim's code replayed in the attacker's own login (PKCE: another code_verifier)
    stolen = parse_qs(urlsplit(microsoft.authorize(begin(victim, "microsoft"))).query)["code"][0]
    own = parse_qs(urlsplit(microsoft.authorize(begin(attacker, "microsoft"))).query)
    injected = attacker.get("/api/auth/handle/microsoft", {"code": stolen, "state": own["state"][0]})

    assert "not started here" in refused(csrf)
    assert "invalid_grant" in refused(injected)
    assert signed_in_as(victim) is None and signed_in_as(attacker) is None
    assert get_user_model().objects.count() == 0


# -- the configuration and the issuer rule, without a provider ---------------------------------------------------------


def test_github_is_github_com_unless_an_enterprise_server_is_named() -> None:
    def provider(item: dict[str, str]) -> Any:
        return auth_config_from_dict({"github": {"clientID": "id", "clientSecret": "s", **item}}, where="t").providers[
            0
        ]

    assert (provider({}).issuer, github_api_url(provider({}).issuer)) == (
        "https://github.com",
        "https://api.github.com/",
    )
    enterprise = provider({"issuer": "https://ghe.example.com/"})
    assert github_api_url(enterprise.issuer) == "https://ghe.example.com/api/v3/"
    with pytest.raises(ImproperlyConfigured, match="issuer URL"):
        provider({"issuer": "ghe.example.com"})


class Metadata:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def load_server_metadata(self) -> dict[str, str]:
        return {"issuer": self.issuer}


MICROSOFT = "https://login.microsoftonline.com"
OURS = "9188040d-6c67-4c5b-b112-36a304b66dad"
THEIRS = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(
    ("iss", "tid", "accepted"),
    [
        (f"{MICROSOFT}/{OURS}/v2.0", OURS, True),
        # the issuer of another tenant than the token's own
        (f"{MICROSOFT}/{THEIRS}/v2.0", OURS, False),
        # a tenant claim that is no tenant id, crafted to complete the template into another issuer
        (f"{MICROSOFT}/x/v2.0", "x", False),
        (f"{MICROSOFT}/{{tenantid}}/v2.0", "", False),
    ],
)
def test_a_templated_issuer_is_filled_with_the_tokens_tenant_only(iss: str, tid: str, accepted: bool) -> None:
    check = issuer_check(Metadata("https://login.microsoftonline.com/{tenantid}/v2.0"))["iss"]["validate"]
    assert check({"tid": tid}, iss) is accepted


def test_a_plain_issuer_is_compared_exactly() -> None:
    check = issuer_check(Metadata("https://sso.example.com"))["iss"]["validate"]
    assert check({}, "https://sso.example.com") is True
    assert check({"tid": "anything"}, "https://sso.example.com/") is False
