from django.urls import path

from runs import api, hints_views, search_views

# Included under api/: runs.callbacks.callback_urls gives the same paths to jobs.
BUILDER = "builder/v1/<str:kind>/<int:run_id>"

urlpatterns = [
    path(f"{BUILDER}/status", api.BuilderStatusApi.as_view(), name="builder-status"),
    path(f"{BUILDER}/logs", api.BuilderLogsApi.as_view(), name="builder-logs"),
    path(f"{BUILDER}/end", api.BuilderEndApi.as_view(), name="builder-end"),
    path(
        "pipelines/<str:source>/<str:owner>/<str:name>/stats/hints",
        hints_views.PipelineHintsApi.as_view(),
        name="pipeline-stats-hints",
    ),
    path("logs/search", search_views.LogSearchApi.as_view(), name="logs-search"),
]
