from django.urls import path

from builds import api

PIPELINE = "pipelines/<str:source>/<str:owner>/<str:name>"

urlpatterns = [
    path("builds", api.BuildListApi.as_view(), name="builds"),
    path(f"{PIPELINE}/builds", api.PipelineBuildsApi.as_view(), name="pipeline-builds"),
    path(f"{PIPELINE}/recentbuilds", api.PipelineRecentBuildsApi.as_view(), name="pipeline-recent-builds"),
    path(
        f"{PIPELINE}/builds/version/<str:version>",
        api.PipelineBuildByVersionApi.as_view(),
        name="pipeline-build-version",
    ),
    path(f"{PIPELINE}/builds/<str:revision_or_id>", api.PipelineBuildApi.as_view(), name="pipeline-build"),
    path(f"{PIPELINE}/builds/<str:build_id>/logs", api.BuildLogsApi.as_view(), name="pipeline-build-logs"),
    path(f"{PIPELINE}/builds/<str:build_id>/logs.stream", api.BuildLogStreamApi.as_view(), name="pipeline-build-tail"),
    path(f"{PIPELINE}/builds/<str:build_id>/alllogs", api.BuildLogRecordsApi.as_view(), name="pipeline-build-alllogs"),
    path(
        f"{PIPELINE}/builds/<str:build_id>/logsbyid/<str:log_id>",
        api.BuildLogByIdApi.as_view(),
        name="pipeline-build-log-by-id",
    ),
]
