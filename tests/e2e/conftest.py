"""End-to-end fixtures: the real server over HTTP, the built web UI, and headless Chromium.

The server is Django's live server (real HTTP, real WhiteNoise serving ``frontend/dist``, the real
API) on the test database; data is put in place through the same services the API uses. Screenshots
go to ``test-artifacts/e2e/`` so a failing run can be looked at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from tests.tooling.browser import browser_context

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "e2e"
PASSWORD = "correct horse battery staple"

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make between
# browser steps are ordinary blocking calls on that same thread, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def _built_ui() -> None:
    index = Path(settings.FRONTEND_DIST) / "index.html"
    if not index.exists():
        pytest.fail("the web UI is not built: run `make frontend` (make test-e2e does) before the e2e tests")


@pytest.fixture
def operator(transactional_db: Any) -> Any:
    # An administrator: these tests drive every command of the UI (who may do what has its own tests: estafette/access).
    return get_user_model().objects.create_user("operator", "operator@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def page(live_server: Any, operator: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A logged-in browser page; a screenshot of its last state is kept per test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with browser_context() as context:
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.base_url = live_server.url  # type: ignore[attr-defined]
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Username").fill("operator")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name=re.compile("log in", re.IGNORECASE)).click()
        page.wait_for_url(re.compile(r"/pipelines"))
        try:
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
