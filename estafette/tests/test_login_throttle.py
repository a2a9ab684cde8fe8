"""Failed logins are counted per client address and per username, over the API's and the admin's login alike."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from estafette.lib.login_throttle import client_address
from estafette.testing import PASSWORD, make_user, pass_login_cool_off

pytestmark = pytest.mark.django_db

LIMIT = 3
GUESSER = "127.0.0.9"


@pytest.fixture(autouse=True)
def _small_limit(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT  # the default is 10; each wrong password costs a password hash


def api_login(username: str, password: str, *, address: str = GUESSER, **headers: str) -> Any:
    client = APIClient(REMOTE_ADDR=address)
    return client.post("/api/auth/login", {"username": username, "password": password}, format="json", **headers)


def admin_login(username: str, password: str, *, address: str = GUESSER) -> Any:
    client = Client(REMOTE_ADDR=address)
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_it_refuses_a_guesser_past_the_limit_even_with_the_right_password_until_the_cool_off_passed(
    settings: Any,
) -> None:
    # given
    make_user("ann", staff=True)

    # when a guesser tries 40 wrong passwords, then the right one
    statuses = [api_login("ann", f"guess-{n}").status_code for n in range(40)]
    refused = api_login("ann", PASSWORD)

    # then the attempts past the limit, and the right password, are refused with 429 and Retry-After
    assert statuses == [400] * (LIMIT - 1) + [429] * (40 - LIMIT + 1)
    assert refused.status_code == 429
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert seconds - 5 <= int(refused["Retry-After"]) <= seconds
    assert refused.json() == {
        "code": "Too Many Requests",
        "message": f"too many failed logins: try again in {refused['Retry-After']} seconds",
    }
    # and the admin's login, the other door with the same passwords, is closed too
    through_admin = admin_login("ann", PASSWORD)
    assert through_admin.status_code == 429
    assert int(through_admin["Retry-After"]) > 0
    # and once the cool-off has passed the right password works again
    pass_login_cool_off()
    assert api_login("ann", PASSWORD).status_code == 200


def test_failures_at_the_admin_login_close_the_api_login_and_no_guess_is_kept() -> None:
    make_user("ann", staff=True)
    statuses = [admin_login("ann", f"guess-{n}").status_code for n in range(LIMIT + 1)]
    assert statuses == [200] * (LIMIT - 1) + [429, 429]  # the admin answers a wrong password with its form again
    assert api_login("ann", PASSWORD).status_code == 429
    # the counted failures keep the form's fields with the password masked, never a guessed password
    kept = " ".join(str(value) for row in AccessAttempt.objects.values() for value in row.values())
    assert "guess-" not in kept


def test_another_user_at_another_address_is_not_affected() -> None:
    # given a guesser locked out of ann's account
    make_user("ann")
    make_user("bob")
    for n in range(LIMIT):
        api_login("ann", f"guess-{n}")
    assert api_login("ann", PASSWORD).status_code == 429

    # when bob logs in from his own address
    response = api_login("bob", PASSWORD, address="127.0.0.2")

    # then
    assert response.status_code == 200
    assert response.json()["username"] == "bob"


def test_a_guesser_who_changes_address_on_every_attempt_is_refused_by_username() -> None:
    # given
    make_user("ann")
    make_user("bob")

    # when each guess comes from another address
    statuses = [api_login("ann", f"guess-{n}", address=f"127.0.1.{n}").status_code for n in range(LIMIT + 2)]

    # then ann's password login is closed from anywhere, and only hers
    assert statuses == [400] * (LIMIT - 1) + [429] * 3
    assert api_login("ann", PASSWORD, address="127.0.2.1").status_code == 429
    assert api_login("bob", PASSWORD, address="127.0.2.1").status_code == 200


def test_one_address_trying_every_username_is_refused_by_address() -> None:
    make_user("bob")
    statuses = [api_login(f"user{n}", "guess").status_code for n in range(LIMIT)]
    assert statuses == [400] * (LIMIT - 1) + [429]
    assert api_login("bob", PASSWORD).status_code == 429
    assert api_login("bob", PASSWORD, address="127.0.0.2").status_code == 200


def test_a_forged_x_forwarded_for_does_not_give_a_guesser_new_addresses() -> None:
    make_user("ann")
    statuses = [
        api_login(f"user{n}", "guess", HTTP_X_FORWARDED_FOR=f"127.0.3.{n}").status_code for n in range(LIMIT + 1)
    ]
    assert statuses == [400] * (LIMIT - 1) + [429, 429]


def test_the_client_address_comes_from_x_forwarded_for_only_behind_trusted_proxies(settings: Any) -> None:
    factory = RequestFactory()
    forged = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "127.6.6.6, 127.0.0.5"}

    assert client_address(factory.get("/", **forged)) == "127.0.0.1"

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_address(factory.get("/", **forged)) == "127.0.0.5"  # what the one trusted proxy appended
    assert client_address(factory.get("/", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1"
    assert client_address(factory.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="nonsense")) == "127.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_all_counted_and_answered(live_server: Any, settings: Any) -> None:
    # given a limit the burst stays under, so every failure must be counted for the next attempt to be refused
    settings.AXES_FAILURE_LIMIT = 13
    make_user("ann")

    def guess(n: int) -> int:
        body = json.dumps({"username": "ann", "password": f"guess-{n}"}).encode()
        request = urllib.request.Request(
            f"{live_server.url}/api/auth/login", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    # when 12 wrong passwords arrive at once (racing writes of one row: SQLSTATE 40001 on PostgreSQL and CockroachDB)
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(guess, range(12)))

    # then each is answered as a wrong password (no 500), and all 12 were counted: the 13th failure locks
    assert statuses == [400] * 12
    assert guess(12) == 429
