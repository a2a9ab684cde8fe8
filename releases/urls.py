from django.urls import path

from releases import api, insights_views
from releases.models import BotRun, Release
from runs.registry import run_kind
from runs.views import PIPELINE, run_urlpatterns

urlpatterns = [
    path("insights/dora", insights_views.DoraApi.as_view(), name="insights-dora"),
    path("releasetargets/releases", api.ReleaseTargetsOfReleasesApi.as_view(), name="release-targets-releases"),
    path(f"{PIPELINE}/botnames", api.PipelineBotNamesApi.as_view(), name="pipeline-bot-names"),
    *run_urlpatterns(run_kind(Release.kind), pipeline_runs=api.PipelineReleasesApi),
    *run_urlpatterns(run_kind(BotRun.kind), pipeline_runs=api.PipelineBotRunsApi),
]
