import pytest
from rest_framework.test import APIClient

from estafette.apitokens.services import api_token_create
from estafette.testing import PASSWORD, client_for, make_user


@pytest.mark.django_db
def test_it_logs_in_with_a_session_and_out_again() -> None:
    # given
    make_user("ann", staff=True)
    client = APIClient(enforce_csrf_checks=True)

    # when
    login = client.post("/api/auth/login", {"username": "ann", "password": PASSWORD}, format="json")
    me = client.get("/api/me")
    csrf = client.cookies["csrftoken"].value
    logout = client.post("/api/auth/logout", HTTP_X_CSRFTOKEN=csrf)
    after = client.get("/api/me")

    # then
    assert login.status_code == 200
    assert login.json()["username"] == "ann"
    assert me.status_code == 200
    assert me.json()["email"] == "ann@example.com"
    assert me.json()["roles"] == ["administrator"]
    assert me.json()["identities"] == [
        {"provider": "local", "id": me.json()["id"], "email": "ann@example.com", "name": "ann", "avatar": ""}
    ]
    assert logout.status_code == 204
    assert after.status_code == 401


@pytest.mark.django_db
def test_it_refuses_a_wrong_password_without_saying_which_part_was_wrong() -> None:
    make_user("ann")
    response = APIClient().post("/api/auth/login", {"username": "ann", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "Bad Request", "message": "unknown username or wrong password"}


@pytest.mark.django_db
def test_it_needs_a_csrf_token_for_session_mutations() -> None:
    user = make_user("ann")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/auth/logout")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


@pytest.mark.django_db
def test_it_accepts_api_tokens() -> None:
    user = make_user("robot")
    _, key = api_token_create(user=user)
    client = APIClient()

    with_token = client.get("/api/me", HTTP_AUTHORIZATION=f"Token {key}")
    bad_token = client.get("/api/me", HTTP_AUTHORIZATION="Token not-a-token")
    nothing = client_for(None).get("/api/me")

    assert with_token.json()["username"] == "robot"
    assert bad_token.status_code == 401
    assert nothing.status_code == 401
    assert nothing["WWW-Authenticate"] == "Token"
