"""The web UI against the real server in headless Chromium: the journeys an operator takes."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from builds.models import Build, RunStatus
from builds.testing import make_build, make_pipeline
from releases.models import Release


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
