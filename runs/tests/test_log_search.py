"""The log search (``runs.log_search``, ``GET /api/logs/search``): lines are indexed as they are stored, found by words,
phrases and qualifiers, and unfound once their log is pruned. Runs on each database's own index (SQLite FTS5,
PostgreSQL's and the CockroachDB backend's ``tsvector``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from builds.models import Build
from builds.testing import make_build, make_pipeline
from estafette.lib.errors import BadRequest
from estafette.testing import client_for, make_user
from pipelines.models import Pipeline
from releases.testing import make_release
from runs.log_search import LogQuery, parse_log_query
from runs.models import LogRecord, LogSearchLine, RunStatus
from runs.services import log_append, log_record_create
from runs.testing import output_line

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def logged(run: Any, lines: list[str], *, step: str = "build", days_ago: int = 0, kind: str = "build") -> LogRecord:
    record = log_record_create(
        pipeline=run.pipeline, run_kind=kind, run_id=run.pk, now=timezone.now() - timedelta(days=days_ago)
    )
    log_append(
        record=record,
        seq=1,
        lines=[output_line(step, text, number) for number, text in enumerate(lines, start=1)],
        now=timezone.now() - timedelta(days=days_ago),
    )
    return record


def search(q: str, *, client: Any = None, **params: str) -> Any:
    admin = get_user_model().objects.filter(username="admin").first() or make_user("admin", staff=True)
    client = client or client_for(admin)
    return client.get(reverse("logs-search"), {"q": q, **params})


def found(q: str, **params: str) -> list[tuple[str, int]]:
    response = search(q, **params)
    assert response.status_code == 200, response.json()
    return [(item["text"], item["line"]) for item in response.json()["items"]]


# -- the query language --------------------------------------------------------------------------------


def test_it_reads_words_phrases_and_qualifiers() -> None:
    query = parse_log_query(
        'timeout "connection refused" pipeline:acme/api branch:"feature x" status:failed,canceled since:7d',
        now=NOW,
    )
    assert query == LogQuery(
        terms=("timeout", "connection refused"),
        pipelines=("acme/api",),
        branches=("feature x",),
        statuses=frozenset({"failed", "canceled"}),
        since=NOW - timedelta(days=7),
    )


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("12h", NOW - timedelta(hours=12)),
        ("1m", NOW - timedelta(days=31)),
        ("2026-02-01", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01T10:00:00+02:00", datetime(2026, 2, 1, 8, tzinfo=UTC)),
    ],
)
def test_since_takes_ages_and_dates_in_utc_unless_zoned(since: str, expected: datetime) -> None:
    assert parse_log_query(f"oops since:{since}", now=NOW).since == expected


@pytest.mark.parametrize(
    ("q", "says"),
    [
        ("", "at least one word"),
        ("status:failed", "at least one word"),
        ('"unclosed phrase', "unclosed quote"),
        ('half"quoted"', "quote inside"),
        ("error:timeout", "unknown qualifier 'error'"),
        ("oops status:exploded", "status: takes pending"),
        ("oops since:yesterday", "since: takes an age"),
        ("oops since:1d since:2d", "since: once"),
        ("oops branch:", "branch: needs a value"),
        ("*** ---", "no letter or digit"),
        (" ".join(f"w{n}" for n in range(11)), "at most 10 words"),
        ("x" * 501, "at most 500 characters"),
        ("nul\x00byte", "NUL"),
    ],
)
def test_bad_syntax_is_a_clear_400(q: str, says: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_log_query(q, now=NOW)
    assert says in str(refused.value)


@pytest.mark.django_db
def test_a_malformed_query_is_a_400_with_code_and_message() -> None:
    response = search('"oops')
    assert response.status_code == 400
    assert response.json()["code"] == "Bad Request"
    assert "unclosed quote" in response.json()["message"]
    assert search("oops", **{"page[size]": "1000"}).status_code == 400
    assert "pipeline: takes" in search("oops pipeline:a/b/c/d").json()["message"]


# -- finding lines ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lines_are_found_by_word_and_phrase_as_soon_as_they_are_stored() -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.FAILED)
    logged(build, ["compiling", "ERROR: connection refused by db:5432", "refused connection twice", "done"])

    assert found("refused") == [("refused connection twice", 3), ("ERROR: connection refused by db:5432", 2)]
    assert found('"connection refused"') == [("ERROR: connection refused by db:5432", 2)]
    assert found("Connection TWICE") == [("refused connection twice", 3)]  # every word, any case, any order
    assert found("nothing-like-this") == []


@pytest.mark.django_db
def test_a_hit_names_its_run_step_and_line_and_links_to_the_line() -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.FAILED)
    record = logged(build, ["first", "needle here"], step="test")

    item = search("needle").json()["items"][0]

    step_id = LogSearchLine.objects.get(record=record, line=2).step_id
    assert item == {
        "repoSource": "github.com",
        "repoOwner": "acme",
        "repoName": "api",
        "runKind": "build",
        "runId": str(build.pk),
        "logId": str(record.pk),
        "attempt": 1,
        "step": "test",
        "parentStage": "",
        "stepId": str(step_id),
        "line": 2,
        "text": "needle here",
        "insertedAt": item["insertedAt"],
        "link": f"/pipelines/github.com/acme/api/builds/{build.pk}/logs#step=test&line=2",
    }


@pytest.mark.django_db
def test_qualifiers_narrow_by_pipeline_branch_status_and_time() -> None:
    api, web = make_pipeline("api"), make_pipeline("web", owner="other")
    failed_main = make_build(api, status=RunStatus.FAILED, branch="main")
    passed_feature = make_build(api, status=RunStatus.SUCCEEDED, branch="feature")
    on_web = make_build(web, status=RunStatus.FAILED, branch="main")
    logged(failed_main, ["flaky test A"])
    logged(passed_feature, ["flaky test B"])
    logged(on_web, ["flaky test C"], days_ago=10)
    release = make_release(
        make_build(api, status=RunStatus.SUCCEEDED, branch="main"), "production", action="deploy", status="failed"
    )
    logged(release, ["flaky deploy D"], kind="release")

    def texts(q: str) -> list[str]:
        return sorted(text for text, _ in found(q))

    assert texts("flaky") == ["flaky deploy D", "flaky test A", "flaky test B", "flaky test C"]
    assert texts("flaky pipeline:api") == ["flaky deploy D", "flaky test A", "flaky test B"]
    assert texts("flaky pipeline:other/web") == ["flaky test C"]
    assert texts("flaky pipeline:github.com/acme/api pipeline:web") == texts("flaky")
    assert texts("flaky branch:main") == ["flaky deploy D", "flaky test A", "flaky test C"]  # a release: its build's
    assert texts("flaky status:succeeded") == ["flaky test B"]
    assert texts("flaky status:failed branch:main pipeline:api") == ["flaky deploy D", "flaky test A"]
    assert texts("flaky since:5d") == ["flaky deploy D", "flaky test A", "flaky test B"]
    assert texts("flaky pipeline:nope") == []


@pytest.mark.django_db
def test_text_that_looks_like_index_syntax_is_searched_as_words() -> None:
    build = make_build(make_pipeline("api"))
    logged(build, ['he said "OR" NEAR the end*', "or near the end", "text: column"])

    assert found('"OR NEAR"') == [("or near the end", 2), ('he said "OR" NEAR the end*', 1)]
    assert found('"end*"') == [("or near the end", 2), ('he said "OR" NEAR the end*', 1)]
    assert found('"text: column"') == [("text: column", 3)]
    assert found("NOT") == []


@pytest.mark.django_db
def test_pages_are_newest_first_and_say_whether_more_follow() -> None:
    build = make_build(make_pipeline("api"))
    logged(build, [f"match {n}" for n in range(5)])

    first = search("match", **{"page[size]": "2"}).json()
    last = search("match", **{"page[size]": "2", "page[number]": "3"}).json()

    assert [item["line"] for item in first["items"]] == [5, 4]
    assert first["pagination"] == {"page": 1, "size": 2, "hasMore": True}
    assert [item["line"] for item in last["items"]] == [1]
    assert last["pagination"]["hasMore"] is False


# -- consistency with the log store -----------------------------------------------------------------------


@pytest.mark.django_db
def test_pruned_logs_are_no_longer_found_and_leave_nothing_in_the_index() -> None:
    old_build, new_build = make_build(make_pipeline("api")), make_build(make_pipeline("api"))
    old = logged(old_build, ["stale needle"], days_ago=100)
    logged(new_build, ["fresh needle"], days_ago=1)

    call_command("prune_logs", "--older-than", "90d", stdout=StringIO(), stderr=StringIO())

    assert found("needle") == [("fresh needle", 1)]
    assert not LogSearchLine.objects.filter(record_id=old.pk).exists()
    assert index_rows() == LogSearchLine.objects.count() == 1


@pytest.mark.django_db
def test_a_deleted_pipeline_takes_its_lines_and_their_index_entries_with_it() -> None:
    gone, kept = make_pipeline("gone"), make_pipeline("kept")
    logged(make_build(gone), ["needle gone"])
    logged(make_build(kept), ["needle kept"])

    Build.objects.filter(pipeline=gone).delete()
    Pipeline.objects.filter(pk=gone.pk).delete()

    assert found("needle") == [("needle kept", 1)]
    assert index_rows() == LogSearchLine.objects.count() == 1


@pytest.mark.django_db
def test_a_resent_batch_is_indexed_once() -> None:
    build = make_build(make_pipeline("api"))
    record = log_record_create(pipeline=build.pipeline, run_kind="build", run_id=build.pk)
    lines = [output_line("build", "only once")]
    assert log_append(record=record, seq=1, lines=lines)
    assert not log_append(record=record, seq=1, lines=lines)
    assert found("once") == [("only once", 1)]


def index_rows() -> int:
    """Entries in the database's own index (not the table): proves the index follows deletions."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # An external-content FTS5 table answers from its index for MATCH; count the indexed documents.
            cursor.execute("SELECT count(*) FROM runs_logline_fts WHERE runs_logline_fts MATCH 'needle'")
        else:
            cursor.execute(
                "SELECT count(*) FROM runs_logline WHERE search_vector @@ phraseto_tsquery('simple', 'needle')"
            )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db
@pytest.mark.parametrize("rare_below", [1, 5_000])
def test_common_and_rare_terms_both_come_newest_first(monkeypatch: pytest.MonkeyPatch, rare_below: int) -> None:
    # PostgreSQL orders a rare term's lines after the index found them and a common one's along the key: same answer
    monkeypatch.setattr("runs.log_search.RARE_BELOW", rare_below)
    build = make_build(make_pipeline("api"))
    logged(build, [f"match {n}" for n in range(4)])
    assert [line for _, line in found("match", **{"page[size]": "3"})] == [4, 3, 2]
