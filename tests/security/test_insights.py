"""Attacks on ``GET /api/insights/dora``: learning about the releases of pipelines one may not see (by listing, by
naming the pipeline, by a label only they carry), and reading the report without signing in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from builds.testing import make_build, make_pipeline
from estafette.access import roles
from estafette.access.models import Group
from estafette.access.services import account_of
from estafette.testing import client_for, make_user
from releases.testing import make_release
from runs.models import RunStatus


@pytest.mark.django_db
def test_the_report_counts_only_the_pipelines_the_caller_may_see() -> None:
    # given team A's pipeline with a production deployment, team B's without, and a member of team B
    team_a = Group.objects.create(name="team-a", roles=[roles.GROUP_PIPELINES_OPERATOR])
    team_b = Group.objects.create(name="team-b", roles=[roles.GROUP_PIPELINES_OPERATOR])
    hidden, shown = make_pipeline("hidden"), make_pipeline("shown")
    hidden.groups.set([team_a])
    shown.groups.set([team_b])
    at = datetime.now(UTC) - timedelta(days=1)
    build = make_build(hidden, status=RunStatus.SUCCEEDED)
    make_release(build, "production", action="deploy", status=RunStatus.SUCCEEDED, now=at, finished=at)
    member_b = make_user("bea")
    account_of(member_b).groups.set([team_b])
    client = client_for(member_b)

    # when B asks for everything, for A's pipeline by name and for A's labels
    everything = client.get(reverse("insights-dora")).json()
    named = client.get(reverse("insights-dora"), {"filter[pipeline]": "acme/hidden"}).json()
    labelled = client.get(reverse("insights-dora"), {"filter[labels]": "team=ci"}).json()

    # then nothing of A's deployment shows
    for body in (everything, named, labelled):
        assert body["overall"]["deploymentFrequency"]["deployments"] == 0
        assert body["pipelines"] == [] and body["labels"] == []
    administrator = client_for(make_user("root", staff=True)).get(reverse("insights-dora")).json()
    assert administrator["overall"]["deploymentFrequency"]["deployments"] == 1


@pytest.mark.django_db
def test_an_anonymous_caller_cannot_read_the_report() -> None:
    response = client_for(None).get(reverse("insights-dora"))
    assert response.status_code in (401, 403)


@pytest.mark.django_db
def test_an_anonymous_caller_cannot_read_a_pipelines_hints() -> None:
    make_pipeline("api")
    url = reverse("pipeline-stats-hints", kwargs={"source": "github.com", "owner": "acme", "name": "api"})
    assert client_for(None).get(url).status_code in (401, 403)
