"""Attacks on identity and access: privilege escalation, forged and expired client tokens, an inactive client, an
open redirect through returnURL, and a login callback whose state was not issued here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from estafette.access import tokens
from estafette.access.models import Client
from estafette.access.services import client_create
from estafette.access.sso import safe_return_url
from estafette.lib.jobtokens import issue_job_token
from estafette.testing import client_for, make_user

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_a_user_cannot_give_themselves_a_role() -> None:
    user = make_user("mallory")
    api = client_for(user)

    own = api.put(f"/api/users/{user.pk}", {"roles": ["administrator"]}, format="json")
    batch = api.post(
        "/api/admin/batch/users", {"users": [str(user.pk)], "rolesToAdd": ["administrator"]}, format="json"
    )
    group = api.post("/api/groups", {"name": "admins", "roles": ["administrator"]}, format="json")

    assert (own.status_code, batch.status_code, group.status_code) == (403, 403, 403)
    assert api.get("/api/me").json()["roles"] == []


def test_a_user_admin_cannot_reach_the_pipelines_or_the_audit_trail() -> None:
    from estafette.access.services import account_of

    user = make_user("ursula")
    account = account_of(user)
    account.roles = ["user.admin"]
    account.save()
    api = client_for(user)

    assert api.get("/api/users").status_code == 200
    assert api.get("/api/audit").status_code == 403
    assert api.put("/api/admin/pipelines/github.com/acme/api", {}, format="json").status_code == 403
    assert api.post("/api/clients", {"name": "x"}, format="json").status_code == 403


def client_and_claims() -> tuple[Client, dict[str, Any]]:
    client, _ = client_create(name="deployer", roles=["administrator"])
    now = timezone.now()
    claims = {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": client.client_id,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return client, claims


def test_a_client_token_signed_with_another_key_is_refused() -> None:
    _, claims = client_and_claims()
    forged = jwt.encode(claims, "guessed-key-of-at-least-32-bytes-long", algorithm="HS256")

    answer = bearer(forged).get("/api/users")

    assert answer.status_code == 401 and answer.json()["message"] == "Invalid client token."


def test_an_unsigned_client_token_is_refused() -> None:
    _, claims = client_and_claims()
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]

    assert bearer(unsigned).get("/api/users").status_code == 401


def test_an_expired_client_token_is_refused() -> None:
    _, claims = client_and_claims()
    claims |= {"iat": timezone.now() - timedelta(hours=2), "exp": timezone.now() - timedelta(hours=1)}
    expired = jwt.encode(claims, tokens._key(), algorithm="HS256")

    answer = bearer(expired).get("/api/users")

    assert answer.status_code == 401 and "expired" in answer.json()["message"]


def test_a_job_token_is_no_client_token() -> None:
    job = issue_job_token(kind="build", run_id=1)

    assert bearer(job).get("/api/pipelines").status_code == 401
    assert bearer(job).delete("/api/pipelines/github.com/acme/api/builds/1").status_code == 401


def test_an_inactive_client_can_neither_log_in_nor_use_its_token() -> None:
    client, secret = client_create(name="retired", roles=["administrator"])
    token, _ = tokens.client_token_issue(client=client)
    Client.objects.filter(pk=client.pk).update(active=False)

    login = client_for().post("/api/auth/client/login", {"clientID": client.client_id, "clientSecret": secret})
    use = bearer(token).get("/api/users")

    assert login.status_code == 401
    assert use.status_code == 401 and "inactive" in use.json()["message"]


def test_a_wrong_client_secret_says_nothing_about_the_client() -> None:
    client, _ = client_create(name="deployer", roles=[])

    wrong = client_for().post("/api/auth/client/login", {"clientID": client.client_id, "clientSecret": "guess"})
    unknown = client_for().post("/api/auth/client/login", {"clientID": "nope", "clientSecret": "guess"})

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "https:evil.example", "javascript:alert(1)", ""],
)
def test_return_url_never_leaves_the_site(target: str) -> None:
    assert safe_return_url(target) == "/"


def test_return_url_keeps_a_path_of_the_site() -> None:
    assert (
        safe_return_url("/pipelines/github.com/acme/api/overview?x=1") == "/pipelines/github.com/acme/api/overview?x=1"
    )


def test_a_login_callback_with_a_state_not_issued_here_signs_nobody_in() -> None:
    api = client_for()

    answer = api.get("/api/auth/handle/corp?code=stolen&state=made-up")

    assert answer.status_code == 302 and answer["Location"].startswith("/login?error=")
    assert api.get("/api/me").status_code == 401
