"""The web UI names each pipeline's forge and links its repository and commits there, in headless Chromium: a
Bitbucket Cloud pipeline (``bitbucket.org/<workspace>/<slug>``, as the Bitbucket intake names it) links
``https://bitbucket.org/<workspace>/<slug>`` and its commits under ``…/commits/<id>``; a GitHub one under
``…/commit/<id>``."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from builds.testing import make_build, make_pipeline
from runs.models import RunStatus

REVISION = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
COMMITS = [{"message": "Add a stage", "author": {"email": "ann@example.com", "name": "Ann", "username": "ann"}}]


@pytest.mark.parametrize(
    ("source", "forge", "commit_path"),
    [("bitbucket.org", "Bitbucket", "commits"), ("github.com", "GitHub", "commit")],
)
def test_a_pipeline_names_its_forge_and_links_its_repository_and_commits(
    page: Any, source: str, forge: str, commit_path: str
) -> None:
    # given a build of a pipeline of that forge
    build = make_build(
        make_pipeline("api", owner="acme", source=source),
        status=RunStatus.SUCCEEDED,
        revision=REVISION,
        commits=COMMITS,
    )
    repository = f"https://{source}/acme/api"

    # when its page is opened, then the forge is named and links the repository
    page.goto(f"{page.base_url}/pipelines/{source}/acme/api/overview")
    expect(page.get_by_role("link", name=forge, exact=True)).to_have_attribute("href", repository)

    # and the build's revision links the commit on the forge, in the build list and on the build's page
    commit = f"{repository}/{commit_path}/{REVISION}"
    expect(page.locator(f'a[href="{commit}"]').first).to_be_visible()
    page.goto(f"{page.base_url}/pipelines/{source}/acme/api/builds/{build.pk}")
    link = page.get_by_title(f"{REVISION} on {forge}")
    expect(link).to_have_attribute("href", commit)
