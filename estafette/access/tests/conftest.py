from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from builds.models import Build
from builds.testing import make_build, make_pipeline
from estafette.access import roles
from estafette.access.models import Group, Organization
from estafette.access.services import account_of
from estafette.testing import make_user
from runs.models import RunStatus


@dataclass
class Team:
    """A pipeline of team A (and organization acme), its succeeded build, and people around it."""

    build: Build
    operator: Any  # group.pipelines.operator in team-a
    outsider: Any  # group.pipelines.operator in team-b
    nobody: Any  # signed in, no role
    organization: Organization
    team_a: Group
    team_b: Group


@pytest.fixture
def team(db: Any) -> Team:
    organization = Organization.objects.create(name="acme")
    team_a = Group.objects.create(name="team-a", roles=[roles.GROUP_PIPELINES_OPERATOR])
    team_b = Group.objects.create(name="team-b", roles=[roles.GROUP_PIPELINES_OPERATOR])
    pipeline = make_pipeline("api")
    pipeline.groups.set([team_a])
    pipeline.organizations.set([organization])
    build = make_build(pipeline, status=RunStatus.SUCCEEDED)
    operator, outsider, nobody = make_user("olga"), make_user("otto"), make_user("nina")
    account_of(operator).groups.set([team_a])
    account_of(outsider).groups.set([team_b])
    return Team(build, operator, outsider, nobody, organization, team_a, team_b)
