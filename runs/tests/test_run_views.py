"""The run views every kind shares (``runs.views``): the same routes, answers and refusals for builds, releases and bot
runs, each in its kind's words (its segment, its serializer, its log document's ``<kind>ID``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user, response_json
from pipelines.models import Pipeline
from releases.services import bot_create, bot_start
from releases.testing import make_release
from runs.models import RunStatus
from runs.registry import RunKind, run_kind, run_kinds
from runs.services import log_append, log_record_create
from runs.testing import output_line

PIPELINE = {"source": "github.com", "owner": "acme", "name": "api"}


def running_build(pipeline: Pipeline) -> Any:
    return make_build(pipeline, status=RunStatus.RUNNING)


def running_release(pipeline: Pipeline) -> Any:
    return make_release(make_build(pipeline, status=RunStatus.SUCCEEDED), "staging", status=RunStatus.RUNNING)


def running_bot_run(pipeline: Pipeline) -> Any:
    make_build(pipeline, status=RunStatus.SUCCEEDED)
    run = bot_create(pipeline=pipeline, name="tidy")
    assert bot_start(bot_run=run)
    return run


# Each kind's running run, made through its own services; a kind without one here fails the first test.
RUNNING: dict[str, Callable[[Pipeline], Any]] = {
    "build": running_build,
    "release": running_release,
    "bot": running_bot_run,
}


@pytest.fixture
def client() -> Any:
    return client_for(make_user(staff=True))


def test_every_registered_kind_is_exercised_here() -> None:
    assert sorted(RUNNING) == sorted(kind.name for kind in run_kinds())


def one(kind: RunKind, route: str = "", **more: Any) -> str:
    name = f"pipeline-{kind.name}{route}"
    return reverse(name, kwargs={**PIPELINE, f"{kind.name}_id": more.pop("run_id"), **more})


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(RUNNING))
def test_every_kind_lists_shows_logs_and_cancels_its_runs_alike(client: Any, name: str) -> None:
    # given a running run of the kind with a log, and one of another pipeline
    kind = run_kind(name)
    run = RUNNING[name](make_pipeline("api"))
    RUNNING[name](make_pipeline("web"))
    record = log_record_create(pipeline=run.pipeline, run_kind=kind.name, run_id=run.pk)
    log_append(record=record, seq=1, lines=[output_line("main", "working")])

    # when
    everyone = client.get(reverse(kind.segment)).json()
    mine = client.get(reverse(f"pipeline-{kind.segment}", kwargs=PIPELINE)).json()
    shown = client.get(one(kind, run_id=run.pk)).json()
    log = response_json(client.get(one(kind, "-logs", run_id=run.pk)))
    canceled = client.delete(one(kind, run_id=run.pk))

    # then
    assert everyone["pagination"]["totalItems"] == 2
    assert [item["id"] for item in mine["items"]] == [str(run.pk)]
    assert shown["id"] == str(run.pk)
    assert shown[f"{name}Status"] == "running"
    assert (log["id"], log[f"{name}ID"], log["steps"][0]["logLines"][0]["text"]) == (
        str(record.pk),
        str(run.pk),
        "working",
    )
    assert (canceled.status_code, canceled.json()[f"{name}Status"]) == (200, "canceling")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(RUNNING))
def test_every_kind_refuses_alike_in_its_own_words(client: Any, name: str) -> None:
    kind = run_kind(name)
    run = RUNNING[name](make_pipeline("api"))
    other = RUNNING[name](make_pipeline("web"))
    label = kind.label

    no_logs = client.get(one(kind, "-logs", run_id=run.pk))
    elsewhere = client.get(one(kind, run_id=other.pk))
    not_a_key = client.get(one(kind, run_id="x"))
    unknown_filter = client.get(reverse(kind.segment) + "?filter[nope]=1")
    assert client.delete(one(kind, run_id=run.pk)).status_code == 200
    client.delete(one(kind, run_id=run.pk))  # canceling → canceled
    finished = client.delete(one(kind, run_id=run.pk))

    assert (no_logs.status_code, no_logs.json()["message"]) == (404, f"{label} {run.pk} has no logs yet")
    assert (elsewhere.status_code, elsewhere.json()["message"]) == (
        404,
        f"{label} {other.pk} not found in this pipeline",
    )
    assert not_a_key.status_code == 400
    assert unknown_filter.status_code == 400
    assert "filter[status]" in unknown_filter.json()["message"]
    assert finished.status_code == 409


@pytest.mark.django_db
@pytest.mark.parametrize("name", [kind.name for kind in run_kinds() if kind.log_attempt_routes])
def test_a_kind_with_attempt_routes_serves_each_attempts_log(client: Any, name: str) -> None:
    kind = run_kind(name)
    run = RUNNING[name](make_pipeline("api"))
    first = log_record_create(pipeline=run.pipeline, run_kind=kind.name, run_id=run.pk)
    log_append(record=first, seq=1, lines=[output_line("main", "one")])
    second = log_record_create(pipeline=run.pipeline, run_kind=kind.name, run_id=run.pk)

    page = client.get(one(kind, "-alllogs", run_id=run.pk)).json()
    second_page = client.get(one(kind, "-alllogs", run_id=run.pk) + "?page[size]=1&page[number]=2").json()
    earlier = response_json(client.get(one(kind, "-log-by-id", run_id=run.pk, log_id=first.pk)))

    # Estafette's paged envelope, oldest first (its web UI shows the last item as the latest attempt)
    records = page["items"]
    assert page["pagination"] == {"page": 1, "size": 20, "totalPages": 1, "totalItems": 2}
    assert [record["attempt"] for record in records] == [1, 2]
    assert [record["id"] for record in second_page["items"]] == [str(second.pk)]
    assert records[0][f"{kind.name}ID"] == str(run.pk)
    assert (records[0]["repoName"], records[0]["steps"]) == ("api", [])
    assert earlier["steps"][0]["logLines"][0]["text"] == "one"


@pytest.mark.django_db
def test_each_kinds_operations_keep_their_ids_in_the_openapi_document(client: Any) -> None:
    document = client.get("/api/schema/?format=json").json()
    operations = {op["operationId"] for item in document["paths"].values() for op in item.values()}

    for kind in run_kinds():
        expected = {f"{kind.segment}_list", f"pipeline_{kind.segment}_list"}
        expected |= {f"pipeline_{kind.name}_{suffix}" for suffix in ("get", "cancel", "logs", "log_stream", "log_tail")}
        if kind.log_attempt_routes:
            expected |= {f"pipeline_{kind.name}_all_logs", f"pipeline_{kind.name}_log_by_id"}
        assert expected <= operations, expected - operations


@pytest.mark.django_db
@pytest.mark.parametrize("name", [kind.name for kind in run_kinds()])
def test_every_kind_shows_trigger_events_and_pending_duration_as_estafette_names_them(client: Any, name: str) -> None:
    # given a started run of each kind
    kind = run_kind(name)
    run = RUNNING[name](make_pipeline("api"))

    # when its list and its own route are read
    listed = client.get(reverse(kind.segment)).json()["items"][0]
    shown = client.get(one(kind, run_id=run.pk)).json()

    # then the events are ``triggerEvents`` (contracts' JSON name) and the wait to start is ``pendingDuration``
    for body in (listed, shown):
        assert isinstance(body["triggerEvents"], list)
        assert "triggeredByEvents" not in body
        assert isinstance(body["pendingDuration"], int) and body["pendingDuration"] >= 0


@pytest.mark.django_db
@pytest.mark.parametrize("name", [kind.name for kind in run_kinds()])
def test_lists_take_the_query_estafettes_web_ui_sends(client: Any, name: str) -> None:
    # given a run of each kind
    kind = run_kind(name)
    RUNNING[name](make_pipeline("api"))
    lists = [reverse(kind.segment), reverse(f"pipeline-{kind.segment}", kwargs=PIPELINE)]

    # when asked with a repeated filter[since] (the UI's "my pipelines" sends it twice), empty filters, and filters
    # of Estafette's that this list does not take (Estafette ignores them)
    query = "?filter[since]=1w&filter[since]=1w&filter[search]=&filter[labels]=&filter[last]=10&filter[pipeline]=x"
    answers = [client.get(url + query) for url in lists]
    differing = client.get(lists[0] + "?filter[since]=1w&filter[since]=1d")

    # then each list answers as without them; two different values stay a 400 naming the filter
    assert [(answer.status_code, answer.json()["pagination"]["totalItems"]) for answer in answers] == [(200, 1)] * 2
    assert differing.status_code == 400
    assert "filter[since]" in differing.json()["message"]


@pytest.mark.django_db
def test_the_bot_runs_of_all_pipelines_take_filter_target_as_the_bot(client: Any) -> None:
    # given a run of the bot "tidy"
    running_bot_run(make_pipeline("api"))
    segment = run_kind("bot").segment

    # when Estafette's "all bots" page filters them by target
    tidy = client.get(reverse(segment) + "?filter[target]=tidy").json()["items"]
    other = client.get(reverse(segment) + "?filter[target]=renovate").json()["items"]
    every = client.get(reverse(segment) + "?filter[target]=all").json()["items"]

    # then the target is the bot's name; "all" is no filter
    assert [run["name"] for run in tidy] == ["tidy"]
    assert other == []
    assert [run["name"] for run in every] == ["tidy"]
