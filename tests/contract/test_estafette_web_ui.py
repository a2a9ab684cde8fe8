"""The API contract suite: every route Estafette's web UI (estafette-ci-web, src/) calls that this server serves,
requested as the UI requests it (its query strings, repeated and empty filters included) against realistic data,
and the answer checked for the fields and types the UI reads (``estafette_shapes``).

Routes of the UI left out, and why: ``/api/users``, ``/groups``, ``/organizations``, ``/clients``, ``/roles``,
``/api/admin/*``, ``/api/auth/*`` and ``/api/me`` (accounts, another issue); the catalog's entities, users and groups
(``/api/catalog/entit*``, ``/users``, ``/groups``: not served yet);
``/api/bottargets/*`` and ``/api/labels/<type>`` (called by the UI, served by no Estafette either: dead links);
``/api/migrations`` and ``/api/migrations/{id}`` (SCM migration tasks: this server migrates nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from estafette.testing import response_json
from tests.contract import estafette_shapes as shapes
from tests.contract.conftest import World
from tests.contract.shapes import mismatches, page_of

STATUS_ALL = "filter[status]=all"
STATUS_RUNNING = "filter[status]=running&filter[status]=pending&filter[status]=canceling"
PAGE = "page[number]=1&page[size]=12"


@dataclass(frozen=True)
class Call:
    """One request of the UI (``where``: its source file) and the shape its answer must have."""

    where: str
    path: Callable[[World], str]
    shape: Any
    method: str = "get"
    body: Callable[[World], dict[str, Any]] | None = None
    status: int = 200
    nonempty: tuple[str, ...] = field(default=("items",))  # lists that must hold something, so the check bites


def _pipeline_lists() -> list[Call]:
    listed = page_of(shapes.PIPELINE)
    return [
        Call(
            "services/pipelineService.js",
            lambda w: f"/api/pipelines?{STATUS_ALL}&filter[since]=eternity&filter[search]=&filter[labels]=&{PAGE}",
            listed,
        ),
        Call(
            "components/MyPipelines.vue (recent committer)",
            lambda w: (
                f"/api/pipelines?filter[since]=1w&filter[since]=1w&filter[recent-committer]={w.email}&{PAGE}"
                "&sort=-last_updated_at,repo_source,repo_owner,repo_name"
            ),
            listed,
        ),
        Call(
            "components/MyPipelines.vue (recent releaser)",
            lambda w: (
                f"/api/pipelines?filter[since]=1w&filter[since]=1w&filter[recent-releaser]={w.email}&{PAGE}"
                "&sort=-last_updated_at,repo_source,repo_owner,repo_name"
            ),
            listed,
        ),
        Call(
            "views/AllPipelines.vue",
            lambda w: (
                f"/api/pipelines?{STATUS_RUNNING}&filter[since]=1d&filter[target]=production&filter[search]=api"
                f"&filter[labels]=team=ci&{PAGE}&sort=repo_source,repo_owner,repo_name"
            ),
            listed,
        ),
        Call(
            "views/CatalogServices.vue",
            lambda w: f"/api/pipelines?filter[labels]=team=ci&filter[since]=eternity&{PAGE}",
            listed,
        ),
        Call("views/PipelineDetails.vue", lambda w: w.url(), shapes.PIPELINE, nonempty=("releaseTargets",)),
    ]


def _build_calls() -> list[Call]:
    return [
        Call("views/PipelineOverview.vue", lambda w: w.url("/builds?page[size]=6"), page_of(shapes.BUILD)),
        Call(
            "views/PipelineBuilds.vue",
            lambda w: w.url(f"/builds?{STATUS_ALL}&filter[branch]=master&{PAGE}"),
            page_of(shapes.BUILD),
        ),
        Call(
            "components/BuildBranchFilter.vue",
            lambda w: w.url(f"/buildbranches?{STATUS_ALL}&filter[since]=1m&{PAGE}"),
            page_of(shapes.NAME_COUNT),
        ),
        Call(
            "views/PipelineBuildDetails.vue", lambda w: w.url(f"/builds/{w.build.pk}"), shapes.BUILD_DETAIL, nonempty=()
        ),
        Call(
            "services/pipelineService.js (by version)",
            lambda w: w.url(f"/builds/version/{w.build.build_version}"),
            shapes.BUILD_DETAIL,
            nonempty=(),
        ),
        Call(
            "components/PipelineBuildWarnings.vue",
            lambda w: w.url(f"/builds/{w.build.pk}/warnings"),
            shapes.WARNINGS,
            nonempty=("warnings",),
        ),
        Call("components/PipelineWarnings.vue", lambda w: w.url("/warnings"), shapes.WARNINGS, nonempty=()),
        Call(
            "views/PipelineBuildLogs.vue (alllogs)",
            lambda w: w.url(f"/builds/{w.build.pk}/alllogs"),
            page_of(shapes.log_record_of("buildID", build=True)),
        ),
        Call(
            "views/PipelineBuildLogs.vue (logs)",
            lambda w: w.url(f"/builds/{w.build.pk}/logs"),
            shapes.log_of("buildID", build=True),
            nonempty=("steps",),
        ),
        Call(
            "views/AllBuilds.vue",
            lambda w: f"/api/builds?{STATUS_ALL}&filter[since]=1w&filter[labels]=&{PAGE}&sort=-updated_at",
            page_of(shapes.BUILD),
        ),
        Call(
            "views/AllBuilds.vue (by repository)",
            lambda w: f"/api/builds?{STATUS_RUNNING}&filter[since]=1w&{PAGE}&sort=repo_source,repo_owner,repo_name",
            page_of(shapes.BUILD),
        ),
        Call(
            "components/RebuildButton.vue",
            lambda w: w.url("/builds"),
            shapes.BUILD_DETAIL,
            method="post",
            body=lambda w: {
                "repoSource": w.failed.pipeline.repo_source,
                "repoOwner": w.failed.pipeline.repo_owner,
                "repoName": w.failed.pipeline.repo_name,
                "buildVersion": w.failed.build_version,
                "buildStatus": "failed",
                "id": str(w.failed.pk),
            },
            status=201,
            nonempty=(),
        ),
        Call(
            "components/CancelButton.vue (build)",
            lambda w: w.url(f"/builds/{w.running.pk}"),
            shapes.BUILD,
            method="delete",
            nonempty=(),
        ),
    ]


def _release_calls() -> list[Call]:
    return [
        Call(
            "views/PipelineReleases.vue",
            lambda w: w.url(f"/releases?{STATUS_ALL}&filter[target]=production&{PAGE}"),
            page_of(shapes.RELEASE),
        ),
        Call(
            "views/PipelineReleaseDetails.vue",
            lambda w: w.url(f"/releases/{w.release.pk}"),
            shapes.RELEASE,
            nonempty=(),
        ),
        Call(
            "views/PipelineReleaseLogs.vue (alllogs)",
            lambda w: w.url(f"/releases/{w.release.pk}/alllogs"),
            page_of(shapes.log_record_of("releaseID")),
        ),
        Call(
            "views/PipelineReleaseLogs.vue (logs)",
            lambda w: w.url(f"/releases/{w.release.pk}/logs"),
            shapes.log_of("releaseID"),
            nonempty=("steps",),
        ),
        Call(
            "views/AllReleases.vue",
            lambda w: f"/api/releases?{STATUS_ALL}&filter[target]=all&filter[since]=1w&{PAGE}&sort=-updated_at",
            page_of(shapes.RELEASE),
        ),
        Call(
            "components/ReleaseTargetFilter.vue (pipelines)",
            lambda w: (
                f"/api/releasetargets/pipelines?{STATUS_ALL}&filter[since]=1w&filter[search]=&filter[labels]=&{PAGE}"
            ),
            page_of(shapes.NAME_COUNT),
        ),
        Call(
            "components/ReleaseTargetFilter.vue (releases)",
            lambda w: (
                f"/api/releasetargets/releases?{STATUS_ALL}&filter[since]=1w&filter[search]=&filter[labels]=&{PAGE}"
            ),
            page_of(shapes.NAME_COUNT),
        ),
        Call(
            "components/ReleaseButton.vue",
            lambda w: w.url("/releases"),
            shapes.RELEASE,
            method="post",
            body=lambda w: {
                "name": "staging",
                "action": "",
                "repoSource": w.pipeline.repo_source,
                "repoOwner": w.pipeline.repo_owner,
                "repoName": w.pipeline.repo_name,
                "releaseVersion": w.build.build_version,
            },
            status=201,
            nonempty=(),
        ),
    ]


def _bot_calls() -> list[Call]:
    return [
        Call(
            "views/PipelineBots.vue",
            lambda w: w.url(f"/bots?{STATUS_ALL}&filter[bot]=tidy&{PAGE}"),
            page_of(shapes.BOT),
        ),
        Call(
            "components/BotNameFilter.vue",
            lambda w: w.url(f"/botnames?{STATUS_ALL}&filter[since]=1m&{PAGE}"),
            page_of(shapes.NAME_COUNT),
        ),
        Call("views/PipelineBotDetails.vue", lambda w: w.url(f"/bots/{w.bot_run.pk}"), shapes.BOT, nonempty=()),
        Call(
            "views/PipelineBotLogs.vue (alllogs)",
            lambda w: w.url(f"/bots/{w.bot_run.pk}/alllogs"),
            page_of(shapes.log_record_of("botID")),
        ),
        Call(
            "views/PipelineBotLogs.vue (logs)",
            lambda w: w.url(f"/bots/{w.bot_run.pk}/logs"),
            shapes.log_of("botID"),
            nonempty=("steps",),
        ),
        Call(
            "views/AllBots.vue",
            lambda w: f"/api/bots?{STATUS_ALL}&filter[target]=all&filter[since]=1w&{PAGE}&sort=-updated_at",
            page_of(shapes.BOT),
        ),
        Call(
            "components/RerunButton.vue",
            lambda w: w.url("/bots"),
            shapes.BOT,
            method="post",
            body=lambda w: {
                "name": "tidy",
                "repoSource": w.pipeline.repo_source,
                "repoOwner": w.pipeline.repo_owner,
                "repoName": w.pipeline.repo_name,
                "botStatus": "succeeded",
            },
            status=201,
            nonempty=(),
        ),
    ]


def _stats_calls() -> list[Call]:
    calls = [
        Call(
            f"components/Stats{kind.capitalize()}Count.vue",
            lambda w, kind=kind: f"/api/stats/{kind}count?{STATUS_ALL}&filter[since]=1w",
            shapes.COUNT,
            nonempty=(),
        )
        for kind in ("pipelines", "builds", "releases", "bots")
    ]
    for kind in ("builds", "releases", "bots"):
        calls += [
            Call(
                "components/StatsAdoption.vue",
                lambda w, kind=kind: f"/api/stats/{kind}adoption",
                {"datetimes": [shapes.TIMESTAMP]},
                nonempty=("datetimes",),
            ),
            Call(
                "components/StatsPipelineRankingTable.vue",
                lambda w, kind=kind: f"/api/stats/most{kind}?filter[since]=1w&{PAGE}",
                page_of(shapes.RANKING),
            ),
            Call(
                "components/PipelineStatsTimeline.vue",
                lambda w, kind=kind: w.url(f"/stats/{kind}durations?filter[last]=25"),
                shapes.DURATIONS,
                nonempty=("durations",),
            ),
            Call(
                "components/PipelineStatsCpu.vue",
                lambda w, kind=kind: w.url(f"/stats/{kind}cpu?filter[last]=25"),
                shapes.MEASUREMENTS_CPU,
                nonempty=(),
            ),
            Call(
                "components/PipelineStatsMemory.vue",
                lambda w, kind=kind: w.url(f"/stats/{kind}memory?filter[last]=25"),
                shapes.MEASUREMENTS_MEMORY,
                nonempty=(),
            ),
        ]
    return calls


def _other_calls() -> list[Call]:
    return [
        Call(
            "components/FrequentLabels.vue",
            lambda w: f"/api/labels/frequent?{STATUS_ALL}&filter[since]=1w&filter[search]=&filter[labels]=&{PAGE}",
            page_of({"key": str, "value": str, "pipelinesCount": int}),
        ),
        Call(
            "views/CatalogServices.vue (filters)",
            lambda w: "/api/catalog/filters",
            [str],
            nonempty=(),
        ),
        Call(
            "views/CatalogServices.vue (filter values)",
            lambda w: "/api/catalog/filtervalues?filter[labels]=team",
            [{"key": str, "value": str, "pipelinesCount": int}],
            nonempty=(),
        ),
        Call("views/ConfigurationCredentials.vue", lambda w: "/api/config/credentials", shapes.CONFIG, nonempty=()),
        Call("views/ConfigurationTrustedImages.vue", lambda w: "/api/config/trustedimages", shapes.CONFIG, nonempty=()),
        Call("views/ConfigurationBuildControl.vue", lambda w: "/api/config/buildControl", shapes.CONFIG, nonempty=()),
        Call(
            "views/ManifestGenerator.vue (templates)",
            lambda w: "/api/manifest/templates",
            {"templates": [{"template": str, "placeholders": [str]}]},
            nonempty=("templates",),
        ),
        Call(
            "views/ManifestGenerator.vue (generate)",
            lambda w: "/api/manifest/generate",
            {"manifest": str},
            method="post",
            body=lambda w: {"template": "python", "placeholders": {"Application": "api", "Team": "ci"}},
            nonempty=(),
        ),
        Call(
            "views/ManifestValidator.vue",
            lambda w: "/api/manifest/validate",
            {"status": str, "errors": str},
            method="post",
            body=lambda w: {"manifest": "stages:\n  build:\n    image: alpine:3.20\n    commands: [true]\n"},
            nonempty=(),
        ),
        Call(
            "views/PipelineSecrets.vue",
            lambda w: "/api/manifest/encrypt",
            {"secret": str},
            method="post",
            body=lambda w: {
                "value": "s3cr3t",
                "base64": False,
                "double": False,
                "pipelineAllowList": "github.com/acme/api",
            },
            nonempty=(),
        ),
        Call(
            "components/MigrationNotice.vue",
            lambda w: f"/api/migrations/from/{w.pipeline.repo_source}/{w.pipeline.repo_owner}/{w.pipeline.repo_name}",
            {"code": str, "message": str},
            status=404,
            nonempty=(),
        ),
        Call(
            "views/PipelineReleaseDetails.vue (migration)",
            lambda w: f"/api/migrations/releases/{w.release.pk}",
            {"code": str, "message": str},
            status=404,
            nonempty=(),
        ),
    ]


CALLS = [*_pipeline_lists(), *_build_calls(), *_release_calls(), *_bot_calls(), *_stats_calls(), *_other_calls()]


@pytest.mark.django_db
@pytest.mark.parametrize("call", CALLS, ids=[f"{c.method.upper()} {c.where}" for c in CALLS])
def test_the_web_ui_reads_what_it_expects(world: World, call: Call) -> None:
    # given the installation of conftest.world, when the UI's request is made
    request = getattr(world.client, call.method)
    path = call.path(world)
    response = request(path, call.body(world), format="json") if call.body else request(path)

    # then it answers as Estafette does, with every field the UI reads in its type
    body = response_json(response)
    assert response.status_code == call.status, (path, body)
    assert mismatches(body, call.shape) == [], path
    if isinstance(body, list):
        assert body, f"{path}: the list is empty, so the shape of its items was not checked"
    for name in call.nonempty:
        assert body[name], f"{path}: {name} is empty, so the shape of its items was not checked"
