"""Trigger matching runs on every push, start and finish (issue 17): an event that fires nothing costs one indexed
query, and the triggers of a candidate pipeline are built once per process, yet a changed trigger counts at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builder.manifest.events import Event
from builds.events import pipeline_event
from builds.models import Build
from integrations.git.testing import GitRepository, push
from runs.models import RunStatus
from triggers.services import triggers_match
from triggers.testing import settle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake")]


def manifest(trigger: str = "") -> str:
    return f"{trigger}stages:\n  build:\n    image: alpine\n"


def on_api(branch: str) -> str:
    return f"triggers:\n- pipeline:\n    name: local/acme/api\n    branch: {branch}\n"


def pipeline(tmp_path: Path, name: str, text: str) -> GitRepository:
    repository = GitRepository(tmp_path / "acme" / name)
    repository.commit({".estafette.yaml": text}, name)
    push(repository)
    settle()
    return repository


def change(repository: GitRepository, text: str) -> None:
    """A new commit of the manifest, built: the pipeline's read model now has its triggers."""
    repository.commit({".estafette.yaml": text}, "change the triggers")
    push(repository)
    settle()


def succeeded_build_of(name: str) -> Event:
    """The finished event of the pipeline's build, as if it succeeded (what a pipeline trigger listens to)."""
    build = Build.objects.select_related("pipeline").get(pipeline__repo_name=name)
    build.status = RunStatus.SUCCEEDED
    return pipeline_event(build, event="finished")


def fired_pipelines(event: Event, event_id: str) -> list[str]:
    return [message["pipeline"] for message in triggers_match(event=event, event_id=event_id)]


def test_an_event_that_fires_nothing_costs_one_query(tmp_path: Path) -> None:
    pipeline(tmp_path, "api", manifest())
    event = succeeded_build_of("api")

    with CaptureQueriesContext(connection) as queries:
        assert fired_pipelines(event, "event-1") == []

    assert len(queries) == 1, [query["sql"] for query in queries]


def test_a_new_or_changed_trigger_is_matched_at_once(tmp_path: Path) -> None:
    # given api built, and web listening to api's builds on main, matched once (its triggers now built and kept)
    pipeline(tmp_path, "api", manifest())
    api_build = succeeded_build_of("api")
    web = pipeline(tmp_path, "web", manifest(on_api("main")))
    assert fired_pipelines(api_build, "event-1") == ["local/acme/web"]

    # when web's trigger changes to another branch, it no longer fires
    change(web, manifest(on_api("release")))
    assert fired_pipelines(api_build, "event-2") == []

    # when it changes back, and a second pipeline gets the same trigger (the same list as web's first one)
    change(web, manifest(on_api("main")))
    pipeline(tmp_path, "docs", manifest(on_api("main")))
    assert sorted(fired_pipelines(api_build, "event-3")) == ["local/acme/docs", "local/acme/web"]

    # when web's triggers are removed, only docs fires
    change(web, manifest())
    assert fired_pipelines(api_build, "event-4") == ["local/acme/docs"]
