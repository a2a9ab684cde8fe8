"""CSRF in the pair Estafette's web UI (axios) sends: the ``XSRF-TOKEN`` cookie echoed as ``X-XSRF-TOKEN``
(``estafette.lib.xsrf``). Each attack is a session-authenticated POST a hostile page or sibling site could make; the
real middleware stack and DRF's session check answer it, with CSRF checks enforced as a browser meets them."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from estafette.lib.xsrf import COOKIE
from estafette.testing import PASSWORD, make_user

ENCRYPT = "/api/manifest/encrypt"
BODY = {"value": "hunter2", "pipelineAllowList": "github.com/acme/api"}


@pytest.fixture
def browser(db: Any) -> APIClient:
    """A browser signed in by the login form: it holds the session, Django's CSRF cookie and XSRF-TOKEN."""
    make_user("ann", staff=True)  # encrypting for any pipeline needs an administrator (estafette/policy.py)
    client = APIClient(enforce_csrf_checks=True)
    assert client.post("/api/auth/login", {"username": "ann", "password": PASSWORD}, format="json").status_code == 200
    assert client.cookies[COOKIE].value == client.cookies[settings.CSRF_COOKIE_NAME].value
    assert not client.cookies[COOKIE]["httponly"]  # the UI's script must read it
    return client


def test_the_uis_pair_is_accepted(browser: APIClient) -> None:
    # when the UI echoes the cookie as its header
    answer = browser.post(ENCRYPT, BODY, format="json", HTTP_X_XSRF_TOKEN=browser.cookies[COOKIE].value)
    # then the session's action is done
    assert answer.status_code == 200, answer.json()
    assert answer.json()["secret"].startswith("estafette.secret(")


def test_djangos_own_pair_still_works(browser: APIClient) -> None:
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    assert browser.post(ENCRYPT, BODY, format="json", HTTP_X_CSRFTOKEN=token).status_code == 200


def test_a_cross_site_post_without_the_header_is_refused(browser: APIClient) -> None:
    # attack: a hostile page posts with the victim's cookies but cannot read them to set the header
    answer = browser.post(ENCRYPT, BODY, format="json")
    # outcome: 403, nothing encrypted
    assert answer.status_code == 403
    assert "CSRF" in answer.json()["message"]


def test_a_header_that_is_not_the_cookie_is_refused(browser: APIClient) -> None:
    # attack: a guessed token in the header
    answer = browser.post(ENCRYPT, BODY, format="json", HTTP_X_XSRF_TOKEN="a" * 32)
    assert answer.status_code == 403


def test_a_planted_cookie_with_its_own_header_is_refused(browser: APIClient) -> None:
    # attack: a sibling site sets XSRF-TOKEN to a value it knows and sends the same value as the header
    planted = "b" * 32
    browser.cookies[COOKIE] = planted
    answer = browser.post(ENCRYPT, BODY, format="json", HTTP_X_XSRF_TOKEN=planted)
    # outcome: refused, since the pair must also be Django's own secret (the csrftoken cookie)
    assert answer.status_code == 403


def test_a_header_from_another_session_is_refused(browser: APIClient, db: Any) -> None:
    # attack: the attacker's own valid token, sent with the victim's cookies
    make_user("mallory")
    attacker = APIClient(enforce_csrf_checks=True)
    attacker.post("/api/auth/login", {"username": "mallory", "password": PASSWORD}, format="json")
    stolen = attacker.cookies[COOKIE].value
    assert stolen != browser.cookies[COOKIE].value
    answer = browser.post(ENCRYPT, BODY, format="json", HTTP_X_XSRF_TOKEN=stolen)
    assert answer.status_code == 403
