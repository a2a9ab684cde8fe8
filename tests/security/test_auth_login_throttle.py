"""Password guessing against the running system: ``POST /api/auth/login`` and the admin's ``/admin/login/``.

The attack of issue 10: 40 wrong passwords, then the right one, which used to log in. The Procfile's gunicorn runs 2
workers, so a count kept in one process's memory would let the guesser through the other: the count is in the
database, and the exact sequence of answers below shows it held across both workers.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from typing import Any

import pytest

from estafette.testing import PASSWORD, make_user, pass_login_cool_off
from tests.harness.system import System

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

LIMIT = 10  # ESTAFETTE_LOGIN_FAILURE_LIMIT's default, which the system runs with


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.text = response.read().decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.text)


def request(
    system: System,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    """One request on a new connection (so the kernel hands it to either gunicorn worker), from ``source``: any
    address of the loopback network reaches the server, each seen as a client of its own."""
    parts = urllib.parse.urlsplit(system.processes.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        return Answer(connection.getresponse())
    finally:
        connection.close()


def api_login(system: System, username: str, password: str, *, source: str = "127.0.0.1", **headers: str) -> Answer:
    body = json.dumps({"username": username, "password": password}).encode()
    return request(
        system,
        "POST",
        "/api/auth/login",
        body=body,
        headers={"Content-Type": "application/json", **headers},
        source=source,
    )


def admin_login(system: System, username: str, password: str, *, source: str = "127.0.0.1") -> Answer:
    """The admin's login form as a browser sends it (with its CSRF cookie and token)."""
    form = request(system, "GET", "/admin/login/", source=source)
    assert form.status == 200, form.text[:500]
    cookie = re.search(r"csrftoken=([^;]+)", form.headers["Set-Cookie"]).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"}
    ).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookie}"}
    return request(system, "POST", "/admin/login/?next=/admin/", body=body, headers=headers, source=source)


def test_40_wrong_passwords_then_the_right_one_is_refused_until_the_cool_off_passed(system: System) -> None:
    # given an administrator, and bob
    make_user("admin", staff=True)
    make_user("bob")

    # when a guesser tries 40 wrong passwords for the administrator, then the right one
    statuses = [api_login(system, "admin", f"guess-{n}").status for n in range(40)]
    right = api_login(system, "admin", PASSWORD)

    # then every attempt from the limit on is refused, the right password too, with Estafette's error and Retry-After
    assert statuses == [400] * (LIMIT - 1) + [429] * (40 - LIMIT + 1), system.diagnostics()
    assert right.status == 429
    assert 800 <= int(right.headers["Retry-After"]) <= 900
    assert right.json() == {
        "code": "Too Many Requests",
        "message": f"too many failed logins: try again in {right.headers['Retry-After']} seconds",
    }
    # and the admin's login, the second door with the same passwords, is closed as well
    admin = admin_login(system, "admin", PASSWORD)
    assert admin.status == 429, admin.text[:500]
    assert int(admin.headers["Retry-After"]) > 0
    # and changing address does not reopen the account (a guesser who rotates addresses)
    assert api_login(system, "admin", PASSWORD, source="127.0.0.3").status == 429
    # and another user at another address is not affected
    bob = api_login(system, "bob", PASSWORD, source="127.0.0.2")
    assert bob.status == 200, bob.text
    assert bob.json()["username"] == "bob"

    # when the cool-off has passed (the failures are moved back in time: the test does not wait 15 minutes)
    pass_login_cool_off()

    # then the right password logs in, at either door
    assert api_login(system, "admin", PASSWORD).status == 200
    assert admin_login(system, "admin", PASSWORD).status == 302


def test_a_forged_x_forwarded_for_does_not_give_a_guesser_fresh_addresses(system: System) -> None:
    # when one client sprays usernames, claiming another address in X-Forwarded-For each time
    statuses = [
        api_login(system, f"user{n}", "guess", **{"X-Forwarded-For": f"127.0.4.{n}"}).status for n in range(LIMIT + 2)
    ]

    # then its failures are counted under the address it connects from
    assert statuses == [400] * (LIMIT - 1) + [429] * 3
    assert api_login(system, "ann", PASSWORD, **{"X-Forwarded-For": "127.0.4.200"}).status == 429
    assert api_login(system, "ann", PASSWORD, source="127.0.0.5").status == 200
