from releases import api
from releases.models import BotRun, Release
from runs.registry import run_kind
from runs.views import run_urlpatterns

urlpatterns = [
    *run_urlpatterns(run_kind(Release.kind), pipeline_runs=api.PipelineReleasesApi),
    *run_urlpatterns(run_kind(BotRun.kind), pipeline_runs=api.PipelineBotRunsApi),
]
