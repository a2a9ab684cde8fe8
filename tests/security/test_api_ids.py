"""Ids in URLs and queries: a Unicode digit or a number too long for a 64-bit column is a 400 (they were 500s:
``int("²")`` raises, and an overlong number overflows the database's BIGINT)."""

from __future__ import annotations

from typing import Any

import pytest

from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user

API = "/api/pipelines/github.com/acme/api"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        f"{API}/builds/²",
        f"{API}/releases/٣",
        f"{API}/bots/²/logs",
        f"{API}/builds/{'9' * 30}",
        f"{API}/releases/{'9' * 19}/alllogs",
        f"{API}/builds/BUILD/logsbyid/²",
        f"{API}/bots/BOT/logsbyid/{'9' * 25}",
        f"{API}/stats/buildsdurations?filter[last]=²",
    ],
)
def test_a_number_that_is_no_id_is_a_400(path: str, db: Any) -> None:
    build = make_build(make_pipeline("api"))
    client = client_for(make_user())
    answer = client.get(path.replace("BUILD", str(build.pk)).replace("BOT", "1"))
    assert answer.status_code in (400, 404), answer.content
    assert answer.json()["code"]
