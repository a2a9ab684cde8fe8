"""The web UI against the real server in headless Chromium: the journeys an operator takes."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import expect

from builder.contracts import LogBatch, LogLine, TailLogLine
from builds.models import Build
from builds.services import build_finish
from builds.testing import make_build, make_pipeline
from estafette.access.models import AuditEntry
from releases.models import BotRun, Release
from releases.services import bot_create
from runs.models import RunStatus
from runs.tail import hub
from runs.testing import DjangoBuilderApi
from tests.tooling.waiting import wait_until


def test_it_lists_pipelines_with_their_status(page: Any) -> None:
    # given two pipelines, one green and one red
    make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    make_build(make_pipeline("web"), status=RunStatus.FAILED)
    # when the pipelines page is opened
    page.goto(f"{page.base_url}/pipelines")
    # then both are listed, and filtering by status narrows the list
    expect(page.get_by_role("link", name="acme/api", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="acme/web", exact=True)).to_be_visible()
    page.get_by_label("Status").select_option("failed")
    expect(page.get_by_role("link", name="acme/api", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="acme/web", exact=True)).to_be_visible()


def test_it_opens_a_build_with_its_manifest(page: Any) -> None:
    # given a succeeded build whose manifest holds a secret
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    # when its page is opened from the pipeline overview
    page.goto(f"{page.base_url}/pipelines/github.com/acme/api/overview")
    page.get_by_role("link", name=re.compile(re.escape(build.build_version))).first.click()
    page.wait_for_url(re.compile(rf"/builds/{build.pk}"))
    # then the manifest tab shows the manifest with the secret masked
    page.get_by_role("tab", name="Manifest").click()
    manifest = page.get_by_text("python -m pytest")
    expect(manifest.first).to_be_visible()
    expect(page.get_by_text("estafette.secret(")).to_have_count(0)


def test_it_cancels_a_running_build(page: Any) -> None:
    # given a running build
    build = make_build(make_pipeline("api"), status=RunStatus.RUNNING)
    page.goto(f"{page.base_url}/pipelines/github.com/acme/api/builds/{build.pk}")
    # when the operator cancels it
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Cancel build {build.build_version}").click()
    # then the build is canceling and the page says so
    expect(page.get_by_text(re.compile("cancel(ing|ed)", re.IGNORECASE)).first).to_be_visible()
    build.refresh_from_db()
    assert build.status in {RunStatus.CANCELING, RunStatus.CANCELED}
    # and the audit trail holds that one change, by the operator, from the browser's address
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.object_id) == (
        "operator@example.com",
        "ci.builds.cancel",
        f"github.com/acme/api/{build.pk}",
    )


def test_it_starts_a_release_of_a_succeeded_build(page: Any) -> None:
    # given a succeeded build of a pipeline with a production target that has actions
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    page.goto(f"{page.base_url}/pipelines/github.com/acme/api/overview")
    # when the operator releases it to production with the deploy action
    page.get_by_text("Release…", exact=True).first.click()
    page.get_by_label("Release target", exact=True).select_option("production")
    page.get_by_label("Release action", exact=True).select_option("deploy")
    page.get_by_role("button", name=f"Release {build.build_version}", exact=True).click()
    # then the overview shows that version on production/deploy, and the release exists
    row = page.get_by_role("row", name=re.compile(rf"production\s+deploy\s+{re.escape(build.build_version)}"))
    expect(row).to_be_visible()
    release = Release.objects.get()
    assert (release.name, release.action, release.release_version) == ("production", "deploy", build.build_version)
    assert Build.objects.count() == 1
    assert [(e.action, e.actor) for e in AuditEntry.objects.all()] == [("ci.releases.create", "operator@example.com")]


def test_it_opens_and_cancels_a_bot_run_from_the_pipelines_bots_tab(page: Any) -> None:
    # given a pending run of the pipeline's bot
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    bot = bot_create(pipeline=build.pipeline, name="tidy")
    # when the operator opens it from the pipeline's Bots tab
    page.goto(f"{page.base_url}/pipelines/github.com/acme/api/overview")
    page.get_by_role("navigation", name="Pipeline").get_by_role("link", name="Bots").click()
    page.get_by_role("link", name="tidy", exact=True).click()
    page.wait_for_url(re.compile(rf"/bots/{bot.pk}$"))
    # then its page shows it, without a manifest of its own
    expect(page.get_by_role("heading", name="Bot tidy")).to_be_visible()
    expect(page.get_by_role("tab", name="Triggered by")).to_be_visible()
    expect(page.get_by_role("tab", name="Manifest")).to_have_count(0)
    # and when the operator cancels it, it is canceled
    page.get_by_role("button", name="Cancel bot tidy").click()
    expect(page.get_by_text(re.compile("cancel(ing|ed)", re.IGNORECASE)).first).to_be_visible()
    assert BotRun.objects.get(pk=bot.pk).status in {RunStatus.CANCELING, RunStatus.CANCELED}
    assert [e.action for e in AuditEntry.objects.all()] == ["ci.bots.cancel"]
    # (the page's live tail must close before the test database goes)
    wait_until(lambda: hub.open_tails == 0, timeout=15, what="the page's live tail to close")


def test_it_shows_a_new_log_line_live(page: Any) -> None:
    # given a running build whose builder reported the first line of its build stage
    build = make_build(make_pipeline("api"), status=RunStatus.RUNNING)
    builder = DjangoBuilderApi(base_url=page.base_url, run=build)
    report_lines(builder, seq=1, texts=["compiling 12 modules"], status="RUNNING")
    log_reads: list[str] = []
    page.on("request", lambda request: log_reads.append(request.url) if request.url.endswith("/logs") else None)
    with page.expect_request(re.compile(rf"/builds/{build.pk}/logs\.stream$")):
        page.goto(f"{page.base_url}/pipelines/github.com/acme/api/builds/{build.pk}")
    expect(page.get_by_text("compiling 12 modules")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    reads_before = len(log_reads)
    try:
        # when the builder reports a new line, after the page is open
        report_lines(builder, seq=2, texts=["all 42 tests passed"], first_line=2)
        # then the log viewer shows it within a few seconds, through the live tail: no reload, no re-read of the log
        expect(page.get_by_text("all 42 tests passed")).to_be_visible(timeout=5_000)
        assert page.evaluate("window.__sameDocument") is True
        assert len(log_reads) == reads_before
        # and when the build finishes, the tail closes and the page shows the outcome
        expect(page.get_by_text("succeeded", exact=True)).to_have_count(0)
        build_finish(build=build, status=RunStatus.SUCCEEDED)
        expect(page.get_by_text("succeeded", exact=True).first).to_be_visible()
    finally:
        # the tail must close before the test database goes
        build.refresh_from_db()
        if build.status == RunStatus.RUNNING:
            build_finish(build=build, status=RunStatus.FAILED)
        wait_until(lambda: hub.open_tails == 0, timeout=15, what="the page's live tail to close")


def report_lines(
    builder: DjangoBuilderApi, *, seq: int, texts: list[str], first_line: int = 1, status: str | None = None
) -> None:
    """POST one log batch of the build stage to the builder endpoint with the build's job token, as the builder does."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    lines = [TailLogLine(step="build", status=status)] if status else []
    lines += [
        TailLogLine(step="build", log_line=LogLine(line=first_line + i, timestamp=now, stream_type="stdout", text=text))
        for i, text in enumerate(texts)
    ]
    batch = LogBatch(seq=seq, lines=tuple(lines), attempt="e2e")
    request = urllib.request.Request(
        builder.logs_url,
        data=json.dumps(batch.to_dict()).encode(),
        headers={"Authorization": f"Bearer {builder.job_token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201, 202, 204)
