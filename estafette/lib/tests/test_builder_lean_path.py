"""The builder's reports take the lean path of the WSGI application (``estafette/wsgi.py``): none of the session,
CSRF, message or login-throttle middleware, and still the job token and the policy table."""

from __future__ import annotations

import io
import itertools
import json
import os
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.test import override_settings


def call(application: Any, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[str, dict, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(body),
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    setup_testing_defaults(environ)
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, dict(response_headers)

    content = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], content


@pytest.fixture
def wsgi() -> Any:
    # Importing the WSGI entry point sets the server's private umask (0o077) on this whole process: put the test
    # session's back, or every file a later test makes (the repositories sandboxed builds clone) is unreadable to the
    # build's own uid.
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        with override_settings(OUTBOX_RELAY_IN_PROCESS=False):  # no relay thread for an import in a test
            import estafette.wsgi
    finally:
        os.umask(umask)
    return estafette.wsgi


def test_the_lean_chain_is_the_configured_one_and_shorter_than_djangos(wsgi: Any) -> None:
    assert "django.contrib.sessions.middleware.SessionMiddleware" in settings.MIDDLEWARE
    assert not {
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    } & set(settings.BUILDER_MIDDLEWARE)
    assert set(settings.BUILDER_MIDDLEWARE) <= set(settings.MIDDLEWARE)


@pytest.mark.django_db
def test_a_report_without_its_job_token_is_refused_on_the_lean_path_session_cookie_or_not(wsgi: Any) -> None:
    body = json.dumps({"status": "running"}).encode()
    attempts = itertools.product(
        ("status", "end"),
        ({}, {"cookie": f"{settings.SESSION_COOKIE_NAME}=whatever"}, {"authorization": "Bearer forged"}),
    )
    for route, headers in attempts:
        status, response_headers, content = call(
            wsgi.application, "POST", f"/api/builder/v1/build/1/{route}", body, **headers
        )
        assert status.startswith("401"), (headers, status, content)
        assert set(json.loads(content)) == {"code", "message"}
        assert "Cookie" not in response_headers.get("Vary", "")  # no session middleware looked at it
        assert "X-Request-Id" in response_headers or "X-Request-ID" in response_headers


@pytest.mark.django_db
def test_other_requests_still_take_djangos_whole_chain(wsgi: Any) -> None:
    _, response_headers, _ = call(wsgi.application, "GET", "/api/pipelines")
    assert "X-Frame-Options" in response_headers  # the clickjacking middleware, which the lean path leaves out
    _, response_headers, _ = call(wsgi.application, "POST", "/api/builder/v1/build/1/logs", b"{}")
    assert "X-Frame-Options" not in response_headers
