"""What a new user hit in the web UI, against the real server in headless Chromium (issue 15, Deliver 5)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from builds.services import build_finish
from builds.testing import make_build, make_pipeline
from runs.models import RunStatus
from runs.tail import hub
from runs.testing import DjangoBuilderApi
from tests.e2e.test_ui import report_lines
from tests.tooling.waiting import wait_until


def test_a_followed_live_log_shows_its_newest_line_in_a_900_pixel_tall_window(page: Any) -> None:
    # given a running build with a long log, in a laptop-sized window
    page.set_viewport_size({"width": 1280, "height": 900})
    build = make_build(make_pipeline("api"), status=RunStatus.RUNNING, commits=[{"message": "Speed up the tests"}])
    builder = DjangoBuilderApi(base_url=page.base_url, run=build)
    report_lines(builder, seq=1, texts=[f"test {n} passed" for n in range(1, 201)], status="RUNNING")
    try:
        # when its page is opened (a running build's log is followed)
        page.goto(f"{page.base_url}/pipelines/github.com/acme/api/builds/{build.pk}")
        # then the newest line is on screen without scrolling the page, and so is the whole log viewport
        expect(page.get_by_text("test 200 passed", exact=True)).to_be_in_viewport()
        viewport = page.get_by_role("log", name="Log lines")
        box = viewport.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, box
        assert box["height"] >= 256, box
    finally:
        build_finish(build=build, status=RunStatus.FAILED)
        wait_until(lambda: hub.open_tails == 0, timeout=15, what="the page's live tail to close")
