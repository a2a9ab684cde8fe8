"""Attacks on ``GET /api/logs/search``: reading the logs of pipelines one may not see, smuggling index or SQL syntax
through ``q``, finding a masked secret by its value, and searching without signing in."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from builder.contracts import TailLogLine
from builder.secrets import Masker
from builds.testing import make_build, make_pipeline
from estafette.access import roles
from estafette.access.models import Group
from estafette.access.services import account_of
from estafette.testing import client_for, make_user
from runs.logs import log_entries
from runs.models import LogSearchLine, RunStatus
from runs.services import log_append, log_append_entries, log_record_create
from runs.testing import output_line


def logged(pipeline_name: str, texts: list[str]) -> Any:
    build = make_build(make_pipeline(pipeline_name), status=RunStatus.FAILED)
    record = log_record_create(pipeline=build.pipeline, run_kind="build", run_id=build.pk)
    log_append(record=record, seq=1, lines=[output_line("build", text, n) for n, text in enumerate(texts, start=1)])
    return build


def texts(client: Any, q: str) -> list[str]:
    response = client.get(reverse("logs-search"), {"q": q})
    assert response.status_code == 200, response.content
    return sorted(item["text"] for item in response.json()["items"])


@pytest.mark.django_db
def test_a_search_never_shows_lines_of_pipelines_the_caller_may_not_see() -> None:
    # given team A's pipeline and team B's, each with a line containing the same word, and a member of team B
    team_a = Group.objects.create(name="team-a", roles=[roles.GROUP_PIPELINES_OPERATOR])
    team_b = Group.objects.create(name="team-b", roles=[roles.GROUP_PIPELINES_OPERATOR])
    logged("secret-project", ["password reset token printed"]).pipeline.groups.set([team_a])
    logged("public-project", ["password reset done"]).pipeline.groups.set([team_b])
    member_b = make_user("bea")
    account_of(member_b).groups.set([team_b])

    # when B searches, also naming A's pipeline outright
    mine = texts(client_for(member_b), "password")
    named = texts(client_for(member_b), "password pipeline:secret-project")

    # then B sees only B's line; an administrator sees both
    assert mine == ["password reset done"]
    assert named == []
    assert texts(client_for(make_user("root", staff=True)), "password") == [
        "password reset done",
        "password reset token printed",
    ]


@pytest.mark.django_db
def test_an_anonymous_caller_cannot_search() -> None:
    logged("api", ["anything"])
    response = client_for(None).get(reverse("logs-search"), {"q": "anything"})
    assert response.status_code in (401, 403)
    assert "anything" not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "q",
    [
        '"x" OR "y"',  # FTS5 boolean operators inside a phrase
        "NEAR(x y)",  # FTS5 NEAR group
        'text:"x"',  # FTS5 column filter (refused as an unknown qualifier)
        "x*",  # FTS5 prefix
        "-x",  # FTS5/tsquery negation
        "x & !y | z",  # tsquery operators
        "x <-> y",  # tsquery phrase operator
        "'); DROP TABLE runs_logline; --",  # SQL
        "x' OR '1'='1",
        '"a""b"',  # a doubled quote
        "^x",  # FTS5 initial-token
    ],
)
def test_index_and_sql_syntax_in_q_is_searched_as_words_or_refused_never_run(q: str) -> None:
    # given lines only one of which contains x and y as words
    logged("api", ["x and y", "nothing here", "z"])
    client = client_for(make_user("root", staff=True))

    # when
    response = client.get(reverse("logs-search"), {"q": q})

    # then the query is refused with a reason, or it matched literally: never a 500, never a match of everything
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        found = [item["text"] for item in response.json()["items"]]
        assert "nothing here" not in found
    else:
        assert response.json()["code"] == "Bad Request"
    assert LogSearchLine.objects.count() == 3  # the table is still there


@pytest.mark.django_db
def test_a_masked_secret_cannot_be_found_by_its_value() -> None:
    # given a line a builder let a secret through in, masked by the API as it is stored
    build = make_build(make_pipeline("api"), status=RunStatus.RUNNING)
    record = log_record_create(pipeline=build.pipeline, run_kind="build", run_id=build.pk)
    secret = "s3cr3tvalue"
    lines = [TailLogLine(step="build", log_line=output_line("build", f"token={secret} used").log_line)]
    log_append_entries(record=record, seq=1, entries=log_entries(lines, Masker([secret])))

    # when someone searches for the value
    client = client_for(make_user("root", staff=True))

    # then it is not in the index; the masked line is found by its other words
    assert texts(client, secret) == []
    assert texts(client, "used") == ["token=*** used"]
