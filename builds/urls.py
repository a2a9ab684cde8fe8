from django.urls import path

from builds import api
from builds.models import Build
from runs.registry import run_kind
from runs.views import PIPELINE, run_urlpatterns

urlpatterns = [
    path(f"{PIPELINE}/recentbuilds", api.PipelineRecentBuildsApi.as_view(), name="pipeline-recent-builds"),
    path(f"{PIPELINE}/buildbranches", api.PipelineBuildBranchesApi.as_view(), name="pipeline-build-branches"),
    path(f"{PIPELINE}/warnings", api.PipelineWarningsApi.as_view(), name="pipeline-warnings"),
    path(
        f"{PIPELINE}/builds/<str:build_id>/warnings",
        api.PipelineBuildWarningsApi.as_view(),
        name="pipeline-build-warnings",
    ),
    path(
        f"{PIPELINE}/builds/<str:build_id>/replay",
        api.PipelineBuildReplayApi.as_view(),
        name="pipeline-build-replay",
    ),
    # Before the run routes: …/builds/version/logs is the build of version "logs", not the log of build "version".
    path(
        f"{PIPELINE}/builds/version/<str:version>",
        api.PipelineBuildByVersionApi.as_view(),
        name="pipeline-build-version",
    ),
    *run_urlpatterns(run_kind(Build.kind), pipeline_runs=api.PipelineBuildsApi),
]
