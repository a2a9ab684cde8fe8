from django.urls import path

from pipelines.api import PipelineDetailApi, PipelineListApi
from pipelines.manifest_api import ManifestEncryptApi

urlpatterns = [
    path("pipelines", PipelineListApi.as_view(), name="pipelines"),
    path("pipelines/<str:source>/<str:owner>/<str:name>", PipelineDetailApi.as_view(), name="pipeline"),
    path("manifest/encrypt", ManifestEncryptApi.as_view(), name="manifest-encrypt"),
]
