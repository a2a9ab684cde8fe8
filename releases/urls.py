from django.urls import path

from releases import api

PIPELINE = "pipelines/<str:source>/<str:owner>/<str:name>"

urlpatterns = [
    path("releases", api.ReleaseListApi.as_view(), name="releases"),
    path(f"{PIPELINE}/releases", api.PipelineReleasesApi.as_view(), name="pipeline-releases"),
    path(f"{PIPELINE}/releases/<str:release_id>", api.PipelineReleaseApi.as_view(), name="pipeline-release"),
    path(f"{PIPELINE}/releases/<str:release_id>/logs", api.ReleaseLogsApi.as_view(), name="pipeline-release-logs"),
    path(
        f"{PIPELINE}/releases/<str:release_id>/logs.stream",
        api.ReleaseLogStreamApi.as_view(),
        name="pipeline-release-tail",
    ),
    path(
        f"{PIPELINE}/releases/<str:release_id>/alllogs",
        api.ReleaseLogRecordsApi.as_view(),
        name="pipeline-release-alllogs",
    ),
    path(
        f"{PIPELINE}/releases/<str:release_id>/logsbyid/<str:log_id>",
        api.ReleaseLogByIdApi.as_view(),
        name="pipeline-release-log-by-id",
    ),
    path("bots", api.BotRunListApi.as_view(), name="bots"),
    path(f"{PIPELINE}/bots", api.PipelineBotRunsApi.as_view(), name="pipeline-bots"),
    path(f"{PIPELINE}/bots/<str:bot_id>", api.PipelineBotRunApi.as_view(), name="pipeline-bot"),
    path(f"{PIPELINE}/bots/<str:bot_id>/logs", api.BotRunLogsApi.as_view(), name="pipeline-bot-logs"),
    path(f"{PIPELINE}/bots/<str:bot_id>/logs.stream", api.BotRunLogStreamApi.as_view(), name="pipeline-bot-tail"),
]
